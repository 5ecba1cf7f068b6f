"""One row per message the clinic means to send: its delivery key, where it goes, and what became of it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)

PENDING, SENDING, SENT, FAILED, WITHDRAWN, OPTED_OUT = "pending", "sending", "sent", "failed", "withdrawn", "opted_out"
#: status -> how the Messages page names it
STATUSES = {PENDING: "Waiting to be sent", SENDING: "Being sent", SENT: "Sent", FAILED: "Failed",
            WITHDRAWN: "Withdrawn", OPTED_OUT: "Not sent: opted out"}
#: purpose -> how the patient page names it; a purpose not listed is shown as written. An appointment's
#: invitation says so: a bare "Invitation" beside the portal's "Not invited yet" read as a portal one
PURPOSES = {"reminder": "Appointment reminder", "invitation": "Appointment invitation",
            "cancellation": "Appointment cancellation",
            "safety_alert": "Safety alert to staff", "digest": "Daily digest",
            "portal_invitation": "Portal invitation", "portal_code": "Portal sign-in code",
            "portal_reset": "Portal sign-in reset"}
#: what is sent to a patient: the patient page lists these
PATIENT_PURPOSES = frozenset({"reminder", "invitation", "cancellation", "portal_invitation", "portal_code",
                              "portal_reset"})
#: what is sent to staff about a patient: that a safety alert exists is clinical, so these are
#: never listed with their patient to staff or nurses (the patient page leaves them out; the
#: Messages page shows them without the patient)
STAFF_PURPOSES = frozenset({"safety_alert", "digest"})


def purpose_words(purpose: str) -> str:
    return PURPOSES.get(purpose) or purpose.replace("_", " ").capitalize()


#: channel -> how pages name it
CHANNEL_NAMES = {EMAIL: "Email", SMS: "Text"}
#: a delivery in one of these never changes again, and keeps no message content
FINAL = frozenset({SENT, FAILED, WITHDRAWN, OPTED_OUT})

KEY_LENGTH = 200


class Delivery(db.Model):
    """A message to one recipient. The key is unique: queueing the same message twice (a sweep
    run twice, a job retried) finds the first row, and a job sends only a row it claimed from
    `pending` (services.claim), so each key is sent at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
        CheckConstraint(f"status IN {tuple(STATUSES)!r}", name="status"),
        Index("ix_deliveries_status_scheduled_for", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: chosen by the caller from what the message is about, e.g. "reminder:appointment:17:48h:email"
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    #: what the message is for, e.g. "reminder" or "invitation"; never its content
    purpose: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    #: email address or phone number
    recipient: Mapped[str] = mapped_column(String(320))
    #: the earliest time to send; after a failed attempt, the time of the next one
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    #: the server's or the network's answer to the last failed attempt
    last_error: Mapped[str | None] = mapped_column(String(300))
    #: when the last attempt started (a delivery left `sending` long after it is looked into)
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the whole message (RFC 5322) while it waits to be sent; erased once the delivery is final,
    #: so what was said to a patient is not kept here (the audit row records that it was sent)
    content: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient | None] = relationship(lazy="raise")

    @property
    def purpose_words(self) -> str:
        return purpose_words(self.purpose)

    @property
    def listed_patient(self) -> Patient | None:
        """The patient the Messages page names: none for a notification to staff (models.STAFF_PURPOSES)."""
        return None if self.purpose in STAFF_PURPOSES else self.patient
