"""Signed intake and consent forms (issue 26): packets asked for at enrolment, what a patient answers
and signs (kept as documents), countersignatures, flag reviews, withdrawals."""
