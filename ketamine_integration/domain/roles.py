"""The clinic's roles: their names and how pages name them (what each may do is in domain/permissions.py)."""
from __future__ import annotations

ADMIN, STAFF, THERAPIST, PRESCRIBER, NURSE = "admin", "staff", "therapist", "prescriber", "nurse"
#: Every role, in the order the UI lists them.
ROLES = (ADMIN, STAFF, THERAPIST, PRESCRIBER, NURSE)
ROLE_LABELS = {
    ADMIN: "Clinic admin",
    STAFF: "Clinic staff",
    THERAPIST: "Integration therapist",
    PRESCRIBER: "Prescriber",
    NURSE: "Nurse",
}
