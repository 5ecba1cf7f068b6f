"""Demo discharge summaries: the first two completed courses have theirs written and signed a few
days after the course ended (the computed sections, the plan's objectives among them, frozen then);
the first one's patient released the treatment summary, measures and action plan to the prescriber,
who was sent a copy. The other completed courses show their summary due. Invented text throughout."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, select

from ..coordination import services as coordination
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..discharge import services as discharge
from ..discharge.document import render_copy
from ..discharge.models import DischargeSummary
from ..domain.phases import Phase
from ..extensions import db

#: how long after the course ended its summary was written and signed
SIGNED_AFTER = timedelta(days=3)
WRITTEN = {
    "summary": "Mood lifted steadily over the series and held through maintenance; sleep is back to seven hours "
               "and she walks most days. Low mornings still come, shorter and less often.",
    "warning_signs": "Staying in bed past ten, cancelling on friends twice in a row, the old thought of being "
                     "a burden coming back.",
    "practices": "River walks three times a week; three lines in the journal most evenings; a weekly call with "
                 "her sister.",
    "booster_or_return": "PHQ-9 of 10 or more on two check-ins a fortnight apart, or two warning signs for a "
                         "week: call the clinic to discuss a booster.",
    "recommendations": "Continue the current antidepressant; review mood at the next primary-care visit; a booster "
                       "session is reasonable if the warning signs return.",
}
#: what the first summary's patient released to the prescriber (the copy carries these sections)
RELEASED = ["treatment", "measures", "action_plan"]


def load_demo_discharge(now: datetime) -> None:
    today = now.astimezone(clinic_zone()).date()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase == Phase.COMPLETED.value)
                                 .order_by(TreatmentCourse.id).limit(2)).all()
    for index, course in enumerate(courses):
        therapist = course.therapist
        ended = next(t.occurred_at for t in course.transitions if t.to_phase == Phase.COMPLETED.value)
        signed_at = ended + SIGNED_AFTER
        summary = _dated_start(course, signed_at - timedelta(hours=2))
        discharge.save_summary(summary, written=WRITTEN, by=therapist, expected_version=summary.version)
        discharge.sign_summary(summary, by=therapist, expected_version=summary.version, now=signed_at)
        if index == 0:
            coordination.create_release(course.patient, recipient_user_id=course.prescriber_id, recipient_name=None,
                                        categories=RELEASED, purpose="Handover of care after the ketamine course",
                                        effective_on=course.start_date, expires_on=today + timedelta(days=365),
                                        by=therapist)
            discharge.send_copy(summary, recipient_id=course.prescriber_id, by=therapist, today=today,
                                render=render_copy)


def _dated_start(course: TreatmentCourse, at: datetime) -> DischargeSummary:
    """The draft, started at `at` (demo only: the story's date, not the moment of loading)."""
    def created(mapper, connection, summary: DischargeSummary) -> None:
        summary.created_at = at
    event.listen(DischargeSummary, "before_insert", created)
    try:
        return discharge.start_summary(course, by=course.therapist)
    finally:
        event.remove(DischargeSummary, "before_insert", created)
