"""The append-only audit event table (HIPAA 164.312(b) audit controls)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..db.types import UTCDateTime, utcnow
from ..extensions import db

SUCCESS, FAILURE, DENIED = "success", "failure", "denied"


class AuditEvent(db.Model):
    """Who did what to which object, when, from where, and whether it worked.

    Never holds note text, form contents or credentials: only identifiers and a short,
    fixed-vocabulary detail (a care-team change adds its reason: at most 100 characters, which
    the form asks to be non-clinical; patients/care_team.py).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: None for anonymous requests and unknown usernames
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: the patient's portal account when a patient acted through the portal (user_id is then None);
    #: a plain id, no foreign key: the trail outlives any account, and SQLite could add one only by
    #: rebuilding this table, which would drop its append-only triggers (migration 0038)
    portal_account_id: Mapped[int | None] = mapped_column(index=True)
    #: dotted verb from ACTIONS, e.g. "patient.view"
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    #: success, failure or denied
    outcome: Mapped[str] = mapped_column(String(10))
    #: short machine-written reason, e.g. "missing role" or "idle timeout"; never user text (a
    #: void, acknowledgement or revocation adds the SHA-256 of what it set: append_only_trail.py)
    detail: Mapped[str | None] = mapped_column(String(200))
    #: place in the tamper-evident chain: 1, 2, 3... without gaps, given at commit (chain.py)
    chain_position: Mapped[int] = mapped_column(unique=True)
    #: hex HMAC-SHA256 of the previous row's mac and this row's fields (chain.py)
    mac: Mapped[str] = mapped_column(String(64))

    #: the trail sits below accounts, so it names their model rather than importing it
    user: Mapped["User | None"] = relationship("User", lazy="joined")  # noqa: F821


class AuditChainHead(db.Model):
    """The end of the audit chain: its last position and mac, sealed with the chain key, so
    rows deleted from the end are noticed (the rows alone would still form a valid chain)."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: chain_position of the newest audit row (0 before the first)
    position: Mapped[int]
    #: mac of the newest audit row
    mac: Mapped[str] = mapped_column(String(64))
    #: HMAC of position and mac: a head rewritten to hide a truncation does not match it
    seal: Mapped[str] = mapped_column(String(64))


class AuditImmutableError(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


def refuse_audit_changes(session: Session, flush_context, instances) -> None:
    # The migration adds database triggers as well; this stops the ORM path early and loudly.
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditImmutableError("audit events are append-only")
