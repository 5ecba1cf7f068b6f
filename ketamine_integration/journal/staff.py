"""The therapist's side of the journal: the entries a patient shared, as the note form and the course
page show them, and the quote a therapist takes into the experience review. Only shared entries are
ever read here, and only for the therapists of the patient's care team (journal.read, held through a
therapist's place on the team: a clinician who is the patient's prescriber is not given it by a
therapist role they hold for other patients)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..accounts.models import User
from ..db.clinic_time import to_clinic
from ..db.errors import DomainError
from ..domain import journal as rules
from ..domain.permissions import permissions_of
from ..extensions import db
from ..patients.access import team_roles
from ..patients.models import Patient
from .models import JournalEntry

NOT_QUOTABLE = ("That journal entry is not shared with you (the patient may have stopped sharing it): "
                "nothing was quoted or saved.")
UNKNOWN_FIELD = "Choose which part of the experience review to quote it into."


@dataclass(frozen=True)
class SharedEntry:
    """A shared entry as a staff page shows it: the patient's words, marked as theirs, with when and why."""
    id: int
    text: str
    written_on: date
    shared_at: datetime
    #: the prompt's words for staff ("What stood out", "Free entry")
    prompt_label: str
    #: the experience review field it is quoted into unless the therapist chooses another
    into: str
    #: the dose it reflects on (None: written before any dose ended)
    dose_sequence: int | None
    #: the text as it goes into the note: quoted and attributed (domain.journal.quote_of)
    quote: str


def can_read_journal(user: User, patient: Patient) -> bool:
    """Whether `user` may read what this patient shared: journal.read through their roles on the care team."""
    return "journal.read" in permissions_of(team_roles(user, patient))


def shared_entries(course_id: int) -> list[SharedEntry]:
    """The course's shared entries, newest first (one statement, however many)."""
    rows = db.session.scalars(select(JournalEntry).where(JournalEntry.course_id == course_id,
                                                         JournalEntry.shared_at.is_not(None))
                              .options(joinedload(JournalEntry.dosing_session))
                              .order_by(JournalEntry.written_at.desc(), JournalEntry.id.desc())).all()
    return [_shown(entry) for entry in rows]


def readable_entries(user: User, patient: Patient, course_id: int) -> list[SharedEntry] | None:
    """The shared entries `user` may read on this course; None when the journal is not theirs to read
    (the page then shows no journal at all)."""
    return shared_entries(course_id) if can_read_journal(user, patient) else None


def quote_for(user: User, patient: Patient, course_id: int, entry_id, into) -> tuple[str, str]:
    """(field, quote): a shared entry of this course, quoted into an experience review field. A
    DomainError names what is wrong: an entry not (or no longer) shared, another course's, or one the
    user may not read; a field that is not one of the review's."""
    entry = db.session.get(JournalEntry, entry_id) if isinstance(entry_id, int) else None
    if (entry is None or not entry.shared or entry.course_id != course_id
            or not can_read_journal(user, patient)):
        raise DomainError(NOT_QUOTABLE)
    if into not in rules.REVIEW_PROMPTS:
        raise DomainError(UNKNOWN_FIELD)
    return into, _shown(entry).quote


def _shown(entry: JournalEntry) -> SharedEntry:
    written_on = to_clinic(entry.written_at).date()
    return SharedEntry(id=entry.id, text=entry.text, written_on=written_on, shared_at=entry.shared_at,
                       prompt_label=rules.PROMPTS[entry.prompt].label,
                       into=entry.prompt if entry.prompt in rules.REVIEW_PROMPTS else "stood_out",
                       dose_sequence=entry.dosing_session.sequence if entry.dosing_session else None,
                       quote=rules.quote_of(entry.text, written_on, entry.prompt))
