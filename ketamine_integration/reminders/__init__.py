"""Appointment reminders: each patient's consent per channel and the clinic's reminder rules."""
