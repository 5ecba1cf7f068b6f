"""Contact consent history (append-only) and the clinic's reminder rule per kind of session."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db

#: how consent reached the clinic -> how a page names it; "patient_portal" is written by the portal
METHODS = {"in_person": "In person", "phone": "By phone", "written_form": "Written form",
           "patient_portal": "Patient portal"}
#: the ways staff record consent themselves (the portal's rows come from the patient)
STAFF_METHODS = ("in_person", "phone", "written_form")


class ContactConsent(db.Model):
    """One decision of a patient about being contacted on a channel: a grant or a withdrawal.

    Rows are never changed or deleted (migration 0035's triggers): the latest row per channel is
    the patient's current answer, and the history says who recorded each answer, when and how."""

    __tablename__ = "contact_consents"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="known_channel"),
        CheckConstraint("method IN ('in_person', 'phone', 'written_form', 'patient_portal')", name="known_method"),
        # staff record what they were told; only the portal records the patient's own answer
        CheckConstraint("recorded_by_id IS NOT NULL OR method = 'patient_portal'", name="recorded_by_someone"),
        Index("ix_contact_consents_patient_channel", "patient_id", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: email or sms
    channel: Mapped[str] = mapped_column(String(10))
    #: True: consent given; False: withdrawn (or refused)
    granted: Mapped[bool]
    #: how the patient told the clinic (METHODS)
    method: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None only for the patient's own answer through the portal
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    recorded_by: Mapped[User | None] = relationship(lazy="joined")


class ReminderRule(db.Model):
    """The clinic's reminders for one kind of session (absent: rules.DEFAULT_RULE)."""

    __tablename__ = "reminder_rules"
    __table_args__ = (
        CheckConstraint("kind IN ('preparation', 'dosing', 'integration', 'follow_up')", name="known_kind"),
    )

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: how long before the start each reminder goes, as domain.reminders.format_offsets writes it ("48h, 2h")
    offsets: Mapped[str] = mapped_column(String(60))
    #: the channels, comma-separated ("email,sms"); empty: no reminders for this kind
    channels: Mapped[str] = mapped_column(String(20))
    #: how a reminder names this kind of appointment; None: domain.reminders.DEFAULT_WORDING
    wording: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
