"""The demo's safety plans (invented): the patient whose risk screen reported thoughts of self-harm has
a signed plan, reviewed with them at that session; the patient whose PHQ-9 raised an open alert has
none yet, so the alert's "write one" link shows."""
from __future__ import annotations

from datetime import date, datetime, time

from ..clinic_settings.contact import clinic_phone
from ..db.clinic_time import clinic_zone
from ..safety_plans import services as safety_plans
from ..safety_plans.models import NO_CHANGES

#: a plan in a patient's own words (invented); the phone numbers are the 555-01xx fictional range
PLAN = {
    "warning_signs": ["Lying awake past 2 a.m. two nights running", "Cancelling plans with friends",
                      "Thinking \"everyone would cope fine without me\""],
    "coping_strategies": ["Cold water on the face, then ten slow breaths", "Walk round the park with headphones",
                          "Write the thought down and the evidence against it"],
    "distractions": ["Coffee with Dana at the corner café", "The Saturday climbing group"],
    "help_contacts": [{"name": "Dana (friend)", "phone": "555-0142"}, {"name": "Brother, Eli", "phone": "555-0178"}],
    "means_safety": ["Partner keeps the sleeping tablets and hands out a week at a time"],
    "reasons_for_living": ["My niece's graduation in June", "The dog"],
}


def load_demo_safety_plan(course, reviewed_on: date) -> None:
    """A signed plan for the course's patient, written by the therapist and reviewed with the patient."""
    professionals = [{"name": "988 Suicide & Crisis Lifeline (call or text)", "phone": "988"}]
    if clinic_phone():
        professionals.append({"name": "The clinic", "phone": clinic_phone()})
    draft = safety_plans.save_draft(course.patient, content={**PLAN, "professionals": professionals},
                                    by=course.therapist, expected=0)
    # written and signed at that session: a review never predates the revision it reviews
    at_the_session = datetime.combine(reviewed_on, time(17), clinic_zone())
    draft.created_at = draft.updated_at = at_the_session
    safety_plans.sign(draft, by=course.therapist, now=at_the_session)
    safety_plans.record_review(course.patient, reviewed_on=reviewed_on, with_patient=True, changes=NO_CHANGES,
                               comment="Went through it together after the risk screen; numbers checked.",
                               by=course.therapist, today=reviewed_on)
