"""A booster planned for next week with its integration session booked ahead, inside the booster's
provisional window (issue 20, point 1): what the clinic does with every dose it plans."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from ..bookings.availability import first_free_room, suggest_for_window
from ..bookings.models import Room
from ..courses.models import TreatmentCourse
from ..courses.services import course_protocol
from ..db.clinic_time import clinic_zone
from ..db.errors import DomainError
from ..domain.phases import Phase
from ..experience.provisional import fetch_booked_minutes, provisional_windows
from ..experience.services import plan_series
from ..extensions import db
from ..scheduling.services import book_integration_session
from .courses import DOSING_ROOMS, ROOMS

#: the course that gets the booster: the IV course in maintenance (boosters at least a week apart)
PROTOCOL = "iv-ketamine-induction"


def load_demo_booked_ahead(now: datetime) -> None:
    """Plan a booster a week from now on the IV maintenance course, with its prescriber in a free
    dosing suite, and book its integration session at the first time suggested in its window."""
    course = next((c for c in db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.phase == Phase.MAINTENANCE.value).order_by(TreatmentCourse.id))
        if course_protocol(c).id == PROTOCOL), None)
    if course is None:
        return
    booster = _plan_booster(course, now)
    [(_dose, window)] = provisional_windows(course, [booster], fetch_booked_minutes(course.id))
    suggestions = suggest_for_window(course, window, now)
    if not suggestions:
        raise RuntimeError("no free time for the demo booster's integration session")
    pick = suggestions[0]
    room = first_free_room(pick.starts_at, pick.starts_at + timedelta(minutes=50), among=ROOMS)
    book_integration_session(course, clinician_id=pick.clinician_id, starts_at=pick.starts_at, minutes=None,
                             modality="in_person" if room else "telehealth", room_id=room.id if room else None,
                             by=course.therapist, now=now, for_dose=booster.id)
    db.session.flush()


def _plan_booster(course: TreatmentCourse, now: datetime):
    """The booster, at the first office hour a week from now when its prescriber and a dosing suite are free."""
    zone = clinic_zone()
    day = (now.astimezone(zone) + timedelta(days=7)).date()
    rooms = db.session.scalars(select(Room).where(Room.name.in_(DOSING_ROOMS)).order_by(Room.name)).all()
    minutes = course_protocol(course).experience.min_monitoring_minutes + 30
    for hour in range(9, 16):
        for room in rooms:
            try:
                with db.session.begin_nested():
                    [booster] = plan_series(course, first_start=datetime.combine(day, time(hour), zone),
                                            days_between=7, count=1, reason=None, clinician_id=course.prescriber_id,
                                            room_id=room.id, by=course.prescriber, minutes=minutes)
                return booster
            except DomainError:
                continue
    raise RuntimeError("no clash-free time for the demo booster next week")
