"""A patient's message history, as the patient page lists it: when, how, what for and what became
of each message, the recipient partly hidden and never the message itself."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..domain.messages import masked_recipient
from ..extensions import db
from .models import (
    CHANNEL_NAMES, FAILED, OPTED_OUT, PATIENT_PURPOSES, PENDING, SENDING, SENT, STATUSES, WITHDRAWN, Delivery,
    purpose_words,
)

#: the newest messages the patient page lists (the heading counts them all)
HISTORY_LIMIT = 50

#: status -> (badge tone, icon shape): statuses of one tone told apart by their shape
STATUS_BADGES = {SENT: ("ok", None), FAILED: ("danger", None), PENDING: ("info", "clock"),
                 SENDING: ("info", "arrow-path"), WITHDRAWN: ("neutral", "minus-circle"),
                 OPTED_OUT: ("neutral", "no-symbol")}


@dataclass(frozen=True)
class MessageLine:
    #: when it was sent, or is (or was) due
    when: datetime
    channel: str
    purpose: str
    status: str
    tone: str
    shape: str | None
    #: the server's or provider's answer to a failed message, the recipient in it masked too
    reason: str | None
    recipient: str


def fetch_patient_messages(patient_id: int, limit: int = HISTORY_LIMIT) -> tuple[list[MessageLine], int]:
    """The newest `limit` messages to the patient (models.PATIENT_PURPOSES: not the staff's
    notifications about them), newest first, and how many there are in all: one statement (the
    count is a window over the same rows), whatever the history's length."""
    rows = db.session.execute(
        select(Delivery.channel, Delivery.purpose, Delivery.status, Delivery.recipient, Delivery.last_error,
               Delivery.scheduled_for, Delivery.sent_at, func.count().over().label("total"))
        .where(Delivery.patient_id == patient_id, Delivery.purpose.in_(sorted(PATIENT_PURPOSES)))
        .order_by(func.coalesce(Delivery.sent_at, Delivery.scheduled_for).desc(), Delivery.id.desc())
        .limit(limit)).all()
    return [_line(row) for row in rows], (rows[0].total if rows else 0)


def _line(row) -> MessageLine:
    masked = masked_recipient(row.recipient)
    reason = row.last_error if row.status == FAILED else None
    if reason and row.recipient:
        reason = reason.replace(row.recipient, masked)
    tone, shape = STATUS_BADGES[row.status]
    return MessageLine(when=row.sent_at or row.scheduled_for, channel=CHANNEL_NAMES.get(row.channel, row.channel),
                       purpose=purpose_words(row.purpose), status=STATUSES[row.status], tone=tone, shape=shape,
                       reason=reason, recipient=masked)
