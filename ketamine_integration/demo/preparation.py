"""Demo preparation sessions: each written up and signed by the therapist, as the checklist reads
them (a signed preparation note is a preparation session and documents the patient's intentions,
the set and setting plan and the support person: issue 20, point 10). Fictional throughout."""
from __future__ import annotations

from datetime import date

from ..notes import services as notes

#: what the first preparation session sets, and what a later one adds
FIRST = {"intentions": ["To feel less numb", "To be kinder to myself"],
         "expectations": "Curious; a little afraid of losing control",
         "concerns": "Nausea; what others will think",
         "psychoeducation": ["what_to_expect", "dissociation", "safety_monitoring", "set_and_setting"],
         "set_setting_plan": "Eyeshades, own playlist, a blanket; the therapist stays in the room",
         "support_person": "A friend (fictional) drives home and stays the evening",
         "readiness": "ready", "consent_questions_answered": "yes",
         "next_session_plan": "Review the intentions before the first dose"}
LATER = {**FIRST, "intentions": ["To feel less numb", "To be kinder to myself", "To sleep through the night"],
         "concerns": "Fewer worries now; nausea still", "next_session_plan": "First dosing session next"}


def sign_preparation_note(course, therapist, on: date, *, second: bool = False) -> None:
    """A preparation session of `course` on `on`, written and signed by `therapist` (through the services)."""
    note = notes.create_note(course, kind="preparation", session_date=on, by=therapist, today=on)
    notes.save_note(note, by=therapist, expected_version=note.version, today=on, session_date=on,
                    content=dict(LATER if second else FIRST), themes=[], new_steps=[], check_ins=[], dosing_ids=[])
    notes.sign_note(note, by=therapist, expected_version=note.version)
