"""Patients: demographics, contacts, care team, search and archiving."""
