"""Audit trail: one append-only row for every access to patient data and every login event."""
