"""What the cross-session views show: theme recurrence, the action-step tracker and the course
page's open steps with the patient's own check-ins."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..db.errors import DomainError
from ..extensions import db
from .models import SIGNED, ActionCheckIn, ActionStep, NoteTheme, SessionNote, Theme
from .patient_check_ins import PatientStepCheckIn, check_ins_by_step
from .services import open_steps


@dataclass(frozen=True)
class ThemeRow:
    name: str
    vocabulary: bool
    sessions: int
    first_seen: date
    last_seen: date
    words: tuple[str, ...]


def theme_recurrence(patient_id: int, course_id: int | None = None) -> list[ThemeRow]:
    """Each theme in the patient's signed notes (of one course, if given): in how many sessions,
    first and last seen, the patient's own words; recurring themes first."""
    stmt = (select(NoteTheme, SessionNote.session_date).join(SessionNote, SessionNote.id == NoteTheme.note_id)
            .where(SessionNote.patient_id == patient_id, SessionNote.status == SIGNED)
            .order_by(SessionNote.session_date))
    if course_id is not None:
        stmt = stmt.where(SessionNote.course_id == course_id)
    rows = db.session.execute(stmt).all()
    grouped: dict[str, list] = {}
    for theme, when in rows:
        key = theme.name.strip().lower()
        grouped.setdefault(key, []).append((theme, when))
    result = []
    for items in grouped.values():
        dates = [when for _, when in items]
        result.append(ThemeRow(name=items[0][0].name, vocabulary=items[0][0].theme_id is not None,
                               sessions=len({(t.note_id) for t, _ in items}), first_seen=min(dates),
                               last_seen=max(dates),
                               words=tuple(t.patient_words for t, _ in items if t.patient_words)))
    return sorted(result, key=lambda r: (-r.sessions, r.first_seen, r.name))


def step_tracker(course_id: int) -> list[tuple[ActionStep, list[tuple[ActionCheckIn, date]]]]:
    """Each action step agreed in a signed note, with its signed check-ins over time."""
    steps = db.session.scalars(
        select(ActionStep).join(SessionNote, SessionNote.id == ActionStep.note_id)
        .where(ActionStep.course_id == course_id, SessionNote.status == SIGNED)
        .options(selectinload(ActionStep.note)).order_by(ActionStep.starts_on, ActionStep.id)).all()
    check_ins = db.session.execute(
        select(ActionCheckIn, SessionNote.session_date).join(SessionNote, SessionNote.id == ActionCheckIn.note_id)
        .where(ActionCheckIn.action_step_id.in_([s.id for s in steps]), SessionNote.status == SIGNED)
        .order_by(SessionNote.session_date, ActionCheckIn.id)).all() if steps else []
    by_step: dict[int, list] = {}
    for check_in, when in check_ins:
        by_step.setdefault(check_in.action_step_id, []).append((check_in, when))
    return [(s, by_step.get(s.id, [])) for s in steps]


#: how many of the patient's check-ins the course page shows under each open step (the action
#: steps page shows them all)
COURSE_PAGE_CHECK_INS = 3


@dataclass(frozen=True)
class OpenStep:
    """An open step of the course page, with the patient's newest check-ins on it (their words)."""

    step: ActionStep
    check_ins: tuple[PatientStepCheckIn, ...]
    more: int  #: how many older ones the action steps page shows besides


def open_steps_with_check_ins(course_id: int) -> list[OpenStep]:
    """The course's open steps agreed in signed notes, each with the patient's newest check-ins:
    two statements whatever the number of steps or check-ins."""
    steps = open_steps(course_id)
    theirs = check_ins_by_step(s.id for s in steps)
    return [OpenStep(step, tuple(theirs.get(step.id, [])[:COURSE_PAGE_CHECK_INS]),
                     max(0, len(theirs.get(step.id, [])) - COURSE_PAGE_CHECK_INS)) for step in steps]


def add_theme(name: str) -> Theme:
    name = " ".join(name.split())
    if db.session.scalar(select(Theme.id).where(func.lower(Theme.name) == name.lower())):
        raise DomainError({"name": "That theme is in the vocabulary already."})
    theme = Theme(name=name)
    db.session.add(theme)
    db.session.flush()
    return theme
