"""Optimistic locking: write a versioned record, or say that someone else saved it first."""
from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError

from .errors import ConcurrentEdit
from .extensions import db


def flush_versioned(record, message: str) -> None:
    """Flush; if the version check in the UPDATE's WHERE clause caught a save that landed
    meanwhile, roll back (the failed flush leaves nothing usable), reload the current record
    and raise ConcurrentEdit carrying its version, so the editor's input can be kept."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentEdit(message, current_version=record.version) from None
