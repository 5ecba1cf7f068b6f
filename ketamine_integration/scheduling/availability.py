"""Who is free when: working hours, time off and bookings, and in-window slot suggestions."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..domain.slots import Interval, Suggestion, WeeklyBlock, rank, slot_starts, subtract, working_intervals
from ..extensions import db
from ..fields import options
from ..timeutil import clinic_zone
from .models import ACTIVE_STATUSES, DEFAULT_MINUTES, Appointment, Room, TimeOff, WorkingHours

#: suggestions start on this grid (minutes past the hour)
SLOT_STEP = timedelta(minutes=30)
SUGGESTION_LIMIT = 6


def weekly_blocks(clinician_id: int) -> list[WeeklyBlock]:
    rows = db.session.scalars(select(WorkingHours).where(WorkingHours.clinician_id == clinician_id)
                              .order_by(WorkingHours.weekday, WorkingHours.starts))
    return [WeeklyBlock(r.weekday, r.starts, r.ends) for r in rows]


def busy_intervals(*, clinician_id: int, patient_id: int | None, span: Interval) -> list[Interval]:
    """The clinician's (and the patient's) bookings and the clinician's time off within `span`."""
    parties = [Appointment.clinician_id == clinician_id]
    if patient_id is not None:
        parties.append(Appointment.patient_id == patient_id)
    booked = db.session.execute(select(Appointment.starts_at, Appointment.ends_at).where(
        or_(*parties), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < span.end, Appointment.ends_at > span.start))
    away = db.session.execute(select(TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.clinician_id == clinician_id, TimeOff.starts_at < span.end, TimeOff.ends_at > span.start))
    return [Interval(s, e) for s, e in list(booked) + list(away)]


def busy_of_patient(patient_id: int, span: Interval) -> tuple[tuple[datetime, datetime], ...]:
    rows = db.session.execute(select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.patient_id == patient_id, Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < span.end, Appointment.ends_at > span.start))
    return tuple((s, e) for s, e in rows)


def outside_hours(clinician_id: int, starts_at: datetime, ends_at: datetime) -> bool:
    """True if the clinician keeps regular hours and this session is not inside them.

    A clinician with no hours entered yet is not restricted (nothing is suggested for them
    either): the clinic may book by hand until their week is set up.
    """
    blocks = weekly_blocks(clinician_id)
    if not blocks:
        return False
    zone = clinic_zone()
    day = starts_at.astimezone(zone).date()
    return not any(i.start <= starts_at and ends_at <= i.end for i in working_intervals(blocks, day, day, zone))


def time_off_during(clinician_id: int, starts_at: datetime, ends_at: datetime) -> TimeOff | None:
    return db.session.scalar(select(TimeOff).where(TimeOff.clinician_id == clinician_id,
                                                   TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at))


def free_slots(clinician_id: int, patient_id: int | None, within: Interval, length: timedelta) -> list[datetime]:
    zone = clinic_zone()
    # Sessions may run past the window's end; look one day beyond for their free time.
    span = Interval(within.start, within.end + timedelta(days=1))
    free = working_intervals(weekly_blocks(clinician_id), span.start.astimezone(zone).date(),
                             span.end.astimezone(zone).date(), zone)
    free = subtract(free, busy_intervals(clinician_id=clinician_id, patient_id=patient_id, span=span))
    return slot_starts(free, length, SLOT_STEP, within)


def suggest_for_window(course: TreatmentCourse, window, now: datetime,
                       limit: int = SUGGESTION_LIMIT) -> list[Suggestion]:
    """Free slots inside an integration window for the patient's therapists, best first."""
    therapists = [m.user for m in course.patient.care_team
                  if m.role == THERAPIST and m.user.active and m.user.has_role(THERAPIST)]
    start = max(window.opens, now)
    if start >= window.closes:
        return []
    within = Interval(start, window.closes)
    length = timedelta(minutes=DEFAULT_MINUTES["integration"])
    suggestions = [Suggestion(clinician_id=t.id, starts_at=s, optimal=window.optimal(s),
                              own_therapist=t.id == course.therapist_id)
                   for t in therapists for s in free_slots(t.id, course.patient_id, within, length)]
    return rank(suggestions)[:limit]


def first_free_room(starts_at: datetime, ends_at: datetime) -> Room | None:
    taken = select(Appointment.room_id).where(
        Appointment.room_id.is_not(None), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at)
    return db.session.scalar(select(Room).where(Room.active.is_(True), Room.id.not_in(taken))
                             .order_by(Room.name).limit(1))


def clinician_names(ids) -> dict[int, str]:
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(set(ids))))}


def room_choices():
    """Active rooms for a booking form; 0 lets the clinic pick the first free one."""
    rooms = db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.name))
    return options([(0, "First free room")] + [(r.id, r.name) for r in rooms])
