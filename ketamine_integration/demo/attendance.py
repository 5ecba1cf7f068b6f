"""What became of the demo clinic's past sessions: most were attended (many already proven by their
signed integration notes), one patient did not come, and the newest is left for someone to confirm
(issue 20, point 2: no past booking sits without an outcome unless the demo means it to)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..domain.coverage import ATTENDED, NO_SHOW
from ..domain.phases import Phase
from ..extensions import db
from ..scheduling.attendance import record_outcome


def load_demo_attendance(now: datetime) -> None:
    """Give every past therapist session still without an outcome one, as its clinician would: the
    newest stays unconfirmed (on the worklists), the first one of a course in its integration phase
    was a no-show (its window went uncovered), the others were attended."""
    past = db.session.scalars(select(Appointment).join(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
                              .where(Appointment.status == BOOKED, Appointment.starts_at <= now,
                                     Appointment.kind != "dosing")
                              .order_by(Appointment.starts_at, Appointment.id)).all()
    if not past:
        return
    *settled, _left_unconfirmed = past
    no_show = next((a for a in settled if a.course.current_phase is Phase.INTEGRATION), None)
    for appointment in settled:
        record_outcome(appointment, outcome=NO_SHOW if appointment is no_show else ATTENDED,
                       by=appointment.clinician, now=now)
