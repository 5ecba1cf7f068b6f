"""Drafts: which of an author's drafts hold anything written (the ones the home page counts as
unsigned work), and discarding one (issue 20, point 6: "Start a note" made a draft at once, and
blank drafts could never go)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from sqlalchemy import Select, exists, or_, select

from ..accounts.models import User
from ..db.errors import ConcurrentEdit, DomainError
from ..db.locking import flush_versioned
from ..extensions import db
from .models import DRAFT, NOTE_KINDS, ActionCheckIn, ActionStep, NoteDosingLink, NoteTheme, ProcessNote, SessionNote

DISCARD_CONFLICT = ("This draft was saved in another window after you opened it. Review it before discarding "
                    "it: nothing was discarded.")


def has_writing(content: dict | None) -> bool:
    """Whether a draft's narrative sections hold anything: text, a choice, a ticked box."""
    return any(value not in (None, "", [], {}) for value in (content or {}).values())


@dataclass(frozen=True)
class DraftToSign:
    """A draft of the author's holding something written: unsigned work (the home page lists them)."""

    id: int
    patient_id: int
    course_id: int
    kind: str
    session_date: date

    @property
    def label(self) -> str:
        return NOTE_KINDS[self.kind]


def drafts_to_sign(author_id: int, patients: Iterable[int] | Select) -> list[DraftToSign]:
    """The author's drafts on these patients (ids, or a SELECT of ids) that hold anything (a
    section, a theme, a step, a check-in, a dosing link), oldest session first: one statement,
    whatever the caseload. A blank draft ("Start a note" and nothing more) is not unsigned work; a
    discarded one is gone from every list."""
    ids = patients if isinstance(patients, Select) else list(patients)
    if not isinstance(ids, Select) and not ids:
        return []
    return drafts_in(db.session.execute(drafts_statement(author_id, ids)))


def drafts_statement(author_id: int, patients: list[int] | Select) -> Select:
    """The statement drafts_to_sign runs: the author's drafts on these patients, with their content and
    whether anything hangs on them (a theme, a step, a check-in, a dosing link), for drafts_in to judge.
    A SELECT of ids as `patients` makes a statement that can be built once and run on every request
    (home.waiting)."""
    parts = [exists().where(table.note_id == SessionNote.id)
             for table in (NoteTheme, ActionStep, ActionCheckIn, NoteDosingLink)]
    return select(SessionNote.id, SessionNote.patient_id, SessionNote.course_id, SessionNote.kind,
                  SessionNote.session_date, SessionNote.content, or_(*parts).label("parts")).where(
        SessionNote.author_id == author_id, SessionNote.status == DRAFT, SessionNote.discarded_at.is_(None),
        SessionNote.patient_id.in_(patients)).order_by(SessionNote.session_date, SessionNote.id)


def drafts_in(rows: Iterable) -> list[DraftToSign]:
    """The drafts to sign among the rows of drafts_statement: those holding anything written."""
    return [DraftToSign(r.id, r.patient_id, r.course_id, r.kind, r.session_date)
            for r in rows if r.parts or has_writing(r.content)]


def written_drafts(author_id: int, patient_ids: Iterable[int]) -> Counter:
    """The author's drafts to sign (drafts_to_sign), counted by patient."""
    return Counter(d.patient_id for d in drafts_to_sign(author_id, patient_ids))


def discard_note(note: SessionNote, *, by: User, expected_version: int, now: datetime) -> None:
    """The author gives up a draft: its text, themes, steps, check-ins, dosing links, techniques,
    technique responses, progress on plan objectives and the author's process notes on it are cleared for good; the note
    stays, marked discarded with who and when, so the record shows it was started and given up.
    A signed note is never discarded (corrections are addenda), and no one discards another's draft."""
    if note.status != DRAFT:
        raise DomainError("A signed note is never discarded; add an addendum instead.")
    if note.author_id != by.id:
        raise DomainError("Only the note's author can discard a draft.")
    if note.discarded:
        raise DomainError("This draft was discarded already.")
    if note.version != expected_version:
        raise ConcurrentEdit(DISCARD_CONFLICT, current_version=note.version)
    note.content = {}
    note.themes, note.check_ins, note.dosing_links = [], [], []
    note.techniques, note.technique_responses, note.objective_progress = [], [], []
    for step in list(note.new_steps):
        db.session.delete(step)
    note.new_steps = []
    process = db.session.scalar(select(ProcessNote).where(ProcessNote.note_id == note.id))
    if process is not None:
        process.body = ""  # psychotherapy notes on a discarded draft are not kept either
    note.discarded_at, note.discarded_by_id = now, by.id
    flush_versioned(note, DISCARD_CONFLICT)
