"""A patient's safety plan: its revisions (draft, then signed and never changed), the addenda on a
signed revision and the signed reviews of the plan.

A signed revision never changes: the service refuses it, an ORM guard refuses it (guard.py) and the
database triggers of migration 0047 refuse it whatever code path tries; a correction is an addendum
or a new revision. Addenda and reviews are append-only (db/append_only.py classifies the tables).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.signed_records import SIGNED
from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

DRAFT = "draft"
#: what a review changed: nothing, or the plan (a new revision signed since the previous review)
NO_CHANGES, REVISED = "none", "revised"
REVIEW_CHANGES = {NO_CHANGES: "No changes", REVISED: "Revised: a new revision was signed"}


class SafetyPlanRevision(db.Model):
    """One version of a patient's safety plan. The latest signed one is the plan in force; at most one
    draft (the latest revision) is being written. Kept per patient, not per course: the plan outlives
    a course (a patient between courses, or starting a new one, still has it)."""

    __tablename__ = "safety_plan_revisions"
    __table_args__ = (
        UniqueConstraint("patient_id", "revision"),
        CheckConstraint("status IN ('draft', 'signed')", name="known_status"),
        CheckConstraint("(status = 'signed') = (signed_at IS NOT NULL AND signed_by_id IS NOT NULL "
                        "AND signature_digest IS NOT NULL)", name="signed_by_someone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: 1, 2, 3 ... per patient
    revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    #: the sections, by key (domain/safety_plans.py SECTIONS)
    content: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: saves of this revision (1 when created): with the revision number, what an editor's form was
    #: opened on, so a save that met another's is refused rather than overwriting it
    saves: Mapped[int] = mapped_column(default=1)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: SHA-256 of what was signed, by whom and when; `flask signatures verify` recomputes it
    signature_digest: Mapped[str | None] = mapped_column(String(64))

    patient: Mapped[Patient] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id], lazy="joined")
    addenda: Mapped[list["SafetyPlanAddendum"]] = relationship(
        back_populates="plan_revision", order_by="SafetyPlanAddendum.created_at")

    @property
    def signed(self) -> bool:
        return self.status == SIGNED

    @property
    def edit_token(self) -> int:
        """What the draft form was opened on: the revision and, while it is a draft, its saves (a signed
        revision's next save starts a new one)."""
        return edit_token(self)


#: an edit token's revision part: revision * SAVES_SPAN + saves
SAVES_SPAN = 1_000_000


def edit_token(latest: SafetyPlanRevision | None) -> int:
    if latest is None:
        return 0
    return latest.revision * SAVES_SPAN + (0 if latest.status == SIGNED else latest.saves)


class SafetyPlanAddendum(db.Model):
    """A correction or later observation on a signed revision; never edited."""

    __tablename__ = "safety_plan_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("safety_plan_revisions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of what it says, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    plan_revision: Mapped[SafetyPlanRevision] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship(lazy="joined")

    @property
    def patient(self) -> Patient:
        return self.plan_revision.patient


class SafetyPlanReview(db.Model):
    """A review of the plan, signed by who did it: on which day, whether with the patient, and whether
    it changed the plan (then it names the new signed revision). Never a bare tick; never edited."""

    __tablename__ = "safety_plan_reviews"
    __table_args__ = (CheckConstraint("changes IN ('none', 'revised')", name="known_changes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: the signed revision in force after the review (the new one when it was revised)
    revision_id: Mapped[int] = mapped_column(ForeignKey("safety_plan_revisions.id"))
    #: the clinic day of the review
    reviewed_on: Mapped[date]
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    with_patient: Mapped[bool]
    changes: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(String(2000))
    #: when it was signed (written)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 of the review, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    patient: Mapped[Patient] = relationship()
    plan_revision: Mapped[SafetyPlanRevision] = relationship(lazy="joined")
    reviewed_by: Mapped[User] = relationship(lazy="joined")
