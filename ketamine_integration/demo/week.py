"""The days ahead as a clinic keeps them (issue 21, point 1): every live course outside its dosing
series has its therapist's next session booked, a preparation session or a follow-up, at the
therapist's first free time from tomorrow morning; so each patient's "Next session" says when they
come next and each therapist's home page shows the day ahead, whatever the hour the demo loads.

Follow-ups count for no integration window (the windows the demo leaves unbooked stay for the staff
worklist); a follow-up in the period of a session after the series is that session
(domain.after_series.KINDS)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from ..bookings.availability import first_free_room, free_slots, session_minutes
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.phases import Phase
from ..domain.slots import Interval
from ..extensions import db
from ..scheduling.services import book_session
from .courses import DOSING_ROOMS

#: the session booked next for a course in each phase
NEXT_SESSION = {Phase.PREPARATION: "preparation", Phase.INTEGRATION: "follow_up", Phase.MAINTENANCE: "follow_up"}


def load_demo_week(now: datetime) -> int:
    """Book each live course's next session (NEXT_SESSION), in person where a consulting room is free,
    else by telehealth. Returns how many were booked."""
    zone = clinic_zone()
    tomorrow = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(9), zone)
    courses = db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.phase.in_([phase.value for phase in NEXT_SESSION])).order_by(TreatmentCourse.id)).all()
    lengths = session_minutes()
    for course in courses:
        kind = NEXT_SESSION[course.current_phase]
        length = timedelta(minutes=lengths[kind])
        week = Interval(tomorrow, tomorrow + timedelta(days=7))
        [starts, *_] = free_slots(course.therapist_id, course.patient_id, week, length)
        room = first_free_room(starts, starts + length)
        room = None if room is None or room.name in DOSING_ROOMS else room  # talk, not in a dosing suite
        book_session(course, kind=kind, clinician_id=course.therapist_id, starts_at=starts, minutes=None,
                     modality="in_person" if room else "telehealth", room_id=room.id if room else None,
                     by=course.therapist, now=now)
    db.session.flush()
    return len(courses)
