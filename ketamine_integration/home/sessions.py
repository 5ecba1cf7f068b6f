"""Today's and tomorrow's sessions, the first thing the home page shows (issue 21, point 1): the
calendar's time grid of those two days, of the sessions the user sees on the calendar (a nurse:
the dosing sessions of their care-team patients, which they record), with the note each of a
therapist's own sessions today leads to."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import defer, lazyload

from ..accounts.models import User
from ..db.clinic_time import clinic_zone
from ..extensions import db
from ..notes.models import DRAFT, SessionNote
from ..scheduling.calendar import Entry, calendar_scope
from ..scheduling.grid import TimeGrid, time_grid

#: the kinds of session a therapist writes a session note for, with the note's kind
NOTE_KINDS = {"integration": "integration", "preparation": "preparation"}
#: whose sessions: the clinic's (whoever runs the schedule), the user's own, the doses of their patients
CLINIC, OWN, DOSING = "clinic", "own", "dosing"


@dataclass(frozen=True)
class TodaysNote:
    """A therapist's own session today and their note of it."""

    #: the note's kind ("integration", "preparation")
    kind: str
    #: the signed note, else the latest draft; None: none written yet
    note: SessionNote | None


@dataclass(frozen=True)
class HomeSessions:
    scope: str
    #: a column for today and one for tomorrow
    grid: TimeGrid
    #: by appointment id, the note each of the user's own sessions today calls for
    notes: dict[int, TodaysNote]


def home_sessions(user: User, now: datetime) -> HomeSessions | None:
    """Today's and tomorrow's sessions in the clinic's zone, cancelled ones left out; None for a
    user who sees no schedule. The grid's queries, and one more for a therapist's notes of today."""
    if not user.can("schedule.read"):
        return None
    scope = calendar_scope(user, None)
    if scope.sees_all:
        kind, name = None, CLINIC
    elif scope.clinician_id is not None:
        kind, name = None, OWN
    elif user.can("dosing.read"):
        kind, name = "dosing", DOSING
    else:
        return None
    today = now.astimezone(clinic_zone()).date()
    grid = time_grid(today, today + timedelta(days=1), now=now, clinician_id=scope.clinician_id,
                     patient_ids=scope.patient_ids, kind=kind, with_cancelled=False,
                     viewer_id=user.id)
    mine = [b.entry for b in grid.columns[0].blocks if user.can("notes.write") and b.entry.clinician_id == user.id
            and b.entry.kind in NOTE_KINDS and b.entry.course_id is not None]
    found = _notes_of(user, today, mine)
    notes = {e.id: TodaysNote(NOTE_KINDS[e.kind], found.get((e.course_id, NOTE_KINDS[e.kind]))) for e in mine}
    return HomeSessions(name, grid, notes)


def _notes_of(user: User, day: date, entries: list[Entry]) -> dict[tuple[int, str], SessionNote]:
    """The user's notes of `day` on these sessions' courses, by (course, kind): the signed one if
    any, else the latest draft (a discarded draft is no note)."""
    courses = sorted({e.course_id for e in entries})
    if not courses:
        return {}
    found: dict[tuple[int, str], SessionNote] = {}
    for note in db.session.scalars(select(SessionNote).where(
            SessionNote.author_id == user.id, SessionNote.session_date == day, SessionNote.course_id.in_(courses),
            SessionNote.discarded_at.is_(None)).order_by(SessionNote.id)
            .options(defer(SessionNote.content), lazyload("*"))):
        key = (note.course_id, note.kind)
        if key not in found or found[key].status == DRAFT:
            found[key] = note
    return found
