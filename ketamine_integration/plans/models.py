"""Treatment plan revisions with their objectives and planned techniques, addenda, and the course's
decision-map stage history.

A signed revision never changes: the service refuses it, an ORM guard refuses it (signed_guard.py),
and database triggers (migration 0045) refuse it whatever code path tries. Corrections are addenda;
a change of plan is a new revision.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.measures import MEASURES
from ..domain.plans import HOST_THEORIES, PATHWAYS, STAGES
from ..extensions import db
from ..patients.models import Patient

DRAFT, SIGNED = "draft", "signed"
KNOWN_STAGES = ", ".join(f"'{key}'" for key in STAGES)


class TreatmentPlan(db.Model):
    """One revision of a course's treatment plan (1, 2, 3 ... per course; every one kept)."""

    __tablename__ = "treatment_plans"
    __table_args__ = (
        UniqueConstraint("course_id", "revision"),
        CheckConstraint("status IN ('draft', 'signed')", name="known_status"),
        CheckConstraint(f"stage IS NULL OR stage IN ({KNOWN_STAGES})", name="known_stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: 1 for the course's first plan, then one more per revision
    revision: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    #: problems in the patient's words and the clinician's, and the goals (a list), by field name
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    #: main integration pathway (domain.plans.PATHWAYS)
    pathway: Mapped[str | None] = mapped_column(String(30))
    #: host theory (domain.plans.HOST_THEORIES)
    host_theory: Mapped[str | None] = mapped_column(String(30))
    #: decision-map stage (domain.plans.STAGES)
    stage: Mapped[str | None] = mapped_column(String(20))
    #: clinic date the plan is to be reviewed on
    review_on: Mapped[date | None]
    #: a review that changed nothing: signed to record that the plan was reviewed
    no_change: Mapped[bool] = mapped_column(default=False)
    #: the signed revision this one was copied from
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_plans.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the signed content; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)

    course: Mapped[TreatmentCourse] = relationship()
    patient: Mapped[Patient] = relationship()
    author: Mapped[User] = relationship(lazy="joined")
    objectives: Mapped[list[PlanObjective]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                           lazy="selectin", order_by="PlanObjective.position")
    techniques: Mapped[list[PlanTechnique]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                           lazy="selectin", order_by="PlanTechnique.position")
    addenda: Mapped[list[PlanAddendum]] = relationship(back_populates="plan", lazy="selectin",
                                                       order_by="PlanAddendum.id")

    #: whether a later revision of the course's plan is signed: read only where a query asks for it
    #: (with_expression, fhir/sources.py), None elsewhere
    superseded: Mapped[bool | None] = query_expression()

    __mapper_args__ = {"version_id_col": version}

    @property
    def signed(self) -> bool:
        return self.status == SIGNED

    @property
    def goals(self) -> list[str]:
        return [g for g in self.content.get("goals", []) if g]

    def facts(self) -> list[tuple[str, str]]:
        """The revision's own words and choices (goals and objectives aside) under the plan form's labels,
        the empty ones left out: what a copy of the record or an export says of it."""
        content = self.content or {}
        facts = [("Problems, in the patient's words", content.get("problems_patient")),
                 ("Problems, in the clinician's words", content.get("problems_clinician")),
                 ("Main integration pathway", self.pathway_name), ("Host theory", self.host_theory_name),
                 ("Decision-map stage", self.stage_name),
                 ("Review the plan on", self.review_on.isoformat() if self.review_on else None),
                 ("Review", "Reviewed, no change: this revision records a review that kept the plan"
                  if self.no_change else None)]
        return [(label, value) for label, value in facts if value]

    @property
    def pathway_name(self) -> str:
        return PATHWAYS.get(self.pathway or "", "")

    @property
    def host_theory_name(self) -> str:
        return HOST_THEORIES.get(self.host_theory or "", "")

    @property
    def stage_name(self) -> str:
        return STAGES.get(self.stage or "", "")


class PlanObjective(db.Model):
    """A SMART objective of one revision. `lineage_id` is the objective's identity across revisions:
    a revision copies it, so progress recorded against it keeps its history."""

    __tablename__ = "plan_objectives"
    __table_args__ = (UniqueConstraint("plan_id", "lineage_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    lineage_id: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int]
    #: the goal it serves, as written in the plan
    goal: Mapped[str] = mapped_column(String(300))
    #: who does what, how often or how many
    target: Mapped[str] = mapped_column(String(500))
    #: how it is measured and what counts as success
    criterion: Mapped[str] = mapped_column(String(500))
    #: clinic date it is to be reached by
    by_when: Mapped[date]
    #: why it should help, in the host frame
    mechanism: Mapped[str] = mapped_column(String(1000))
    #: a key of the measure registry (domain.measures), when a measure judges it
    measure: Mapped[str | None] = mapped_column(String(10))

    plan: Mapped[TreatmentPlan] = relationship(back_populates="objectives")
    #: the progress notes recorded on its lineage, under this revision and every other (plans.progress.
    #: ObjectiveProgress), drafts' too: a reader keeps the signed notes' rows; read-only (the FHIR export's
    #: Goals load it with their plans)
    progress: Mapped[list["ObjectiveProgress"]] = relationship(  # noqa: F821
        primaryjoin="PlanObjective.lineage_id == foreign(ObjectiveProgress.lineage_id)", viewonly=True)

    @property
    def measure_name(self) -> str:
        """The linked measure as the clinic names it ("PHQ-9"), "" when none (or no longer in the registry: its key)."""
        if not self.measure:
            return ""
        known = MEASURES.get(self.measure)
        return known.name if known is not None else self.measure


class PlanTechnique(db.Model):
    """A technique the plan means to use, from the clinic's technique vocabulary, with why."""

    __tablename__ = "plan_techniques"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    position: Mapped[int]
    technique_key: Mapped[str] = mapped_column(String(60))
    #: the technique's name when the plan was written (history reads even if the vocabulary changes)
    technique_name: Mapped[str] = mapped_column(String(120))
    rationale: Mapped[str] = mapped_column(String(1000))

    plan: Mapped[TreatmentPlan] = relationship(back_populates="techniques")


class PlanAddendum(db.Model):
    """A correction or later observation on a signed plan revision; never edited."""

    __tablename__ = "plan_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of what it says, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    plan: Mapped[TreatmentPlan] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship(lazy="joined")


class CourseStageChange(db.Model):
    """A move of the course on the decision map: to which stage, why, when, by whom, and the signed plan
    revision (or the note) that moved it. Append-only: the latest row is the course's stage."""

    __tablename__ = "course_stage_changes"
    __table_args__ = (CheckConstraint(f"stage IN ({KNOWN_STAGES})", name="known_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    stage: Mapped[str] = mapped_column(String(20))
    previous_stage: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_plans.id"))
    #: the session note that moved it (the notes' stage control, issue 24 point 3)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("session_notes.id"))

    patient: Mapped[Patient] = relationship()
    changed_by: Mapped[User] = relationship(lazy="joined")

    @property
    def stage_name(self) -> str:
        return STAGES.get(self.stage, self.stage)
