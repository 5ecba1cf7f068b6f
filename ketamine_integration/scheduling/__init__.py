"""Scheduling: integration sessions booked inside dosing windows, the worklist, calendar and
availability pages, auto-schedule (the booking core they use is bookings/)."""
