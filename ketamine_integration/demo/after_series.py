"""Demo sessions after the series (issue 20, point 7): each course past its series had the protocol's
sessions after it booked on their due days, those due more than a week ago held (the attendance loader
gives them their outcome); the IM KAP course in integration has its first one booked ahead from a
suggestion; the other courses' open ones are left for the staff worklist to flag."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from ..bookings.availability import free_slots, suggest_for_window
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.phases import Phase
from ..domain.slots import Interval
from ..experience.services import fetch_dosing_sessions
from ..extensions import db
from ..accounts.models import User
from ..scheduling.after_series import course_plan, fetch_after_series_sessions
from ..scheduling.services import book_integration_session

#: the demo course whose first session after the series is booked ahead
BOOKED_AHEAD = ("im-ketamine-kap", Phase.INTEGRATION)
#: sessions due more recently than this stay unbooked: some for the worklist to flag, and the demo's
#: newest past session stays the one the attendance loader leaves unconfirmed (an experience course's)
SETTLED_BEFORE = timedelta(days=7)


def book_after_series(course: TreatmentCourse, therapist: User, now: datetime, *, ahead: bool) -> None:
    """Right after the course entered integration: its sessions after the series due long enough ago
    booked on their due day (from 9:00, the therapist's first free hour), each the day before; with
    `ahead`, the first one still to come booked now at the best suggested time."""
    db.session.flush()
    plan = course_plan(course, fetch_dosing_sessions(course.id), fetch_after_series_sessions(course.id), now)
    zone = clinic_zone()
    for row in plan.rows:
        start = datetime.combine(row.session.due, time(9), zone)
        if start <= now - SETTLED_BEFORE:
            [slot, *_] = free_slots(therapist.id, course.patient_id, Interval(start, row.session.closes),
                                    timedelta(minutes=50))
            book_integration_session(course, clinician_id=therapist.id, starts_at=slot, minutes=50,
                                     modality="telehealth", by=therapist, now=slot - timedelta(days=1))
    to_book = [r for r in plan.rows if r.session.closes > now and r.needs_booking]
    if ahead and to_book:
        own = [s for s in suggest_for_window(course, to_book[0].session, now, limit=50) if s.own_therapist]
        book_integration_session(course, clinician_id=therapist.id, starts_at=own[0].starts_at, minutes=50,
                                 modality="telehealth", by=therapist, now=now)
    db.session.flush()
