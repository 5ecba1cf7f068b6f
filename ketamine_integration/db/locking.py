"""Concurrent writes: versioned records (optimistic locking), rows made on first use and rows a
unique key allows once."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .errors import ConcurrentEdit, DomainError
from ..extensions import db


def flush_versioned(record, message: str) -> None:
    """Flush; if the version check in the UPDATE's WHERE clause caught a save that landed
    meanwhile, raise ConcurrentEdit so the editor's input can be kept.

    Inside web.submit()'s savepoint the failed flush has closed that savepoint: submit rolls
    it back and reads the current version afterwards. Outside one, the transaction is rolled
    back here and the record's current version reloaded."""
    try:
        db.session.flush()
    except StaleDataError:
        if db.session().in_nested_transaction():
            raise ConcurrentEdit(message, current_version=None, record=record) from None
        db.session.rollback()
        raise ConcurrentEdit(message, current_version=record.version) from None


def locked_row(model, key, make):
    """The row of `model` with primary key `key`, locked for update; made with make() if
    there is none. Two requests making it at once both end with the one row: the loser's
    INSERT fails on the key inside a savepoint and it locks the winner's row instead."""
    row = db.session.get(model, key, with_for_update={"key_share": True})
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = make()
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        return db.session.get(model, key, with_for_update={"key_share": True}, populate_existing=True)


def add_once(row, refusal: dict[str, str]):
    """Add `row` and flush it inside a savepoint; when a unique key refuses it (the same row written
    a moment ago by another request, after the caller's own check found none), raise
    DomainError(refusal) with nothing of it written. Returns the row."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise DomainError(refusal) from None
    return row


def lock_row(record) -> None:
    """Re-read `record` under a row lock: two requests changing it at once take turns, and the
    second sees what the first wrote (FOR NO KEY UPDATE on PostgreSQL; SQLite's writers are
    serialised already)."""
    model = type(record)
    db.session.execute(select(model.id).where(model.id == record.id).with_for_update(key_share=True))
    db.session.refresh(record)
