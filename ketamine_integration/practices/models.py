"""The practice vocabulary, practices assigned to a course, and the patient's log of each (migration 0039)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.practices import Frequency, Log, Period
from ..extensions import db
from ..patients.models import Patient


class Practice(db.Model):
    """One self-guided practice of the clinic's vocabulary, kept by the admin. Never deleted:
    assignments and signed notes name it; an archived one is no longer offered."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what notes store when the practice is ticked ("journaling"; the clinic's own: "own-<n>")
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PracticeAssignment(db.Model):
    """A practice the care team's therapist asked the patient to keep, how often and over which
    days. Never deleted or rewritten: it is ended (once) and a changed one is assigned anew."""

    __tablename__ = "practice_assignments"
    __table_args__ = (
        CheckConstraint("per IN ('day', 'week')", name="known_per"),
        CheckConstraint("times >= 1", name="at_least_once"),
        CheckConstraint("ends_on >= starts_on", name="ordered_period"),
        CheckConstraint("(ended_on IS NULL AND ended_by_id IS NULL AND ended_at IS NULL) OR "
                        "(ended_on IS NOT NULL AND ended_by_id IS NOT NULL AND ended_at IS NOT NULL)",
                        name="ended_by_someone"),
        Index("ix_practice_assignments_course", "course_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"))
    #: how often: `times` per `per` ("day" or "week": 7-day blocks from starts_on, domain/practices.py)
    times: Mapped[int]
    per: Mapped[str] = mapped_column(String(5))
    #: the period, clinic dates, both days included
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    #: the therapist's words to the patient (the patient sees them)
    instructions: Mapped[str | None] = mapped_column(String(500))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the integration note it was assigned from, when it was (the note names no assignment)
    from_note_id: Mapped[int | None] = mapped_column(ForeignKey("session_notes.id"))
    #: ended early: the last clinic day it counts, who ended it and when
    ended_on: Mapped[date | None]
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    practice: Mapped[Practice] = relationship(lazy="joined")
    course: Mapped[TreatmentCourse] = relationship()
    patient: Mapped[Patient] = relationship()
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id], lazy="joined")
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])
    logs: Mapped[list[PracticeLog]] = relationship(back_populates="assignment", order_by="PracticeLog.id")

    @property
    def frequency(self) -> Frequency:
        return Frequency(self.times, self.per)

    @property
    def period(self) -> Period:
        """The days it counts: to its last day, or to the day it was ended if that came first."""
        last = self.ends_on if self.ended_on is None else min(self.ends_on, self.ended_on)
        return Period(self.starts_on, last)

    def current_on(self, today: date) -> bool:
        """Still to be kept: not ended, and its last day not past."""
        return self.ended_on is None and self.ends_on >= today


class PracticeLog(db.Model):
    """The patient's word on one occurrence of an assigned practice: done, partly or not, and
    what got in the way. Append-only (migration 0039's triggers): a patient's entry is never lost."""

    __tablename__ = "practice_logs"
    __table_args__ = (
        # one log per occurrence: a daily practice's 1st, 2nd ... of a day; a weekly one's, once a day
        UniqueConstraint("assignment_id", "for_date", "occurrence", name="uq_practice_logs_occurrence"),
        CheckConstraint("outcome IN ('done', 'partly', 'not')", name="known_outcome"),
        CheckConstraint("occurrence >= 1", name="counted_from_one"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("practice_assignments.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: the clinic day the log is for
    for_date: Mapped[date]
    occurrence: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(10))
    #: what got in the way, in the patient's words
    note: Mapped[str | None] = mapped_column(String(500))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignment: Mapped[PracticeAssignment] = relationship(back_populates="logs")

    def as_log(self) -> Log:
        return Log(self.for_date, self.outcome)
