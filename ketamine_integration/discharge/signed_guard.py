"""The ORM guard of signed discharge summaries: a signed summary never changes (corrections are
addenda). The triggers of migration 0048_discharge_summaries are the guarantee; this stops the
application's own code early and loudly. Connected as a before_flush listener in create_app."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..db.signed_records import changed_attributes, was_signed
from .models import DischargeSummary

#: what may change on a signed summary: bookkeeping and addenda
MUTABLE_AFTER_SIGNING = frozenset({"updated_at", "version", "addenda"})


class SignedSummaryChanged(RuntimeError):
    """Code tried to change a signed discharge summary (corrections are addenda)."""


def refuse_changes_to_signed_summaries(db_session: Session, flush_context, instances) -> None:
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, DischargeSummary) and was_signed(obj):
            if obj in db_session.deleted or changed_attributes(obj) - MUTABLE_AFTER_SIGNING:
                raise SignedSummaryChanged(f"discharge summary {obj.id} is signed; add an addendum instead")
