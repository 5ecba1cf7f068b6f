"""Bookings: appointments, rooms and clinicians' hours, and the conflict-safe booking every session kind uses."""
