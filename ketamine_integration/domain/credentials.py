"""Clinical credentials (licence types) a user may hold, and how a name is shown with them."""
from __future__ import annotations

#: licence type -> what it is; the record, the REMS form and the coordination report name each
#: person with theirs ("A. Example, RN"). No licence type is a choice too (front-desk staff, admin).
LICENCE_TYPES = {
    "MD": "Doctor of Medicine",
    "DO": "Doctor of Osteopathic Medicine",
    "NP": "Nurse practitioner",
    "PA": "Physician assistant",
    "RN": "Registered nurse",
    "LPN": "Licensed practical nurse",
    "LCSW": "Licensed clinical social worker",
    "LMFT": "Licensed marriage and family therapist",
    "LPC": "Licensed professional counselor",
    "PhD": "Psychologist (PhD)",
    "PsyD": "Psychologist (PsyD)",
}


def display_name(full_name: str, licence_type: str | None = None, credentials: str | None = None) -> str:
    """How a user is named on pages, records and calendars: "Name, RN" or "Name, NP, PMHNP-BC"
    (the licence type, then any further credentials typed beside it, each once)."""
    shown = [licence_type] if licence_type else []
    shown += [part.strip() for part in (credentials or "").split(",")
              if part.strip() and part.strip().casefold() not in {s.casefold() for s in shown}]
    return ", ".join([full_name, *shown])
