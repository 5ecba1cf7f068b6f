"""Scheduling: appointments (integration sessions first), booked inside dosing windows."""
