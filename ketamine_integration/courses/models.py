"""A patient's treatment course, its phase history and its preparation checklist."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..domain.phases import Phase
from ..extensions import db
from ..patients.models import Patient
from ..protocols.models import ProtocolVersion

PHASE_VALUES = ", ".join(f"'{p.value}'" for p in Phase)
#: a checklist entry that may be recorded many times (each signed preparation session)
PREPARATION_SESSION = "preparation_session"


class TreatmentCourse(db.Model):
    __tablename__ = "treatment_courses"
    __table_args__ = (CheckConstraint(f"phase IN ({PHASE_VALUES})", name="known_phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: the exact protocol version (and snapshot) this course follows, fixed at enrolment
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"), index=True)
    indication: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date]
    therapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    phase: Mapped[str] = mapped_column(String(20), default=Phase.PREPARATION.value)
    phase_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: optimistic lock: two clinicians moving the same course at once cannot both succeed
    version: Mapped[int] = mapped_column(default=1)

    patient: Mapped[Patient] = relationship()
    protocol_version: Mapped[ProtocolVersion] = relationship(lazy="joined")
    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    prescriber: Mapped[User] = relationship(foreign_keys=[prescriber_id])
    transitions: Mapped[list[PhaseTransition]] = relationship(
        back_populates="course", order_by="PhaseTransition.id", cascade="all, delete-orphan")
    preparation_records: Mapped[list[PreparationRecord]] = relationship(
        back_populates="course", order_by="PreparationRecord.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    @property
    def current_phase(self) -> Phase:
        return Phase(self.phase)


class PhaseTransition(db.Model):
    """Who moved a course into which phase, when and why (enrolment is the first row). Never
    changed or deleted: a phase change is a new row (database triggers, migration 0016)."""

    __tablename__ = "phase_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: None for the enrolment row
    from_phase: Mapped[str | None] = mapped_column(String(20))
    to_phase: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    #: the protocol gate conditions overridden, one per line; None when the gate was open
    overridden: Mapped[str | None] = mapped_column(Text)

    course: Mapped[TreatmentCourse] = relationship(back_populates="transitions")
    by_user: Mapped[User] = relationship(lazy="joined")


class PreparationRecord(db.Model):
    """One preparation requirement met: what, on which date, recorded by whom.

    Records are never edited or deleted; one entered in error is voided once, with who and why,
    and stays visible (database triggers, migration 0016).
    """

    __tablename__ = "preparation_records"
    __table_args__ = (
        # At most one live record per checklist item, except preparation sessions (one each).
        Index("uq_preparation_records_live_item", "course_id", "item", unique=True,
              sqlite_where=text(f"voided_at IS NULL AND item != '{PREPARATION_SESSION}'"),
              postgresql_where=text(f"voided_at IS NULL AND item != '{PREPARATION_SESSION}'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: a key of domain.protocols.PREPARATION_ITEMS, or "preparation_session"
    item: Mapped[str] = mapped_column(String(40))
    #: the clinic date it happened (consent signed, clearance given, session held)
    completed_on: Mapped[date]
    #: short factual note, e.g. "cleared by Dr. Ames after the ECG"
    note: Mapped[str | None] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(String(300))
    #: SHA-256 of what was met, when and by whom (not the void, whose audit row carries its own),
    #: stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    course: Mapped[TreatmentCourse] = relationship(back_populates="preparation_records")
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id], lazy="joined")
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])

    @property
    def live(self) -> bool:
        return self.voided_at is None
