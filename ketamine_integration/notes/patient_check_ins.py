"""The patient's check-ins on the action steps agreed in signed notes (issue 23, point 6): what
the patient may see of a step, their check-ins, and the ones the therapist's next note shows.

A table of their own rather than ActionCheckIn rows with a source: a therapist's check-in is part
of a note (it names the note, carries a decision and is frozen when the note is signed), while
the patient's belongs to no note, decides nothing and is written between sessions. Append-only
(migration 0039's triggers): a patient's entry is never lost or rewritten.

The portal's pages call these with the patient and the clock; each checks that the step is the
patient's own (else StepNotThePatients: the portal answers 404), validates, writes and audits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.locking import add_once
from ..db.types import UTCDateTime, utcnow
from ..domain.phases import Phase
from ..domain.practices import NOTE_LIMIT, OUTCOMES, date_words
from ..extensions import db
from ..patients.models import Patient
from .models import SIGNED, ActionStep, SessionNote

#: how far back a patient may check in on a day
LATE_CHECK_IN_DAYS = 14
#: what a patient can do about a day already checked in on: a check-in is part of their record and stays as saved
CHECK_IN_STAYS = ("A check-in stays as you saved it: to add something about that day, write it in your next "
                  "check-in, or tell your therapist at your next session.")
ALREADY = "You checked in on this step for that day already."


class PatientStepCheckIn(db.Model):
    """The patient's word on an action step for one day: done, partly or not, what got in the way."""

    __tablename__ = "patient_step_check_ins"
    __table_args__ = (
        UniqueConstraint("action_step_id", "for_date", name="uq_patient_step_check_ins_day"),
        CheckConstraint("progress IN ('done', 'partly', 'not')", name="known_progress"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_step_id: Mapped[int] = mapped_column(ForeignKey("action_steps.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: the clinic day it is about
    for_date: Mapped[date]
    progress: Mapped[str] = mapped_column(String(10))
    #: what got in the way, in the patient's words
    obstacles: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    step: Mapped[ActionStep] = relationship()

    @property
    def progress_words(self) -> str:
        return OUTCOMES[self.progress]


class StepNotThePatients(LookupError):
    """No such step among those agreed in the patient's signed notes."""


@dataclass(frozen=True)
class VisibleStep:
    """All the patient sees of a step: what, how often, from when, the review date, and their own
    check-ins (newest first). Never the note's other content."""

    step_id: int
    what: str
    how_often: str
    starts_on: date
    review_on: date
    check_ins: tuple[tuple[date, str, str | None], ...]


def _patients_steps(patient: Patient):
    """Steps agreed in the patient's signed notes, on their own courses still running (a completed or
    discontinued course's steps are no longer worked on: checked in on as its practices are logged,
    not at all), still open."""
    ended = [phase.value for phase in Phase if phase.ended]
    return (select(ActionStep).join(SessionNote, SessionNote.id == ActionStep.note_id)
            .join(TreatmentCourse, TreatmentCourse.id == ActionStep.course_id)
            .where(SessionNote.status == SIGNED, SessionNote.patient_id == patient.id,
                   TreatmentCourse.patient_id == patient.id, TreatmentCourse.phase.not_in(ended),
                   ActionStep.status == "open"))


def _seen(step: ActionStep, check_ins: list[PatientStepCheckIn]) -> VisibleStep:
    own = sorted((c for c in check_ins if c.action_step_id == step.id), key=lambda c: c.for_date, reverse=True)
    return VisibleStep(step.id, step.what, step.how_often, step.starts_on, step.review_on,
                       tuple((c.for_date, OUTCOMES[c.progress], c.obstacles) for c in own))


def _check_ins_of(step_ids: list[int]) -> list[PatientStepCheckIn]:
    if not step_ids:
        return []
    return db.session.scalars(select(PatientStepCheckIn).where(PatientStepCheckIn.action_step_id.in_(step_ids))
                              .order_by(PatientStepCheckIn.id)).all()


def patient_steps(patient: Patient, now: datetime) -> list[VisibleStep]:
    """The patient's open steps from signed notes, as they may see them (audited "step.view")."""
    steps = db.session.scalars(_patients_steps(patient).order_by(ActionStep.starts_on, ActionStep.id)).all()
    check_ins = _check_ins_of([s.id for s in steps])
    audit.record("step.view", object_type="patient", object_id=patient.id, patient_id=patient.id,
                 detail=f"{len(steps)} steps")
    return [_seen(step, check_ins) for step in steps]


def _own_step(patient: Patient, step_id: int) -> ActionStep:
    step = db.session.scalar(_patients_steps(patient).where(ActionStep.id == step_id))
    if step is None:
        audit.denial("action step not the patient's own", patient_id=patient.id)
        raise StepNotThePatients(step_id)
    return step


def visible_step(patient: Patient, step_id: int, now: datetime) -> VisibleStep:
    """One of the patient's steps as they may see it, else StepNotThePatients (audited "step.view")."""
    step = _own_step(patient, step_id)
    audit.record("step.view", obj=step, patient_id=patient.id)
    return _seen(step, _check_ins_of([step.id]))


def check_in_on_step(patient: Patient, step_id: int, progress: str | None, for_date: date | None,
                     obstacles: str | None, now: datetime) -> PatientStepCheckIn:
    """The patient checks in on step `step_id` for the clinic day `for_date` (today or up to two
    weeks back, not before the step starts): `progress` "done", "partly" or "not", and what got in
    the way. One check-in per step per day. Reasons by field: "progress", "for_date", "obstacles".
    Returns the check-in (audited "step_check_in.record")."""
    step = _own_step(patient, step_id)
    today, obstacles = clinic_today(now), (obstacles or "").strip() or None
    problems = _check_in_problems(step, progress, for_date, obstacles, today)
    if problems:
        audit.record("step_check_in.record", obj=step, patient_id=patient.id, outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(sorted(problems))}")
        raise DomainError(problems)
    check_in = add_once(PatientStepCheckIn(action_step_id=step.id, patient_id=patient.id, for_date=for_date,
                                           progress=progress, obstacles=obstacles, recorded_at=now),
                        {"for_date": f"{ALREADY} {CHECK_IN_STAYS}"})
    audit.record("step_check_in.record", obj=check_in, patient_id=patient.id, detail=f"step {step.id}; {progress}")
    return check_in


def _check_in_problems(step: ActionStep, progress, for_date, obstacles, today: date) -> dict[str, str]:
    problems = {}
    if progress not in OUTCOMES:
        problems["progress"] = "Choose done, partly or not done."
    if for_date is None:
        problems["for_date"] = "Choose the day this is about."
    elif for_date > today:
        problems["for_date"] = "Choose today or an earlier day."
    elif for_date < step.starts_on:
        problems["for_date"] = f"This step starts on {date_words(step.starts_on, today)}: choose a day from then on."
    elif for_date < today - timedelta(days=LATE_CHECK_IN_DAYS):
        problems["for_date"] = f"Check in on a day within the last {LATE_CHECK_IN_DAYS} days."
    elif db.session.scalar(select(PatientStepCheckIn.id).where(PatientStepCheckIn.action_step_id == step.id,
                                                               PatientStepCheckIn.for_date == for_date)):
        problems["for_date"] = (f"You checked in on this step for {date_words(for_date, today)} already. "
                                f"{CHECK_IN_STAYS}")
    if obstacles and len(obstacles) > NOTE_LIMIT:
        problems["obstacles"] = f"Keep this to {NOTE_LIMIT} characters."
    return problems


def check_ins_since_last_note(note: SessionNote) -> dict[int, list[PatientStepCheckIn]]:
    """The patient's check-ins the therapist's check-in section of `note` shows, by step: those
    recorded since the course's last signed note before this one (all of them when there is none)."""
    last_signed = db.session.scalar(select(SessionNote.signed_at).where(
        SessionNote.course_id == note.course_id, SessionNote.status == SIGNED, SessionNote.id != note.id)
        .order_by(SessionNote.signed_at.desc()).limit(1))
    stmt = (select(PatientStepCheckIn).join(ActionStep, ActionStep.id == PatientStepCheckIn.action_step_id)
            .where(ActionStep.course_id == note.course_id).order_by(PatientStepCheckIn.for_date,
                                                                     PatientStepCheckIn.id))
    if last_signed is not None:
        stmt = stmt.where(PatientStepCheckIn.recorded_at > last_signed)
    found: dict[int, list[PatientStepCheckIn]] = {}
    for check_in in db.session.scalars(stmt):
        found.setdefault(check_in.action_step_id, []).append(check_in)
    return found


def check_ins_by_step(step_ids) -> dict[int, list[PatientStepCheckIn]]:
    """Every check-in of the patient's on these steps, by step, the newest day first: what the
    therapist's action-step views show beside each step, in one statement however many steps."""
    ids = list(step_ids)
    found: dict[int, list[PatientStepCheckIn]] = {}
    if not ids:
        return found
    stmt = (select(PatientStepCheckIn).where(PatientStepCheckIn.action_step_id.in_(ids))
            .order_by(PatientStepCheckIn.for_date.desc(), PatientStepCheckIn.id.desc()))
    for check_in in db.session.scalars(stmt):
        found.setdefault(check_in.action_step_id, []).append(check_in)
    return found
