"""The clinic's practice vocabulary: the defaults every clinic starts with (domain/practices.py) and
the clinic's own, kept by the admin; archived, never deleted (assignments and signed notes name them).

A default has no row until something needs one: it is assigned, archived or restored (rows made on
first use, so a page that only reads writes nothing, and an emptied database still offers them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..db.errors import DomainError
from ..domain.practices import DEFAULT_PRACTICES
from ..domain.text import written_length
from ..extensions import db
from .models import Practice

DEFAULTS = dict(DEFAULT_PRACTICES)
NAME_LIMIT = 80


@dataclass(frozen=True)
class Entry:
    key: str
    name: str
    active: bool
    #: one of the defaults every clinic starts with (else the clinic's own)
    default: bool


def vocabulary() -> list[Entry]:
    """Every practice: the defaults in their order, then the clinic's own in the order added."""
    rows = db.session.scalars(select(Practice).order_by(Practice.id)).all()
    by_key = {row.key: row for row in rows}
    entries = [Entry(key, by_key[key].name if key in by_key else name, by_key[key].active if key in by_key else True,
                     True) for key, name in DEFAULT_PRACTICES]
    return entries + [Entry(row.key, row.name, row.active, False) for row in rows if row.key not in DEFAULTS]


def practice_words() -> dict[str, str]:
    """Every practice's words by its key, archived ones too (signed notes name them)."""
    return {entry.key: entry.name for entry in vocabulary()}


def practice_choices(keep=()) -> list[tuple[str, str]]:
    """(key, name) of the practices offered: the active ones, and archived ones in `keep` (a draft
    that ticked one before it was archived keeps it when saved again)."""
    keep = set(keep)
    return [(e.key, e.name if e.active else f"{e.name} (archived)") for e in vocabulary()
            if e.active or e.key in keep]


def practice_row(key: str | None) -> Practice | None:
    """The practice's row, made now for a default that has none yet (two requests making it at
    once both end with the one row)."""
    row = db.session.scalar(select(Practice).where(Practice.key == (key or "")))
    if row is not None or key not in DEFAULTS:
        return row
    try:
        with db.session.begin_nested():
            row = Practice(key=key, name=DEFAULTS[key], active=True)
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        return db.session.scalar(select(Practice).where(Practice.key == key).execution_options(populate_existing=True))


def add_practice(name: str | None) -> Practice:
    """A practice of the clinic's own; its key is made from its name ("own-forest-bathing")."""
    name = " ".join((name or "").split())
    if written_length(name) < 3:
        raise DomainError({"name": "Name the practice in at least 3 characters."})
    if len(name) > NAME_LIMIT:
        raise DomainError({"name": f"Keep the name to {NAME_LIMIT} characters."})
    if any(entry.name.lower() == name.lower() for entry in vocabulary()):
        raise DomainError({"name": f"“{name}” is in the list already (archived ones too): restore it instead."})
    practice = Practice(name=name, key=_new_key(name), active=True)
    db.session.add(practice)
    db.session.flush()
    return practice


def _new_key(name: str) -> str:
    stem = "own-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "practice")
    taken = set(db.session.scalars(select(Practice.key).where(Practice.key.like(f"{stem}%"))))
    return next(key for key in (stem, *(f"{stem}-{n}" for n in range(2, 1000))) if key not in taken)


def set_practice_active(key: str | None, active: bool) -> Practice:
    """Archive or restore a practice: an archived one is no longer offered for new assignments or
    notes; what it was assigned to, and the notes that name it, keep it."""
    practice = practice_row(key)
    if practice is None:
        raise DomainError({"practice": "Choose a practice from the list."})
    practice.active = active
    db.session.flush()
    return practice
