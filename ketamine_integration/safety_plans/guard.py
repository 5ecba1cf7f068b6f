"""The ORM guard of safety plans: a signed revision never changes and no revision is ever deleted
(corrections are addenda or a new revision). The database triggers of migration 0047 are the
guarantee; this stops the application's own code early and loudly. Connected as a before_flush
listener in create_app."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..db.signed_records import changed_attributes, was_signed
from .models import SafetyPlanRevision

#: what may change on a signed revision: its addenda (rows of their own)
MUTABLE_AFTER_SIGNING = frozenset({"addenda"})


class SignedPlanChanged(RuntimeError):
    """Code tried to change a signed safety plan revision, or to delete a revision."""


def refuse_changes_to_signed_safety_plans(db_session: Session, flush_context, instances) -> None:
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if not isinstance(obj, SafetyPlanRevision):
            continue
        if obj in db_session.deleted:
            raise SignedPlanChanged(f"safety plan revision {obj.id} is kept: revisions are never deleted")
        if was_signed(obj) and changed_attributes(obj) - MUTABLE_AFTER_SIGNING:
            raise SignedPlanChanged(f"safety plan revision {obj.id} is signed; add an addendum or a new revision")
