"""The clinic-wide auto-schedule: propose integration sessions for uncovered windows, then book them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..domain.autoschedule import Assignment, Demand, Slot, assign
from ..domain.phases import Phase
from ..domain.slots import Interval, slot_starts, subtract
from ..domain.windows import WindowStatus
from ..db.errors import DomainError
from ..experience.services import fetch_signed_sessions_by_course
from ..experience.windows import course_windows
from ..extensions import db
from ..db.clinic_time import format_local
from ..patients.models import Patient
from ..bookings import booking
from ..bookings.availability import (available, busy_by_clinician, busy_by_patient, extra_by_clinician, first_free_room,
                           session_minutes, weekly_blocks_by_clinician)
from ..bookings.booking import integration_sessions_by_course
from ..bookings.models import Room
from .services import book_integration_session

#: auto-scheduled sessions start on this grid (counted from the hour), or a coarser one when a
#: session is longer, so that one therapist's slots never overlap
AUTO_STEP = timedelta(hours=1)


def auto_step(length: timedelta) -> timedelta:
    """The grid for sessions of `length`: AUTO_STEP, or whole half hours covering the length."""
    half_hour = timedelta(minutes=30)
    return max(AUTO_STEP, -(-length // half_hour) * half_hour)


@dataclass(frozen=True)
class Proposal:
    assignments: list[Assignment]
    unmatched: list[Demand]
    courses: dict[int, TreatmentCourse]
    therapists: dict[int, User]


def _demands(now: datetime, until: datetime) -> tuple[list[Demand], dict[int, TreatmentCourse]]:
    """Every uncovered, not yet closed window opening before `until`, most urgent first."""
    courses = db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.phase == Phase.EXPERIENCE.value)
        .options(selectinload(TreatmentCourse.patient).selectinload(Patient.care_team))).all()
    ids = [c.id for c in courses]
    sessions, integration = fetch_signed_sessions_by_course(ids), integration_sessions_by_course(ids)
    patient_busy = busy_by_patient({c.patient_id for c in courses}, Interval(now, until + timedelta(days=1)))
    demands: list[Demand] = []
    by_window: dict[int, TreatmentCourse] = {}
    for course in courses:
        therapists = frozenset(m.user_id for m in course.patient.care_team
                               if m.role == THERAPIST and m.user.active and m.user.has_role(THERAPIST))
        for row in course_windows(course, sessions.get(course.id, []), integration.get(course.id, []), now):
            if not row.needs_booking or row.status is WindowStatus.CLOSED or row.window.opens >= until:
                continue
            busy = tuple((i.start, i.end) for i in patient_busy.get(course.patient_id, []))
            demand = Demand(key=row.session.id, patient_id=course.patient_id, own_therapist_id=course.therapist_id,
                            therapist_ids=therapists, opens=max(row.window.opens, now),
                            optimal_until=row.window.optimal_until, closes=min(row.window.closes, until),
                            patient_busy=busy)
            demands.append(demand)
            by_window[demand.key] = course
    return sorted(demands, key=lambda d: (d.closes, d.key)), by_window


def _slots(therapist_ids: set[int], start: datetime, end: datetime, length: timedelta) -> list[Slot]:
    step, span, slots = auto_step(length), Interval(start, end), []
    # A slot may start just before `end` and run past it: look a day beyond for its free time.
    around = Interval(start, end + timedelta(days=1))
    blocks, extra = weekly_blocks_by_clinician(therapist_ids), extra_by_clinician(therapist_ids, around)
    busy = busy_by_clinician(therapist_ids, around)
    for therapist_id in sorted(therapist_ids):
        free = available(blocks.get(therapist_id, []), extra.get(therapist_id, []), around)
        free = subtract(free, busy.get(therapist_id, []))
        for starts_at in slot_starts(free, length, step, span):
            slots.append(Slot(key=len(slots), therapist_id=therapist_id, starts_at=starts_at,
                              ends_at=starts_at + length))
    return slots


def propose(now: datetime, days: int) -> Proposal:
    until = now + timedelta(days=days)
    demands, courses = _demands(now, until)
    therapist_ids = set().union(*(d.therapist_ids for d in demands)) if demands else set()
    length = timedelta(minutes=session_minutes()["integration"])
    assignments = assign(demands, _slots(therapist_ids, now, until, length))
    matched = {a.demand.key for a in assignments}
    therapists = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(therapist_ids)))}
    return Proposal(assignments=sorted(assignments, key=lambda a: a.slot.starts_at),
                    unmatched=[d for d in demands if d.key not in matched], courses=courses, therapists=therapists)


def confirm(rows: list[tuple[int, int, int, datetime]], *, by: User, now: datetime) -> int:
    """Book every proposed (course, window, therapist, start) or none, naming what changed meanwhile."""
    courses = {c.id: c for c in db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.id.in_({r[0] for r in rows})))}
    _lock_everyone(courses.values(), {r[2] for r in rows})
    # First what changed since the proposal, all of it, before anything is booked: a session
    # this batch books may itself count for a neighbouring window, which is not a change.
    if len({r[1] for r in rows}) != len(rows):
        raise DomainError("The proposal lists a window twice; make a new proposal.")
    problems = _changed_since_proposal(rows, courses, now)
    if not problems:
        problems = _book_all(rows, courses, by=by, now=now)
    if problems:
        raise DomainError("Nothing was booked, because the schedule changed since the proposal: "
                          + " ".join(problems) + " Make a new proposal.")
    return len(rows)


def _changed_since_proposal(rows: list[tuple[int, int, int, datetime]], courses: dict,
                            now: datetime) -> list[str]:
    """What stops each proposed row being booked now, naming its patient."""
    problems = []
    for course_id, window_key, therapist_id, starts_at in rows:
        course = courses.get(course_id)
        problem = _still_open(course, window_key, therapist_id, starts_at, now) if course \
            else "the course no longer exists"
        if problem:
            problems.append(f"{course.patient.full_name if course else course_id}: {problem}")
    return problems


def _book_all(rows: list[tuple[int, int, int, datetime]], courses: dict, *, by: User, now: datetime) -> list[str]:
    """Book each row (in person when a room is free, else by telehealth); what refused, by patient and time."""
    minutes, problems = session_minutes()["integration"], []
    for course_id, _window_key, therapist_id, starts_at in rows:
        course = courses[course_id]
        room = first_free_room(starts_at, starts_at + timedelta(minutes=minutes))
        try:
            book_integration_session(course, clinician_id=therapist_id, starts_at=starts_at, minutes=minutes,
                                     modality="in_person" if room else "telehealth",
                                     room_id=room.id if room else None, by=by, now=now)
        except DomainError as err:
            problems.append(f"{course.patient.full_name} at {format_local(starts_at)}: "
                            + " ".join(err.reasons.values()))
    return problems


def _still_open(course: TreatmentCourse, window_key: int, therapist_id: int, starts_at: datetime,
                now: datetime) -> str | None:
    """Why this proposed row can no longer be booked, or None."""
    if not any(m.user_id == therapist_id and m.role == THERAPIST for m in course.patient.care_team):
        return "that therapist is not on the patient's care team"
    rows = {r.session.id: r for r in course_windows(course, fetch_signed_sessions_by_course([course.id]).get(
        course.id, []), integration_sessions_by_course([course.id]).get(course.id, []), now)}
    row = rows.get(window_key)
    if row is None or row.status is WindowStatus.CLOSED:
        return "the window is closed"
    if not row.window.contains(starts_at):
        return f"{format_local(starts_at)} is outside that window"
    if not row.needs_booking:
        return "the window was covered meanwhile"
    return None


def _lock_everyone(courses, therapist_ids: set[int]) -> None:
    """Take every lock a batch of bookings needs, up front and in id order, so two batches
    (or a batch and a single booking) can never wait on each other in a circle: courses
    first, as every booking does, then clinicians, patients and rooms."""
    for course in sorted(courses, key=lambda c: c.id):
        lock_course(course)
    for user_id in sorted(therapist_ids):
        db.session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))
    for patient_id in sorted({c.patient_id for c in courses}):
        db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True))
    db.session.execute(select(Room.id).where(Room.active.is_(True)).order_by(Room.id).with_for_update(key_share=True))
