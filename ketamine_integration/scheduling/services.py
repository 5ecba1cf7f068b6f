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
from .models import ACTIVE_STATUSES, Appointment


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


def conflicts(*, clinician_id: int, patient_id: int, starts_at: datetime, ends_at: datetime) -> list[Appointment]:
    """Active appointments of the same clinician or patient overlapping [starts_at, ends_at)."""
    stmt = select(Appointment).where(
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at,
        or_(Appointment.clinician_id == clinician_id, Appointment.patient_id == patient_id))
    return db.session.scalars(stmt.order_by(Appointment.starts_at)).all()


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


def book_integration_session(course: TreatmentCourse, *, clinician_id: int, starts_at: datetime,
                             minutes: int, modality: str, by: User, now: datetime) -> Appointment:
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.has_role(THERAPIST):
        raise DomainError({"clinician": "Choose an active integration therapist."})
    if course.current_phase.ended or course.current_phase is Phase.PREPARATION:
        raise DomainError("Integration sessions are booked once the course is in the experience phase.")
    _check_timing(course, starts_at, now)
    ends_at = starts_at + timedelta(minutes=minutes)
    clashes = conflicts(clinician_id=clinician_id, patient_id=course.patient_id,
                        starts_at=starts_at, ends_at=ends_at)
    if clashes:
        names = "; ".join(f"{a.label} with {a.clinician.full_name} at {format_local(a.starts_at)}"
                          + (" (same patient)" if a.patient_id == course.patient_id else "")
                          for a in clashes)
        raise DomainError({"starts_at": f"That time overlaps: {names}."})
    # A covering therapist joins the care team, so they can open the course they will see.
    ensure_on_care_team(course.patient, clinician, THERAPIST)
    appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician_id,
                              kind="integration", starts_at=starts_at, ends_at=ends_at,
                              modality=modality, created_by_id=by.id)
    db.session.add(appointment)
    db.session.flush()
    return appointment
