"""Assigning and ending practices, and what the care team reads of them
(adherence per assignment, the obstacles the patient wrote). The vocabulary is vocabulary.py,
the patient's side patient.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain.practices import (OUTCOMES, Adherence, Progress, adherence, frequency_problems, period_problems,
                                progress_on)
from ..extensions import db
from .models import Practice, PracticeAssignment
from .vocabulary import practice_row

#: the obstacles a summary shows, newest first
RECENT_OBSTACLES = 3
INSTRUCTIONS_LIMIT = 500


# -- assignments --------------------------------------------------------------------------------

def assign_practice(course: TreatmentCourse, *, practice_key: str | None, times: int | None, per: str | None,
                    starts_on: date | None, ends_on: date | None, instructions: str | None, by: User,
                    today: date, from_note_id: int | None = None) -> PracticeAssignment:
    """Assign a practice of the vocabulary to the course: `times` a `per` ("day" or "week") from
    `starts_on` to `ends_on`, with optional instructions the patient reads. Refused, by field
    ("practice", "times", "per", "starts_on", "ends_on", "instructions"), with nothing written."""
    if course.current_phase.ended:
        raise DomainError("This course has ended: practices are assigned on a course under way.")
    practice = practice_row(practice_key)
    problems = {} if practice is not None and practice.active else {"practice": "Choose a practice from the list."}
    problems.update(frequency_problems(times, per))
    problems.update(period_problems(starts_on, ends_on, course.start_date))
    if "ends_on" not in problems and ends_on is not None and ends_on < today:
        problems["ends_on"] = "The last day has passed: choose today or a later day."
    instructions = (instructions or "").strip() or None
    if instructions and len(instructions) > INSTRUCTIONS_LIMIT:
        problems["instructions"] = f"Keep the instructions to {INSTRUCTIONS_LIMIT} characters."
    if not problems:
        problems.update(_overlap(course, practice, starts_on, ends_on))
    if problems:
        raise DomainError(problems)
    assignment = PracticeAssignment(course_id=course.id, patient_id=course.patient_id, practice=practice,
                                    times=times, per=per, starts_on=starts_on, ends_on=ends_on,
                                    instructions=instructions, assigned_by_id=by.id, from_note_id=from_note_id)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def _overlap(course: TreatmentCourse, practice: Practice, starts_on: date, ends_on: date) -> dict[str, str]:
    """The same practice assigned to the course over days that meet: one log could count twice."""
    for other in db.session.scalars(select(PracticeAssignment).where(
            PracticeAssignment.course_id == course.id, PracticeAssignment.practice_id == practice.id)):
        period = other.period
        if period.starts_on <= ends_on and starts_on <= period.ends_on:
            return {"starts_on": f"{practice.name} is assigned already from {period.starts_on.isoformat()} to "
                                 f"{period.ends_on.isoformat()}: end that assignment first, or start after it."}
    return {}


def end_assignment(assignment: PracticeAssignment, *, by: User, today: date, now: datetime) -> None:
    """End an assignment today (its last counted day): kept with its logs, never deleted."""
    lock_row(assignment)  # two ends at once: the second sees the first
    if assignment.ended_on is not None:
        raise DomainError(f"Already ended on {assignment.ended_on.isoformat()}.")
    if assignment.ends_on < today:
        raise DomainError(f"Its period ended on {assignment.ends_on.isoformat()} already.")
    # ended before it started: its last counted day is the day before its first (nothing is due)
    assignment.ended_on = max(today, assignment.starts_on - timedelta(days=1))
    assignment.ended_by_id, assignment.ended_at = by.id, now
    db.session.flush()


# -- what the care team reads -------------------------------------------------------------------

@dataclass(frozen=True)
class Obstacle:
    on: date
    outcome: str
    note: str


@dataclass(frozen=True)
class AssignmentSummary:
    """One assignment as the therapist reads it: adherence over the days that are over, the
    block under way, and what got in the way lately."""

    assignment: PracticeAssignment
    adherence: Adherence
    progress: Progress | None
    logs: int
    obstacles: tuple[Obstacle, ...]
    current: bool

    @property
    def outcome_words(self) -> dict[str, str]:
        return OUTCOMES


def course_assignments(course_id: int) -> list[PracticeAssignment]:
    """A course's assignments with their logs (two statements, however many), current ones first."""
    return db.session.scalars(select(PracticeAssignment).where(PracticeAssignment.course_id == course_id)
                              .options(selectinload(PracticeAssignment.logs))
                              .order_by(PracticeAssignment.starts_on.desc(), PracticeAssignment.id.desc())).all()


def summarise(assignment: PracticeAssignment, today: date) -> AssignmentSummary:
    """Adherence through yesterday (today is still under way), and today's or this week's block."""
    logs = [log.as_log() for log in assignment.logs]
    frequency, period = assignment.frequency, assignment.period
    obstacles = tuple(Obstacle(log.for_date, log.outcome, log.note)
                      for log in sorted(assignment.logs, key=lambda l: (l.for_date, l.id), reverse=True)
                      if log.note)[:RECENT_OBSTACLES]
    return AssignmentSummary(assignment, adherence(frequency, period, logs, today - timedelta(days=1)),
                             progress_on(frequency, period, logs, today), len(logs), obstacles,
                             assignment.current_on(today))


def course_practice_summaries(course_id: int, today: date) -> list[AssignmentSummary]:
    """The course page's and the integration note's practices panel: current assignments first."""
    summaries = [summarise(a, today) for a in course_assignments(course_id)]
    return sorted(summaries, key=lambda s: not s.current)
