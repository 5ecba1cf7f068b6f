"""Progress on a plan's objectives as integration notes record it (issue 24, point 3): one row per
note and objective, keyed by the objective's lineage so its history survives plan revisions; and
that history, for the plan page.

A row is part of its note: frozen once the note is signed (notes.signed_guard; database triggers,
migration 0050). The note is named by its table only (`"SessionNote"`): the notes package sits above
this one and reads these rows, never the other way round."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, joinedload, lazyload, mapped_column, relationship

from ..extensions import db
from .models import PlanObjective

#: how far an objective has come, as a note judges it
PROGRESS = {"not_started": "Not started", "some": "Some progress", "achieved": "Achieved", "setback": "Setback"}
KNOWN_PROGRESS = ", ".join(f"'{key}'" for key in PROGRESS)


class ObjectiveProgress(db.Model):
    """Progress on one objective of the plan a note followed, as that note records it."""

    __tablename__ = "note_objective_progress"
    __table_args__ = (
        UniqueConstraint("note_id", "lineage_id"),
        CheckConstraint(f"progress IN ({KNOWN_PROGRESS})", name="known_progress"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    #: the objective's identity across plan revisions (PlanObjective.lineage_id)
    lineage_id: Mapped[str] = mapped_column(String(32), index=True)
    #: the objective as worded in the revision the note followed
    plan_objective_id: Mapped[int] = mapped_column(ForeignKey("plan_objectives.id"))
    #: a key of PROGRESS
    progress: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(500))

    note: Mapped["SessionNote"] = relationship(back_populates="objective_progress")  # noqa: F821
    objective: Mapped[PlanObjective] = relationship(lazy="joined")

    @property
    def progress_label(self) -> str:
        return PROGRESS[self.progress]


@dataclass(frozen=True)
class ProgressEntry:
    """One signed note's judgement of an objective."""

    session_date: date
    author: str
    progress: str
    comment: str | None
    note_id: int
    #: the objective as worded in the revision the note followed (PlanObjective.id)
    plan_objective_id: int
    #: the judgement's key of PROGRESS ("some")
    progress_key: str

    @property
    def words(self) -> str:
        """"2026-12-01: Some progress — Two walks this week (Hazel Quint)": how a copy or an export lists it."""
        return (f"{self.session_date.isoformat()}: {self.progress}" + (f" — {self.comment}" if self.comment else "")
                + f" ({self.author})")


def progress_history(course_id: int) -> dict[str, list[ProgressEntry]]:
    """Per objective lineage, what the course's signed notes recorded of it, oldest first: one
    statement however many notes (the plan page shows it under each objective)."""
    return _history(course_id=course_id)


def patient_progress_history(patient_id: int) -> dict[str, list[ProgressEntry]]:
    """progress_history() of every course of the patient, in one statement (the right-of-access copy)."""
    return _history(patient_id=patient_id)


def progress_until(objective: PlanObjective, history: list[ProgressEntry]) -> list[ProgressEntry]:
    """Of an objective's lineage history, what was recorded under this revision or an earlier one: a
    revision's objective as it stood while that revision was in force (the latest revision: all of it)."""
    return [entry for entry in history if entry.plan_objective_id <= objective.id]


def signed_entries(rows: Iterable[ObjectiveProgress]) -> list[ProgressEntry]:
    """Progress rows (their notes loaded) as entries: the signed notes' only, in the order the notes were held."""
    return [_entry(row) for row in sorted((r for r in rows if r.note.status == "signed"), key=_held)]


def _history(**note_is) -> dict[str, list[ProgressEntry]]:
    """Per lineage, the progress rows of signed notes matching `note_is` (course_id=… or patient_id=…),
    their note and its author loaded in the same statement."""
    note = ObjectiveProgress.note.property.mapper.class_  # SessionNote, without importing the notes package
    rows = db.session.scalars(
        select(ObjectiveProgress).where(ObjectiveProgress.note.has(status="signed", **note_is))
        .options(lazyload("*"), joinedload(ObjectiveProgress.note).lazyload("*"),
                 joinedload(ObjectiveProgress.note).joinedload(note.author))).unique().all()
    history: dict[str, list[ProgressEntry]] = {}
    for row in sorted(rows, key=_held):
        history.setdefault(row.lineage_id, []).append(_entry(row))
    return history


def _held(row: ObjectiveProgress) -> tuple:
    """The order the notes were held in."""
    return row.note.session_date, row.note_id


def _entry(row: ObjectiveProgress) -> ProgressEntry:
    return ProgressEntry(session_date=row.note.session_date, author=row.note.author.display_name,
                         progress=row.progress_label, comment=row.comment, note_id=row.note_id,
                         plan_objective_id=row.plan_objective_id, progress_key=row.progress)
