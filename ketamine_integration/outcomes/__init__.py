"""Clinic outcomes: response, remission, windows, attendance and REMS forms across the clinic (issue 25, point 4)."""
