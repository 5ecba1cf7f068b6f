"""The ORM guard of signed plan revisions: a signed revision, its objectives and techniques never
change (corrections are addenda, a change of plan is a new revision). The database triggers of
migration 0045 are the guarantee; this stops the application's own code early and loudly.
Connected as a before_flush listener in create_app."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..db.signed_records import changed_attributes, was_signed
from .models import SIGNED, PlanObjective, PlanTechnique, TreatmentPlan

#: what may change on a signed revision: bookkeeping and addenda
MUTABLE_AFTER_SIGNING = frozenset({"updated_at", "version", "addenda"})


class SignedPlanChanged(RuntimeError):
    """Code tried to change a signed plan revision."""


def refuse_changes_to_signed_plans(db_session: Session, flush_context, instances) -> None:
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, TreatmentPlan) and was_signed(obj):
            if obj in db_session.deleted or changed_attributes(obj) - MUTABLE_AFTER_SIGNING:
                raise SignedPlanChanged(f"plan revision {obj.id} is signed; add an addendum or revise the plan")
    for obj in list(db_session.new) + list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, (PlanObjective, PlanTechnique)):
            plan = obj.plan
            if plan is not None and plan.status == SIGNED and was_signed(plan):
                raise SignedPlanChanged("the objectives and techniques of a signed plan revision never change")
