"""Signed intake and consent forms (issue 26): what a patient answers and signs, kept as documents."""
