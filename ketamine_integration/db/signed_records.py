"""What signed records share: was it signed before this flush, what changed (the ORM guards); whose
draft it is."""
from __future__ import annotations

from sqlalchemy import inspect

from .clinic_time import format_local_day
from .errors import DomainError

SIGNED = "signed"


def was_signed(record) -> bool:
    """Signed before the changes now pending (signing itself is the change that may happen)."""
    history = inspect(record).attrs.status.history
    previous = history.deleted[0] if history.deleted else record.status
    return previous == SIGNED


def changed_attributes(record) -> set[str]:
    return {a.key for a in inspect(record).attrs if a.history.has_changes()}


def draft_started_by(record) -> str:
    """'Draft started by <author> on <clinic day>', for a record with .author and .created_at (Jinja
    filter `draft_started_by`)."""
    return f"Draft started by {record.author.display_name} on {format_local_day(record.created_at, year=True)}"


def refuse_unless_author(record, by) -> None:
    """A draft is its author's, as a note is (notes/): another clinician reads it but neither saves nor
    signs it, so the record never names as its author someone who did not write what it says."""
    if record.author_id != by.id:
        raise DomainError(f"{draft_started_by(record)}: only its author saves or signs it.")
