"""Demo only: a PHQ-9 a demo patient completed in the portal, through the same service the portal
calls (notes/patient_responses.py), two hours before the demo's `now`. The questionnaires due for
the other courses follow from their protocols' schedules and need nothing stored."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..notes.patient_responses import submit_patient_questionnaire
from ..notes.questionnaires import due_questionnaires
from ..patients.models import Patient

#: when the demo patient completed it, before `now`
COMPLETED_BEFORE = timedelta(hours=2)
#: the answers: mild (total 7), item 9 "Not at all" (no alert: the demo's alerts come from its clinicians' entries)
ANSWERS = ["1", "1", "2", "1", "0", "1", "1", "0", "0"]


def load_demo_questionnaires(now: datetime) -> int | None:
    """The first demo patient (by MRN) with a PHQ-9 open two hours ago completes it; their id (None: none open)."""
    at = now - COMPLETED_BEFORE
    for patient in db.session.scalars(select(Patient).order_by(Patient.mrn)):
        due = [q for q in due_questionnaires(patient, at) if q.measure.key == "phq9"]
        if due:
            submit_patient_questionnaire(patient, "phq9", ANSWERS, due[0].token, at, difficulty="somewhat")
            return patient.id
    return None
