"""What waits on a user in coordination (issue 21, point 1): the notes addressed to them still to
acknowledge, and the answers to their own notes they have not seen yet; lists for the pages and
counts (one SELECT each, to be combined) for the home page and the menu's badge."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BindParameter, Select, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from ..accounts.models import User
from ..extensions import db
from ..patients.access import active_caseload
from .models import CoordinationNote, ReplySeen
from .services import outside_patients


def _to_acknowledge(user: User, today: date | BindParameter):
    """Notes to `user` not yet acknowledged, about their care-team patients or sent to them from
    outside the care team under a release active today (those reach the prescriber's worklist too)."""
    return (CoordinationNote.recipient_id == user.id, CoordinationNote.acknowledged_at.is_(None),
            or_(CoordinationNote.patient_id.in_(active_caseload(user)),
                CoordinationNote.patient_id.in_(outside_patients(user, today))))


def notes_to_acknowledge(user: User, today: date) -> list[CoordinationNote]:
    """The notes waiting for the user's acknowledgement, urgent first, oldest first within each."""
    notes = db.session.scalars(select(CoordinationNote).where(*_to_acknowledge(user, today))
                               .order_by(CoordinationNote.sent_at, CoordinationNote.id)
                               .options(joinedload(CoordinationNote.patient))).all()
    return sorted(notes, key=lambda n: n.priority != "urgent")  # stable: oldest first within each


def count_to_acknowledge(user: User, today: date | BindParameter) -> Select:
    """A SELECT of how many notes wait for the user's acknowledgement (`today`: a date, or a parameter
    bound to it when the SELECT is run: home.waiting builds it once)."""
    return select(func.count(CoordinationNote.id)).where(*_to_acknowledge(user, today))


def count_urgent_to_acknowledge(user: User, today: date | BindParameter) -> Select:
    return select(func.count(CoordinationNote.id)).where(*_to_acknowledge(user, today),
                                                         CoordinationNote.priority == "urgent")


def _unseen_answers(user: User):
    """The user's own notes, answered (acknowledged, with or without a reply), whose answer the
    user has not opened yet, about a patient still on their care team."""
    seen = exists().where(ReplySeen.note_id == CoordinationNote.id)
    return (CoordinationNote.author_id == user.id, CoordinationNote.acknowledged_at.is_not(None), ~seen,
            CoordinationNote.patient_id.in_(active_caseload(user)))


def new_replies(user: User) -> list[CoordinationNote]:
    """Answers to the user's notes not yet seen, newest answer first."""
    return db.session.scalars(select(CoordinationNote).where(*_unseen_answers(user))
                              .order_by(CoordinationNote.acknowledged_at.desc(), CoordinationNote.id.desc())
                              .options(joinedload(CoordinationNote.patient))).all()


def count_new_replies(user: User) -> Select:
    """A SELECT of how many answers to the user's notes they have not seen yet."""
    return select(func.count(CoordinationNote.id)).where(*_unseen_answers(user))


def mark_answers_seen(notes: list[CoordinationNote], user: User, now: datetime) -> int:
    """The user opened these notes' conversation: the answers to their own notes are seen from now
    (the first time only). The number marked."""
    ids = [n.id for n in notes if n.author_id == user.id and n.acknowledged_at is not None]
    if not ids:
        return 0
    known = set(db.session.scalars(select(ReplySeen.note_id).where(ReplySeen.note_id.in_(ids))))
    fresh = [{"note_id": note_id, "seen_at": now} for note_id in ids if note_id not in known]
    if fresh:
        # two tabs opening the conversation at once: the second finds the row there, and leaves it
        insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        db.session.execute(insert(ReplySeen).values(fresh).on_conflict_do_nothing())
    return len(fresh)
