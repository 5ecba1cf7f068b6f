"""Busy times: a clinician's other calendar, uploaded as .ics, kept as when-only blocks that bookings avoid."""
