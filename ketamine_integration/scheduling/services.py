"""Booking appointments with conflict checks for the clinician and the patient."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..experience.services import fetch_dosing_sessions
from ..experience.windows import course_windows
from ..patients.services import ensure_on_care_team
from ..errors import DomainError
from ..extensions import db
from ..timeutil import format_local
from ..patients.models import Patient
from .availability import outside_hours, time_off_during
from .models import ACTIVE_STATUSES, KINDS, Appointment, AppointmentChange, Room


def fetch_integration_starts(course_id: int) -> list[datetime]:
    """Start times of a course's integration sessions that are booked or were held."""
    return list(db.session.scalars(select(Appointment.starts_at).where(
        Appointment.course_id == course_id, Appointment.kind == "integration",
        Appointment.status.in_(ACTIVE_STATUSES))))


def fetch_integration_starts_by_course(course_ids: list[int]) -> dict[int, list[datetime]]:
    grouped: dict[int, list[datetime]] = {}
    if course_ids:
        rows = db.session.execute(select(Appointment.course_id, Appointment.starts_at).where(
            Appointment.course_id.in_(course_ids), Appointment.kind == "integration",
            Appointment.status.in_(ACTIVE_STATUSES)))
        for course_id, starts_at in rows:
            grouped.setdefault(course_id, []).append(starts_at)
    return grouped


def fetch_course_appointments(course_id: int) -> list[Appointment]:
    return db.session.scalars(select(Appointment).where(Appointment.course_id == course_id)
                              .order_by(Appointment.starts_at)).all()


def conflicts(*, clinician_id: int, patient_id: int, starts_at: datetime, ends_at: datetime,
              room_id: int | None = None) -> list[Appointment]:
    """Active appointments of the same clinician, patient or room overlapping [starts_at, ends_at)."""
    parties = [Appointment.clinician_id == clinician_id, Appointment.patient_id == patient_id]
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
    BEGIN IMMEDIATE already serialises writers; FOR UPDATE is a no-op there.
    """
    db.session.execute(select(User.id).where(User.id == clinician_id).with_for_update())
    db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    if room_id is not None:
        db.session.execute(select(Room.id).where(Room.id == room_id).with_for_update())


def describe_conflicts(clashes: list[Appointment], patient_id: int, room_id: int | None) -> str:
    parts = []
    for a in clashes:
        who = " (same patient)" if a.patient_id == patient_id else ""
        where = f" in {a.room.name}" if room_id is not None and a.room_id == room_id else ""
        parts.append(f"{a.label} with {a.clinician.full_name} at {format_local(a.starts_at)}{who}{where}")
    return "That time overlaps: " + "; ".join(parts) + "."


def _check_timing(course: TreatmentCourse, starts_at: datetime, now: datetime) -> None:
    """In the experience phase an integration session belongs inside a dosing window.

    After the series (integration, maintenance) sessions follow the protocol's cadence, so
    any future time will do.
    """
    if starts_at <= now:
        raise DomainError({"starts_at": "Book a time in the future; record past sessions in the notes."})
    if course.current_phase is not Phase.EXPERIENCE:
        return
    windows = [w for w in course_windows(course, fetch_dosing_sessions(course.id), [], now)
               if w.status is not WindowStatus.CLOSED]
    if not any(w.window.contains(starts_at) for w in windows):
        spans = "; ".join(f"#{w.session.sequence}: {format_local(w.window.opens)} to {format_local(w.window.closes)}"
                          for w in windows) or "none is open or about to open"
        raise DomainError({"starts_at": f"That time is outside every open integration window ({spans})."})


#: the course phases in which each kind of session may be booked
BOOKABLE_IN = {"preparation": (Phase.PREPARATION,),
               "integration": (Phase.EXPERIENCE, Phase.INTEGRATION, Phase.MAINTENANCE),
               "follow_up": (Phase.INTEGRATION, Phase.MAINTENANCE)}


def book_session(course: TreatmentCourse, *, kind: str, clinician_id: int, starts_at: datetime, minutes: int,
                 modality: str, by: User, now: datetime, room_id: int | None = None) -> Appointment:
    """Book a therapist session on a course; integration sessions go inside a dosing window."""
    if kind not in BOOKABLE_IN:
        raise DomainError({"kind": "Unknown kind of session."})
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.has_role(THERAPIST):
        raise DomainError({"clinician": "Choose an active therapist."})
    if course.current_phase not in BOOKABLE_IN[kind]:
        allowed = " or ".join(p.value for p in BOOKABLE_IN[kind])
        raise DomainError({"kind": f"A {KINDS[kind].lower()} is booked while the course is in {allowed}; "
                                   f"it is in {course.phase}."})
    if kind == "integration":
        _check_timing(course, starts_at, now)
    elif starts_at <= now:
        raise DomainError({"starts_at": "Book a time in the future."})
    if modality == "in_person" and room_id is None:
        raise DomainError({"room": "Choose a room for an in-person session (or book it as telehealth)."})
    if modality == "telehealth":
        room_id = None
    ends_at = starts_at + timedelta(minutes=minutes)
    lock_parties(clinician_id=clinician_id, patient_id=course.patient_id, room_id=room_id)
    _check_free(clinician, course.patient_id, starts_at, ends_at, room_id)
    # A covering therapist joins the care team, so they can open the course they will see.
    ensure_on_care_team(course.patient, clinician, THERAPIST)
    appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician_id,
                              kind=kind, starts_at=starts_at, ends_at=ends_at,
                              modality=modality, room_id=room_id, created_by_id=by.id)
    appointment.changes.append(AppointmentChange(change="booked", by_user_id=by.id))
    db.session.add(appointment)
    db.session.flush()
    return appointment


def _check_free(clinician: User, patient_id: int, starts_at: datetime, ends_at: datetime,
                room_id: int | None, ignore: Appointment | None = None) -> None:
    """Refuse a time the clinician, patient or room cannot take, naming why."""
    away = time_off_during(clinician.id, starts_at, ends_at)
    if away is not None:
        raise DomainError({"starts_at": f"{clinician.full_name} is away then ({away.reason or 'time off'}: "
                                        f"{format_local(away.starts_at)} to {format_local(away.ends_at)})."})
    if outside_hours(clinician.id, starts_at, ends_at):
        raise DomainError({"starts_at": f"That is outside {clinician.full_name}'s working hours."})
    clashes = [a for a in conflicts(clinician_id=clinician.id, patient_id=patient_id, starts_at=starts_at,
                                    ends_at=ends_at, room_id=room_id) if a is not ignore]
    if clashes:
        raise DomainError({"starts_at": describe_conflicts(clashes, patient_id, room_id)})


def book_integration_session(course: TreatmentCourse, **kwargs) -> Appointment:
    return book_session(course, kind="integration", **kwargs)


def _record_change(appointment: Appointment, change: str, by: User, reason: str | None = None,
                   previous_start: datetime | None = None) -> None:
    appointment.changes.append(AppointmentChange(change=change, by_user_id=by.id, reason=reason,
                                                 previous_start=previous_start))


def _lock(appointment: Appointment) -> None:
    """Re-read the appointment under a row lock: two people changing it at once take turns."""
    db.session.execute(select(Appointment.id).where(Appointment.id == appointment.id).with_for_update())
    db.session.refresh(appointment)


def cancel_appointment(appointment: Appointment, *, reason: str, by: User) -> None:
    _lock(appointment)
    if appointment.status != "booked":
        raise DomainError("Only a booked appointment can be cancelled.")
    appointment.status, appointment.cancel_reason = "cancelled", reason.strip()
    _record_change(appointment, "cancelled", by, reason=reason.strip())
    db.session.flush()


def mark_outcome(appointment: Appointment, *, outcome: str, by: User, now: datetime) -> None:
    """Attended or no-show: said once the appointment's time has come."""
    if outcome not in ("attended", "no_show"):
        raise DomainError("Unknown outcome.")
    _lock(appointment)
    if appointment.status != "booked":
        raise DomainError("Only a booked appointment can be marked attended or no-show.")
    if appointment.starts_at > now:
        raise DomainError("An appointment can be marked once its time has come.")
    appointment.status = outcome
    _record_change(appointment, outcome, by)
    db.session.flush()


def reschedule_appointment(appointment: Appointment, *, starts_at: datetime, by: User, now: datetime,
                           reason: str | None) -> None:
    lock_parties(clinician_id=appointment.clinician_id, patient_id=appointment.patient_id,
                 room_id=appointment.room_id)
    _lock(appointment)
    if appointment.status != "booked":
        raise DomainError("Only a booked appointment can be moved.")
    if appointment.course is not None and appointment.kind == "integration":
        _check_timing(appointment.course, starts_at, now)
    elif starts_at <= now:
        raise DomainError({"starts_at": "Move it to a time in the future."})
    length = appointment.ends_at - appointment.starts_at
    _check_free(appointment.clinician, appointment.patient_id, starts_at, starts_at + length,
                appointment.room_id, ignore=appointment)
    previous = appointment.starts_at
    appointment.starts_at, appointment.ends_at = starts_at, starts_at + length
    _record_change(appointment, "rescheduled", by, reason=(reason or "").strip() or None, previous_start=previous)
    db.session.flush()
