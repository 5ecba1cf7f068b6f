"""The clinic's roles: their names and how pages name them (accounts grant them, access rules ask for them)."""
from __future__ import annotations

ADMIN, STAFF, THERAPIST, PRESCRIBER = "admin", "staff", "therapist", "prescriber"
#: Every role, in the order the UI lists them.
ROLES = (ADMIN, STAFF, THERAPIST, PRESCRIBER)
ROLE_LABELS = {
    ADMIN: "Clinic admin",
    STAFF: "Clinic staff",
    THERAPIST: "Integration therapist",
    PRESCRIBER: "Prescriber",
}
