"""The patient's side of practices (issue 23, point 5), for the portal's pages to call: the
practices assigned to them in plain words, and logging one occurrence of one.

Each function takes the patient and the clock, checks that the record is the patient's own,
validates, writes and audits (one row, naming the patient; a refusal's row is durable) and
raises DomainError with reasons by field on bad input, having written nothing else. A record
that is not the patient's raises NotThePatients: the portal answers 404, as for no such record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.locking import add_once, lock_row
from ..domain.practices import NOTE_LIMIT, OUTCOMES, Progress, occurrence_for, open_days, progress_on
from ..extensions import db
from ..patients.models import Patient
from .models import PracticeAssignment, PracticeLog

#: how far back a patient may log a day they did not log at the time
LATE_LOG_DAYS = 14
#: how long an assignment stays on the patient's list after its last day (to log the last days late)
SHOWN_AFTER_END_DAYS = LATE_LOG_DAYS


class NotThePatients(LookupError):
    """No such record among the patient's own (another patient's, or none at all)."""


@dataclass(frozen=True)
class PatientLog:
    for_date: date
    outcome: str
    #: the words for the outcome ("Done", "Partly", "Not done")
    outcome_words: str
    note: str | None


@dataclass(frozen=True)
class PatientPractice:
    """What the patient sees of one assignment: the practice, how often, the days, the therapist's
    instructions, this day's (or week's) progress and their own logs, newest first. Nothing else
    of the record (no clinician's note, no adherence figure)."""

    assignment_id: int
    name: str
    how_often: str
    starts_on: date
    ends_on: date
    instructions: str | None
    progress: Progress | None
    logs: tuple[PatientLog, ...]
    #: the days of the last LATE_LOG_DAYS that take no more logs (the day picker leaves them out)
    full_days: frozenset[date]
    #: still to be kept (not ended, its last day not past); otherwise shown only to log late days
    current: bool

    @property
    def day_entries(self) -> tuple[tuple[date, str, str | None], ...]:
        """The logs as the portal lists them, as an action step's check-ins: (day, outcome in words,
        note), newest first."""
        return tuple((log.for_date, log.outcome_words, log.note) for log in self.logs)


def _own_assignments(patient: Patient):
    return (select(PracticeAssignment).join(TreatmentCourse, TreatmentCourse.id == PracticeAssignment.course_id)
            .where(PracticeAssignment.patient_id == patient.id, TreatmentCourse.patient_id == patient.id))


def patient_practices(patient: Patient, now: datetime) -> list[PatientPractice]:
    """The patient's practices: current ones, and those that ended within the last two weeks
    (late days can still be logged). Audited as one read ("practice.view")."""
    today = clinic_today(now)
    shown_from = today - timedelta(days=SHOWN_AFTER_END_DAYS)
    rows = db.session.scalars(_own_assignments(patient).options(selectinload(PracticeAssignment.logs))
                              .order_by(PracticeAssignment.starts_on, PracticeAssignment.id)).all()
    # current ones (those still to start too), and recent ones whose late days may still be logged
    practices = [_as_seen(a, today) for a in rows if a.current_on(today)
                 or a.period.ends_on >= max(shown_from, a.starts_on)]
    audit.record("practice.view", object_type="patient", object_id=patient.id, patient_id=patient.id,
                 detail=f"{len(practices)} practices")
    return practices


def _as_seen(assignment: PracticeAssignment, today: date) -> PatientPractice:
    period = assignment.period
    logs = tuple(PatientLog(log.for_date, log.outcome, OUTCOMES[log.outcome], log.note)
                 for log in sorted(assignment.logs, key=lambda l: (l.for_date, l.id), reverse=True))
    return PatientPractice(assignment.id, assignment.practice.name, assignment.frequency.words(), period.starts_on,
                           period.ends_on, assignment.instructions,
                           progress_on(assignment.frequency, period, [l.as_log() for l in assignment.logs], today),
                           logs, full_days(assignment, today), assignment.current_on(today))


def full_days(assignment: PracticeAssignment, today: date) -> frozenset[date]:
    """The days a patient may log late (today and LATE_LOG_DAYS back, inside the period) that are logged in
    full already: as often as the practice asks for the day, or for its week."""
    period = assignment.period
    days = [today - timedelta(days=n) for n in range(LATE_LOG_DAYS + 1)
            if period.starts_on <= today - timedelta(days=n) <= period.ends_on]
    logged = [log.for_date for log in assignment.logs]
    return frozenset(days) - frozenset(open_days(assignment.frequency, period, logged, days, today))


def own_assignment(patient: Patient, assignment_id: int) -> PracticeAssignment:
    """The patient's own assignment by id, else NotThePatients (a denial is audited)."""
    assignment = db.session.scalar(_own_assignments(patient).where(PracticeAssignment.id == assignment_id))
    if assignment is None:
        audit.denial("practice assignment not the patient's own", patient_id=patient.id)
        raise NotThePatients(assignment_id)
    return assignment


def log_practice(patient: Patient, assignment_id: int, outcome: str | None, for_date: date | None,
                 note: str | None, now: datetime) -> PracticeLog:
    """Log one occurrence of the patient's assignment `assignment_id`: `outcome` "done", "partly" or
    "not", for the clinic day `for_date` (today or up to two weeks back, inside the period), with an
    optional `note` on what got in the way. Reasons by field: "outcome", "for_date", "note"; ""
    for the assignment itself (its course ended). Returns the log (audited "practice.log")."""
    assignment = own_assignment(patient, assignment_id)
    lock_row(assignment)  # two logs for the same day at once take turns for the occurrence
    today, note = clinic_today(now), (note or "").strip() or None
    problems = _log_problems(assignment, outcome, for_date, note, today)
    occurrence = None
    if not problems:
        days = [log.for_date for log in assignment.logs]
        occurrence, problems = occurrence_for(assignment.frequency, assignment.period, days, for_date, today)
    if problems:
        audit.record("practice.log", obj=assignment, patient_id=patient.id, outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(sorted(problems)) or 'assignment'}")
        raise DomainError(problems)
    log = add_once(PracticeLog(assignment_id=assignment.id, patient_id=patient.id, for_date=for_date,
                               occurrence=occurrence, outcome=outcome, note=note, logged_at=now),
                   {"for_date": "That day was just logged: look at your list again."})
    audit.record("practice.log", obj=log, patient_id=patient.id, detail=f"assignment {assignment.id}; {outcome}")
    return log


def _log_problems(assignment: PracticeAssignment, outcome, for_date, note, today: date) -> dict[str, str]:
    problems = {}
    if assignment.course.current_phase.ended:
        problems[""] = "This course has ended: its practices are no longer logged."
    if outcome not in OUTCOMES:
        problems["outcome"] = "Choose done, partly or not done."
    if for_date is None:
        problems["for_date"] = "Choose the day this is for."
    elif for_date < today - timedelta(days=LATE_LOG_DAYS):
        problems["for_date"] = f"Log a day within the last {LATE_LOG_DAYS} days."
    if note and len(note) > NOTE_LIMIT:
        problems["note"] = f"Keep the note to {NOTE_LIMIT} characters."
    return problems
