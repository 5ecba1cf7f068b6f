"""The safety plan's sections and the rules a plan meets to be saved and to be signed (pure).

The structure follows the Safety Planning Intervention of Stanley and Brown (Stanley B, Brown GK.
Safety Planning Intervention: a brief intervention to mitigate suicide risk. Cognitive and
Behavioral Practice 2012;19(2):256-264): the patient's warning signs, what they can do on their
own, people and places that take their mind off things, people they can ask for help, professionals
and crisis lines, making the surroundings safer, and (optionally) their reasons for living. The
headings and hints here are our own words, not the published form's.

Content comes in as plain data (lists of strings, contact rows of name and phone) and goes out
cleaned, or with the problems by form field name, so the service and its tests need no app.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import is_written

#: one line of a list section, in characters
ITEM_MAX = 200
#: lines kept per list section
ITEMS_MAX = 12
#: a contact's name, in characters
NAME_MAX = 80
#: a phone number as written: digits, spaces, + ( ) - . and an extension ("x12" / "ext 12")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{3,25}((\s*(x|ext\.?)\s*)[0-9]{1,6})?$", re.IGNORECASE)
PHONE_MAX = 40


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    hint: str
    #: "list": one item a line; "contacts": rows of name and phone
    kind: str = "list"
    optional: bool = False


#: the sections in the order a plan is read in a crisis: notice, then cope alone, then others, then
#: professionals, then the surroundings
SECTIONS: tuple[Section, ...] = (
    Section("warning_signs", "1. Warning signs",
            "Thoughts, feelings, situations or behaviour that tell the patient a crisis may be coming. One a line."),
    Section("coping_strategies", "2. What I can do on my own",
            "Things the patient can do alone to take their mind off the problem or calm down. One a line."),
    Section("distractions", "3. People and places that take my mind off things",
            "People to be with and social settings to go to (not to talk about the crisis). One a line."),
    Section("help_contacts", "4. People I can ask for help", "Name and phone number of each.", kind="contacts"),
    Section("professionals", "5. Professionals and crisis lines",
            "Therapist, prescriber, the clinic, crisis lines (988 Suicide & Crisis Lifeline), emergency services: "
            "name and phone number.", kind="contacts"),
    Section("means_safety", "6. Making my surroundings safer",
            "What will be done to keep means of harm (medication, firearms, other) out of reach, and by whom. "
            "One a line."),
    Section("reasons_for_living", "Reasons for living (optional)",
            "What matters most to the patient and is worth living for, in their words. One a line.", optional=True),
)
BY_KEY = {s.key: s for s in SECTIONS}
LIST_SECTIONS = tuple(s.key for s in SECTIONS if s.kind == "list")
CONTACT_SECTIONS = tuple(s.key for s in SECTIONS if s.kind == "contacts")

#: the national crisis line a new plan's professionals start with (US; call or text, since July 2022)
LIFELINE = {"name": "988 Suicide & Crisis Lifeline (call or text)", "phone": "988"}


def lines(text: str | None) -> list[str]:
    """The non-empty lines of a textarea, stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def clean(content: dict) -> tuple[dict, dict[str, str]]:
    """The plan as it is kept ({list section: [str], contact section: [{name, phone}]}), and the
    problems by form field ("warning_signs", "help_contacts-0-phone"): what any save must meet."""
    kept, problems = {}, {}
    for key in LIST_SECTIONS:
        # a line with no letter or digit ("." or a zero-width space) says nothing, and would sign a plan
        items = [str(item).strip() for item in content.get(key) or [] if is_written(str(item))]
        if len(items) > ITEMS_MAX:
            problems[key] = f"Keep to {ITEMS_MAX} lines at most."
        elif any(len(item) > ITEM_MAX for item in items):
            problems[key] = f"Keep each line to {ITEM_MAX} characters at most."
        kept[key] = items
    for key in CONTACT_SECTIONS:
        kept[key] = []
        for i, row in enumerate(content.get(key) or []):
            contact, row_problems = _contact(row, f"{key}-{i}")
            problems.update(row_problems)
            if contact:
                kept[key].append(contact)
    return kept, problems


def _contact(row: dict, prefix: str) -> tuple[dict | None, dict[str, str]]:
    name, phone = (row.get("name") or "").strip(), (row.get("phone") or "").strip()
    if not name and not phone:
        return None, {}
    problems = {}
    if not is_written(name):
        problems[f"{prefix}-name"] = "Name who this number reaches."
    elif len(name) > NAME_MAX:
        problems[f"{prefix}-name"] = f"Keep the name to {NAME_MAX} characters at most."
    if not phone:
        problems[f"{prefix}-phone"] = "Give a phone number for this contact."
    elif len(phone) > PHONE_MAX or not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 3:
        problems[f"{prefix}-phone"] = "Write a phone number: digits, spaces, + ( ) - . and an extension (x12)."
    return {"name": name, "phone": phone}, problems


def signing_problems(plan: dict) -> dict[str, str]:
    """What a cleaned plan lacks to be signed: warning signs, something the patient can do (a coping
    strategy, a person or place, or a person to ask) and a professional or crisis line to call."""
    problems = {}
    if not plan.get("warning_signs"):
        problems["warning_signs"] = "A signed plan names at least one warning sign."
    if not any(plan.get(key) for key in ("coping_strategies", "distractions", "help_contacts")):
        problems["coping_strategies"] = ("A signed plan names at least one coping strategy, or a person or place "
                                         "(sections 2 to 4).")
    if not plan.get("professionals"):
        problems["professionals-0-name"] = "A signed plan names at least one professional or crisis line."
    return problems


def is_empty(plan: dict) -> bool:
    return not any(plan.get(key) for key in BY_KEY)
