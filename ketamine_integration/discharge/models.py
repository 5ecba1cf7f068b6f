"""The discharge summary of an ended course, its addenda, and the copies sent to prescribers.

A summary is drafted, then signed and locked like a session note: at signing, what the app computes
(course dates, doses, attendance and windows, measures, themes and insights) is frozen into it with
the clinician's written sections, and a SHA-256 of both is stored (`flask signatures verify`
recomputes it). The ORM guard (discharge/signed_guard.py) and the triggers of migration
0048_discharge_summaries refuse any later change; corrections are addenda.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

DRAFT, SIGNED = "draft", "signed"


class DischargeSummary(db.Model):
    """One per course, written once the course has ended (completed or discontinued)."""

    __tablename__ = "discharge_summaries"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'signed')", name="known_status"),
        # a signed summary carries what it froze, who signed it, when, and its digest
        CheckConstraint("status = 'draft' OR (computed IS NOT NULL AND signed_at IS NOT NULL "
                        "AND signed_by_id IS NOT NULL AND content_digest IS NOT NULL)", name="signed_is_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: one summary per course
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: who started it
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    #: the clinician's sections by key (discharge.content.WRITTEN): plan, recommendations, reason, summary
    written: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the computed sections by key (discharge.content.COMPUTED), frozen at signing; None while a draft
    #: (a draft shows them computed live)
    computed: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: SHA-256 of the written and computed sections, who signed and when; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))
    #: optimistic lock: two writers saving the same draft cannot both succeed
    version: Mapped[int] = mapped_column(default=1)

    course: Mapped[TreatmentCourse] = relationship()
    patient: Mapped[Patient] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id], lazy="joined")
    addenda: Mapped[list[DischargeAddendum]] = relationship(back_populates="summary", lazy="selectin",
                                                            order_by="DischargeAddendum.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def signed(self) -> bool:
        return self.status == SIGNED


class DischargeAddendum(db.Model):
    """A correction or later observation on a signed discharge summary; never edited."""

    __tablename__ = "discharge_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    summary_id: Mapped[int] = mapped_column(ForeignKey("discharge_summaries.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of what it says, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    summary: Mapped[DischargeSummary] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship(lazy="joined")


class DischargeCopy(db.Model):
    """The prescriber's copy of a signed summary, kept exactly as sent: for whom, under which
    releases, the sections they permitted, the PDF and its SHA-256. Never changed (database triggers)."""

    __tablename__ = "discharge_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    summary_id: Mapped[int] = mapped_column(ForeignKey("discharge_summaries.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    release_ids: Mapped[list] = mapped_column(JSON)
    #: the release categories the copy was made under
    categories: Mapped[list] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: SHA-256 of the PDF
    content_hash: Mapped[str] = mapped_column(String(64))

    summary: Mapped[DischargeSummary] = relationship()
    patient: Mapped[Patient] = relationship()
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id], lazy="joined")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
