"""Appointments: a clinician, a patient, a time; integration sessions serve dosing windows."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db_types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

KINDS = {"preparation": "Preparation session", "integration": "Integration session",
         "follow_up": "Follow-up"}
BOOKED, ATTENDED, NO_SHOW, CANCELLED = "booked", "attended", "no_show", "cancelled"
#: appointments that hold their time (a cancelled one frees it)
ACTIVE_STATUSES = (BOOKED, ATTENDED)


class Appointment(db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('booked', 'attended', 'no_show', 'cancelled')", name="known_status"),
        CheckConstraint("kind IN ('preparation', 'integration', 'follow_up')", name="known_kind"),
        Index("ix_appointments_clinician_time", "clinician_id", "starts_at"),
        Index("ix_appointments_patient_time", "patient_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: in_person or telehealth
    modality: Mapped[str] = mapped_column(String(12), default="in_person")
    status: Mapped[str] = mapped_column(String(12), default=BOOKED)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    patient: Mapped[Patient] = relationship()
    course: Mapped[TreatmentCourse | None] = relationship()
    clinician: Mapped[User] = relationship(foreign_keys=[clinician_id], lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @property
    def label(self) -> str:
        return KINDS[self.kind]
