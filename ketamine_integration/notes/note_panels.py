"""What an integration note's form shows beside its fields, read-only: what the patient kept and
wrote between sessions (practices, check-ins on action steps), the patient's open safety alerts, and
the techniques the previous signed note used (whose responses the form records)."""
from __future__ import annotations

from ..db.clinic_time import clinic_today
from ..practices.services import course_practice_summaries
from ..domain.plans import HOST_THEORIES, STAGES
from ..plans.services import current_stage
from . import patient_check_ins, plan_in_note, safety, technique_uses
from .models import SessionNote


def integration_panels(note: SessionNote) -> dict:
    """The panels of an integration note's form. The open alerts are every unacknowledged alert of
    the patient, whatever raised it (a portal questionnaire, a clinician's entry, a risk screen, any
    source added later: safety.open_alerts reads them all), shown beside the risk screen so that
    nobody writes one without seeing them (issue 23); one statement however many there are."""
    return {"practice_summaries": course_practice_summaries(note.course_id, clinic_today()),
            "patient_check_ins": patient_check_ins.check_ins_since_last_note(note),
            "open_alerts": safety.open_alerts([note.patient_id]),
            "previous_note": (earlier := technique_uses.previous_note(note, note.session_date)),
            "previous_techniques": {u.id: u for u in technique_uses.previous_uses(note, note.session_date)}
            if earlier is not None else {}, **plan_panel(note)}


def plan_panel(note: SessionNote) -> dict:
    """The treatment plan the note follows, its objectives by lineage, and the course's stage now."""
    plan = plan_in_note.followed_plan(note)
    return {"plan": plan, "objectives": {o.lineage_id: o for o in plan.objectives} if plan else {},
            "stage_now": current_stage(note.course_id), "stage_words": STAGES, "words_host_theory": HOST_THEORIES}
