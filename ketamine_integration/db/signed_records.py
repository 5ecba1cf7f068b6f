"""What the ORM guards of signed records share: was it signed before this flush, what changed."""
from __future__ import annotations

from sqlalchemy import inspect

SIGNED = "signed"


def was_signed(record) -> bool:
    """Signed before the changes now pending (signing itself is the change that may happen)."""
    history = inspect(record).attrs.status.history
    previous = history.deleted[0] if history.deleted else record.status
    return previous == SIGNED


def changed_attributes(record) -> set[str]:
    return {a.key for a in inspect(record).attrs if a.history.has_changes()}
