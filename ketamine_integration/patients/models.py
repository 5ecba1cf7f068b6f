"""Patient demographics and the care team that may see their clinical record."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db


def display_name(given_name: str, preferred_name: str | None, family_name: str) -> str:
    """How a patient is named on every page: the preferred name in brackets when it differs."""
    if preferred_name and preferred_name != given_name:
        return f"{given_name} ({preferred_name}) {family_name}"
    return f"{given_name} {family_name}"


class Patient(db.Model):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: medical record number, unique in the clinic
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80), index=True)
    preferred_name: Mapped[str | None] = mapped_column(String(80))
    date_of_birth: Mapped[date]
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(120))
    emergency_contact_relationship: Mapped[str | None] = mapped_column(String(60))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: set instead of deleting: records are retained, never removed
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: optimistic lock: an edit based on an older version is refused, not overwritten
    version: Mapped[int] = mapped_column(default=1)

    #: loaded when read (one query for one patient); a list that shows or checks the teams of
    #: many patients asks for them with selectinload, so no list loads teams it does not use
    care_team: Mapped[list[CareTeamMember]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="CareTeamMember.id",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def display_name(self) -> str:
        return display_name(self.given_name, self.preferred_name, self.family_name)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def members(self, role: str) -> list[User]:
        return [m.user for m in self.care_team if m.role == role]

    def __repr__(self) -> str:
        return f"<Patient {self.id} {self.mrn}>"


class CareTeamMember(db.Model):
    """A clinician treating a patient; therapists and prescribers see only these patients."""

    __tablename__ = "care_team_members"
    __table_args__ = (
        UniqueConstraint("patient_id", "user_id", "role"),
        CheckConstraint("role IN ('therapist', 'prescriber', 'nurse')", name="clinical_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: therapist, prescriber or nurse
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="care_team")
    user: Mapped[User] = relationship(lazy="joined")
