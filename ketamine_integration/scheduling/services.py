"""Booking appointments with conflict checks for the clinician and the patient."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..errors import DomainError
from ..extensions import db
from ..timeutil import format_local
from .models import ACTIVE_STATUSES, Appointment


def fetch_integration_starts(course_id: int) -> list[datetime]:
    """Start times of a course's integration sessions that are booked or were held."""
    return list(db.session.scalars(select(Appointment.starts_at).where(
        Appointment.course_id == course_id, Appointment.kind == "integration",
        Appointment.status.in_(ACTIVE_STATUSES))))


def fetch_course_appointments(course_id: int) -> list[Appointment]:
    return db.session.scalars(select(Appointment).where(Appointment.course_id == course_id)
                              .order_by(Appointment.starts_at)).all()


def conflicts(*, clinician_id: int, patient_id: int, starts_at: datetime, ends_at: datetime,
              ignore_id: int | None = None) -> list[Appointment]:
    """Active appointments of the same clinician or patient overlapping [starts_at, ends_at)."""
    stmt = select(Appointment).where(
        Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at,
        or_(Appointment.clinician_id == clinician_id, Appointment.patient_id == patient_id))
    if ignore_id is not None:
        stmt = stmt.where(Appointment.id != ignore_id)
    return db.session.scalars(stmt.order_by(Appointment.starts_at)).all()


def book_integration_session(course: TreatmentCourse, *, clinician_id: int, starts_at: datetime,
                             minutes: int, modality: str, by: User) -> Appointment:
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.has_role(THERAPIST):
        raise DomainError({"clinician": "Choose an active integration therapist."})
    if course.current_phase.ended:
        raise DomainError("The course has ended; book nothing more on it.")
    ends_at = starts_at + timedelta(minutes=minutes)
    clashes = conflicts(clinician_id=clinician_id, patient_id=course.patient_id,
                        starts_at=starts_at, ends_at=ends_at)
    if clashes:
        names = "; ".join(f"{a.label} with {a.clinician.full_name} at {format_local(a.starts_at)}"
                          + (" (same patient)" if a.patient_id == course.patient_id else "")
                          for a in clashes)
        raise DomainError({"starts_at": f"That time overlaps: {names}."})
    appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician_id,
                              kind="integration", starts_at=starts_at, ends_at=ends_at,
                              modality=modality, created_by_id=by.id)
    db.session.add(appointment)
    db.session.flush()
    return appointment
