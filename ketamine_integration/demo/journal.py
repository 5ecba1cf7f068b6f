"""Demo journals (issue 23, point 4): a few patients' post-dosing journal entries around their demo
doses, some shared with their therapist and some kept private, written through the journal's
services as the portal will write them. Every word is invented."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from ..journal import services as journal
from ..notes.models import SafetyAlert

#: how many courses get a journal: the course with the open safety alert first (the demo's busiest pair);
#: as many as get practices (demo/practices.py), so the portal's demo patients (demo/portal.py) can have both
JOURNALS = 6
#: (prompt, hours after the dose ended, shared?, text): the first dose's entries, then the latest dose's
EARLIER = (
    ("stood_out", 3, True, "A long hallway with the doors open. I kept expecting one to be locked and none was."),
    ("meaningful", 26, False, "I don't want to say this one out loud yet. It was about my father and the car."),
)
LATEST = (
    ("emotions", 4, True, "Sad at first, heavy in the chest, then a kind of softness. I cried on the drive home "
                          "and it felt clean, not frightening."),
    ("imagery", 5, False, "My grandmother's garden, the tomato smell. I could hear the gate."),
    ("free", 30, True, "Slept nine hours. Walked by the river this morning and noticed the birds for once."),
    ("free", 54, False, "Harder day. Snapped at my sister and then felt the old 'not enough' voice."),
)


def load_demo_journal(now: datetime) -> None:
    """Entries for the first JOURNALS courses with an ended dose, each written at its time after the dose
    (none in the future)."""
    for course in _journal_courses()[:JOURNALS]:
        doses = db.session.scalars(select(DosingSession).where(
            DosingSession.course_id == course.id, DosingSession.status != CANCELLED,
            DosingSession.ended_at.is_not(None), DosingSession.ended_at <= now)
            .order_by(DosingSession.ended_at)).all()
        if not doses:
            continue
        plan = [(doses[0], row) for row in EARLIER] if len(doses) > 1 else []
        plan += [(doses[-1], row) for row in LATEST]
        for dose, (prompt, hours, shared, text) in plan:
            written = dose.ended_at + timedelta(hours=hours)
            if written > now:
                continue
            entry = journal.write_entry(course.patient, prompt=prompt, text=text, now=written,
                                        dosing_session_id=None if prompt == "free" else dose.id)
            if shared:
                journal.share_entry(course.patient, entry.id, written + timedelta(minutes=10))


def _journal_courses() -> list[TreatmentCourse]:
    """Courses under way after a dose, the one with the open safety alert (the key pages' note form) first."""
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.EXPERIENCE.value, Phase.INTEGRATION.value, Phase.MAINTENANCE.value])).order_by(TreatmentCourse.id)).all()
    alerted = db.session.scalar(select(SafetyAlert.course_id).where(SafetyAlert.acknowledged_at.is_(None)).limit(1))
    return sorted(courses, key=lambda c: c.id != alerted)
