"""Signed intake and consent forms: packets asked for at enrolment, signatures, countersignatures, flag reviews, withdrawals (issue 26)."""
