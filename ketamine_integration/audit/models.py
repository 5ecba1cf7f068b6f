"""The append-only audit event table (HIPAA 164.312(b) audit controls)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..accounts.models import User
from ..db_types import UTCDateTime, utcnow
from ..extensions import db

SUCCESS, FAILURE, DENIED = "success", "failure", "denied"


class AuditEvent(db.Model):
    """Who did what to which object, when, from where, and whether it worked.

    Never holds note text, form contents or credentials: only identifiers and a short,
    fixed-vocabulary detail.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: None for anonymous requests and unknown usernames
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: dotted verb from ACTIONS, e.g. "patient.view"
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    #: success, failure or denied
    outcome: Mapped[str] = mapped_column(String(10))
    #: short machine-written reason, e.g. "missing role" or "idle timeout"; never user text
    detail: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User | None] = relationship(lazy="joined")


class AuditImmutableError(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    # The migration adds database triggers as well; this stops the ORM path early and loudly.
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditImmutableError("audit events are append-only")
