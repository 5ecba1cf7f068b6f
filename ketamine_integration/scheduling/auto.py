"""The clinic-wide auto-schedule: propose integration sessions for uncovered windows, then book them."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..domain.autoschedule import Assignment, Demand, Slot, assign, rooms_for
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
from ..bookings.availability import (available, busy_by_clinician, busy_by_patient, extra_by_clinician,
                           session_minutes, weekly_blocks_by_clinician)
from ..bookings.booking import integration_sessions_by_course
from ..bookings.models import ACTIVE_STATUSES, Appointment, Room
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
    #: window key -> the room its session is proposed in (None: telehealth)
    rooms: dict[int, Room | None]


@dataclass(frozen=True)
class ProposedRow:
    """One proposed session as the confirm form posts it back."""
    course_id: int
    window_key: int
    therapist_id: int
    starts_at: datetime
    #: None: telehealth
    room_id: int | None


BOOKED, REFUSED, SKIPPED = "booked", "refused", "skipped"


@dataclass(frozen=True)
class RowOutcome:
    """What became of one proposed row: booked, refused (why) or skipped (not chosen)."""
    row: ProposedRow
    status: str
    #: the patient's name (the course's id when the course is gone)
    patient: str
    course_id: int | None
    therapist: str
    room: str | None
    reason: str | None = None
    appointment: Appointment | None = None


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
                    unmatched=[d for d in demands if d.key not in matched], courses=courses, therapists=therapists,
                    rooms=_proposed_rooms(assignments))


def _proposed_rooms(assignments: list[Assignment]) -> dict[int, Room | None]:
    """In person where a room is free all through the session (two queries, however many rows)."""
    if not assignments:
        return {}
    rooms = {r.id: r for r in db.session.scalars(select(Room).where(Room.active.is_(True)).order_by(Room.name))}
    start = min(a.slot.starts_at for a in assignments)
    end = max(a.slot.ends_at or a.slot.starts_at for a in assignments)
    taken: dict[int, list[tuple[datetime, datetime]]] = {}
    for room_id, starts_at, ends_at in db.session.execute(select(
            Appointment.room_id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.room_id.in_(rooms), Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < end, Appointment.ends_at > start)):
        taken.setdefault(room_id, []).append((starts_at, ends_at))
    chosen = rooms_for(assignments, list(rooms), taken)
    return {key: rooms[room_id] if room_id is not None else None for key, room_id in chosen.items()}


def confirm(rows: list[ProposedRow], chosen: set[int], *, by: User, now: datetime) -> list[RowOutcome]:
    """Book the chosen rows (indexes into `rows`) as proposed, each that still can; one that no
    longer can (taken or covered meanwhile) is refused with its reason, the others are booked
    all the same. The rest are skipped. One outcome per row, in the rows' order."""
    courses = {c.id: c for c in db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.id.in_({r.course_id for r in rows})).options(selectinload(TreatmentCourse.patient)))}
    picked = [(i, rows[i]) for i in sorted(chosen)]
    _lock_everyone([courses[c] for c in {row.course_id for _, row in picked} if c in courses],
                   {row.therapist_id for _, row in picked})
    rooms = {r.id: r for r in db.session.scalars(select(Room).where(Room.active.is_(True)))}
    names = {u.id: u.display_name for u in db.session.scalars(
        select(User).where(User.id.in_({r.therapist_id for r in rows})))}
    # First what changed since the proposal, for every chosen row, before anything is booked: a
    # session this batch books may itself count for a neighbouring window, which is not a change.
    problems = _changed_since_proposal(picked, courses, rooms, now)
    outcomes = [_skipped(row, courses.get(row.course_id), names, rooms) for row in rows]
    for i, _row in picked:
        outcomes[i] = _book_row(outcomes[i], courses.get(rows[i].course_id), problems.get(i), by=by, now=now)
    return outcomes


def _skipped(row: ProposedRow, course: TreatmentCourse | None, names: dict[int, str], rooms: dict) -> RowOutcome:
    """A row as the result page names it, before it is booked (or when it is not chosen)."""
    return RowOutcome(row=row, status=SKIPPED, course_id=course.id if course else None,
                      patient=course.patient.display_name if course else f"course {row.course_id}",
                      therapist=names.get(row.therapist_id, f"user {row.therapist_id}"),
                      room=rooms[row.room_id].name if row.room_id in rooms else None)


def _changed_since_proposal(picked: list[tuple[int, ProposedRow]], courses: dict, rooms: dict,
                            now: datetime) -> dict[int, str]:
    """Why each chosen row can no longer be booked as proposed, by its index (rows that can: absent)."""
    problems, windows = {}, set()
    for i, row in picked:
        course = courses.get(row.course_id)
        if course is None:
            problems[i] = "the course no longer exists"
        elif row.window_key in windows:
            problems[i] = "the proposal lists this window twice"
        elif row.room_id is not None and row.room_id not in rooms:
            problems[i] = "that room cannot be booked"
        else:
            problem = _still_open(course, row.window_key, row.therapist_id, row.starts_at, now)
            if problem:
                problems[i] = problem
        windows.add(row.window_key)
    return problems


def _book_row(outcome: RowOutcome, course: TreatmentCourse | None, problem: str | None, *, by: User,
              now: datetime) -> RowOutcome:
    """Book one chosen row in its own savepoint (a refusal undoes only its own writes)."""
    if problem is not None:
        return replace(outcome, status=REFUSED, reason=problem)
    row = outcome.row
    try:
        with db.session.begin_nested():
            appointment = book_integration_session(
                course, clinician_id=row.therapist_id, starts_at=row.starts_at,
                minutes=session_minutes()["integration"], modality="telehealth" if row.room_id is None else "in_person",
                room_id=row.room_id, by=by, now=now)
    except DomainError as err:
        return replace(outcome, status=REFUSED, reason=" ".join(err.reasons.values()))
    return replace(outcome, status=BOOKED, appointment=appointment)


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
