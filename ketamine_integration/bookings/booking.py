"""The booking primitives every kind of session shares: locks, conflict checks, history.

Kept free of course and window rules, so that dosing plans (experience) and therapist
sessions (scheduling.services) book through the same checks; the integration windows
(experience.window_store) read a course's integration bookings here, below both.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select

from ..accounts.models import User
from ..db.errors import DomainError
from ..extensions import db
from ..db.locking import lock_row
from ..patients.models import Patient
from ..db.clinic_time import format_local
from .availability import imported_busy_during, outside_hours, time_off_during
from ..domain.coverage import IntegrationSession
from .models import ACTIVE_STATUSES, ATTENDED, BOOKED, STATUS_OF_OUTCOME, Appointment, AppointmentChange, Room


def conflicts(*, clinician_id: int, patient_id: int, starts_at: datetime, ends_at: datetime,
              room_id: int | None = None, staff_ids: Iterable[int] = ()) -> list[Appointment]:
    """Active appointments of the same clinician (or of `staff_ids`, others working the session),
    patient or room overlapping [starts_at, ends_at)."""
    staff = sorted({clinician_id, *staff_ids})
    parties = [Appointment.clinician_id == clinician_id if len(staff) == 1 else Appointment.clinician_id.in_(staff),
               Appointment.patient_id == patient_id]
    if room_id is not None:
        parties.append(Appointment.room_id == room_id)
    stmt = select(Appointment).where(
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at, or_(*parties))
    return db.session.scalars(stmt.order_by(Appointment.starts_at)).all()


def lock_parties(*, clinician_id: int, patient_id: int, room_id: int | None) -> None:
    """Serialise bookings that could clash: lock the clinician, patient and room rows.

    Two concurrent bookings of overlapping time for any of the same parties take turns, so
    the second one's conflict check sees the first one's row. Always in the same order
    (users, patients, rooms), so two bookings cannot wait on each other. SQLite's
    BEGIN IMMEDIATE already serialises writers; the locks are a no-op there. FOR NO KEY
    UPDATE, not FOR UPDATE: audit rows naming these users and patients must not wait on them
    (audit/chain.py).
    """
    db.session.execute(select(User.id).where(User.id == clinician_id).with_for_update(key_share=True))
    db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True))
    if room_id is not None:
        db.session.execute(select(Room.id).where(Room.id == room_id).with_for_update(key_share=True))


def describe_conflicts(clashes: list[Appointment], patient_id: int, room_id: int | None) -> str:
    parts = []
    for a in clashes:
        who = " (same patient)" if a.patient_id == patient_id else ""
        where = f" in {a.room.name}" if room_id is not None and a.room_id == room_id else ""
        parts.append(f"{a.label} with {a.clinician.full_name} at {format_local(a.starts_at)}{who}{where}")
    return "That time overlaps: " + "; ".join(parts) + "."


def check_free(clinician: User, patient_id: int, starts_at: datetime, ends_at: datetime,
               room_id: int | None, ignore: Appointment | None = None, field: str = "starts_at") -> None:
    """Refuse a time the clinician, patient or room cannot take, naming why (on `field`)."""
    away = time_off_during(clinician.id, starts_at, ends_at)
    if away is not None:
        raise DomainError({field: f"{clinician.full_name} is away then ({away.reason or 'time off'}: "
                                  f"{format_local(away.starts_at)} to {format_local(away.ends_at)})."})
    elsewhere = imported_busy_during(clinician.id, starts_at, ends_at)
    if elsewhere is not None:
        raise DomainError({field: f"{clinician.full_name} is busy then in their own calendar (imported: "
                                  f"{format_local(elsewhere.starts_at)} to {format_local(elsewhere.ends_at)})."})
    if outside_hours(clinician.id, starts_at, ends_at):
        raise DomainError({field: f"That is outside {clinician.full_name}'s working hours."})
    clashes = [a for a in conflicts(clinician_id=clinician.id, patient_id=patient_id, starts_at=starts_at,
                                    ends_at=ends_at, room_id=room_id) if a is not ignore]
    if clashes:
        raise DomainError({field: describe_conflicts(clashes, patient_id, room_id)})


def record_change(appointment: Appointment, change: str, by: User, reason: str | None = None,
                  previous_start: datetime | None = None, outcome: str | None = None,
                  note_id: int | None = None) -> None:
    appointment.changes.append(AppointmentChange(change=change, by_user_id=by.id, reason=reason,
                                                 previous_start=previous_start, outcome=outcome, note_id=note_id))


def settle(appointment: Appointment, outcome: str, *, by: User, reason: str | None = None,
           note_id: int | None = None) -> None:
    """Give the appointment an outcome (or a new one: a correction), as a new history row; the
    status follows (a late or clinic cancellation frees its time like any cancellation)."""
    status = STATUS_OF_OUTCOME[outcome]
    appointment.status, appointment.outcome = status, outcome
    record_change(appointment, status, by, reason=reason, outcome=outcome, note_id=note_id)


def move(appointment: Appointment, starts_at: datetime, *, by: User, reason: str | None,
         field: str = "starts_at") -> None:
    """Move a booked appointment, keeping its length, if everyone involved is free then."""
    lock_parties(clinician_id=appointment.clinician_id, patient_id=appointment.patient_id,
                 room_id=appointment.room_id)
    lock_row(appointment)
    if appointment.status != BOOKED:
        raise DomainError("Only a booked appointment can be moved.")
    length = appointment.ends_at - appointment.starts_at
    check_free(appointment.clinician, appointment.patient_id, starts_at, starts_at + length,
               appointment.room_id, ignore=appointment, field=field)
    previous = appointment.starts_at
    appointment.starts_at, appointment.ends_at = starts_at, starts_at + length
    record_change(appointment, "rescheduled", by, reason=(reason or "").strip() or None, previous_start=previous)
    db.session.flush()


def overlapping(appointment: Appointment, starts_at: datetime, ends_at: datetime,
                staff_ids: Iterable[int] = ()) -> list[Appointment]:
    """The other active appointments of `appointment`'s clinician, patient and room, and of
    `staff_ids` (who else worked it), overlapping [starts_at, ends_at)."""
    return [a for a in conflicts(clinician_id=appointment.clinician_id, patient_id=appointment.patient_id,
                                 starts_at=starts_at, ends_at=ends_at, room_id=appointment.room_id,
                                 staff_ids=staff_ids) if a.id != appointment.id]


def mark_as_held(appointment: Appointment, starts_at: datetime, ends_at: datetime, *, by: User, reason: str,
                 staff_ids: Iterable[int] = ()) -> list[Appointment]:
    """Give a booked appointment the times it really took and mark it attended; return the other
    bookings (of its clinician, patient, room or `staff_ids`) those times overlap.

    Unlike move(), a clash does not refuse it: what happened is a fact, and the caller reports the
    clash (experience.overruns says why for dosing sessions). The parties are locked as for a
    booking, so a booking made meanwhile sees the new times."""
    lock_parties(clinician_id=appointment.clinician_id, patient_id=appointment.patient_id,
                 room_id=appointment.room_id)
    lock_row(appointment)
    if appointment.status != BOOKED:
        return []
    clashes = overlapping(appointment, starts_at, ends_at, staff_ids)
    if (appointment.starts_at, appointment.ends_at) != (starts_at, ends_at):
        previous = appointment.starts_at
        appointment.starts_at, appointment.ends_at = starts_at, ends_at
        overlap = f"; overlaps {len(clashes)} other booking(s)" if clashes else ""
        record_change(appointment, "rescheduled", by, reason=(reason + overlap)[:300], previous_start=previous)
    settle(appointment, ATTENDED, by=by)
    return clashes


def cancel(appointment: Appointment, *, reason: str, by: User) -> None:
    lock_row(appointment)
    if appointment.status != BOOKED:
        raise DomainError("Only a booked appointment can be cancelled.")
    appointment.status, appointment.cancel_reason = "cancelled", reason.strip()
    record_change(appointment, "cancelled", by, reason=reason.strip())
    db.session.flush()


def cancel_future_for_course(course_id: int, *, after: datetime, reason: str, by: User) -> int:
    """Cancel a course's booked appointments after `after` (the course ended); past ones stay to be marked."""
    booked = db.session.scalars(select(Appointment).where(
        Appointment.course_id == course_id, Appointment.status == BOOKED, Appointment.starts_at > after)).all()
    for appointment in booked:
        cancel(appointment, reason=reason, by=by)
    return len(booked)


#: what a dose's integration window counts: integration sessions
WINDOW_KINDS = ("integration",)


def integration_sessions_by_course(course_ids: list[int], *, session=None,
                                   kinds: tuple[str, ...] = WINDOW_KINDS) -> dict[int, list[IntegrationSession]]:
    """Each course's sessions of `kinds` (integration sessions; domain.after_series.KINDS for the
    sessions after the series), whatever became of them, as the coverage rule reads them."""
    grouped: dict[int, list[IntegrationSession]] = {}
    if course_ids:
        rows = (session or db.session).execute(select(
            Appointment.course_id, Appointment.starts_at, Appointment.ends_at, Appointment.status,
            Appointment.outcome, Appointment.booked_for_dose_id, Appointment.kind).where(
            Appointment.course_id.in_(course_ids), Appointment.kind.in_(kinds)))
        for course_id, starts_at, ends_at, status, outcome, for_dose, kind in rows:
            grouped.setdefault(course_id, []).append(
                IntegrationSession(starts_at, outcome or status, for_dose, ends_at=ends_at, kind=kind))
    return grouped


def integration_sessions(appointments: list[Appointment],
                         kinds: tuple[str, ...] = WINDOW_KINDS) -> list[IntegrationSession]:
    """The sessions of `kinds` among appointments already read, as the coverage rule reads them."""
    return [IntegrationSession(a.starts_at, a.attendance, a.booked_for_dose_id, ends_at=a.ends_at, kind=a.kind)
            for a in appointments if a.kind in kinds]
