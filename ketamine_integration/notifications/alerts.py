"""An urgent safety alert, emailed at once to the clinic's on-call address and to each of the
patient's clinicians who reads alerts in the app: that one waits, for which record number, and the
link; nothing of what raised it (domain/staff_messages.py). Every safety alert is urgent: each is a
sign of suicide risk (domain/safety.py).

The emails are queued in the transaction that raised the alert (connected to
notes.safety.alert_raised in create_app), so they exist exactly when the alert does, and sent by the
worker once it commits. Queueing them never fails that request: a safety signal is recorded
whatever becomes of its emails.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from ..accounts.models import User
from ..extensions import db
from ..domain.staff_messages import alert_message
from ..home.waiting import BY_KEY
from ..messaging.services import queue_email
from ..notes.models import SafetyAlert
from ..patients.models import CareTeamMember, Patient
from .links import app_link
from .oncall import oncall_address

log = logging.getLogger(__name__)

PURPOSE = "safety_alert"


@dataclass(frozen=True)
class Recipient:
    #: the delivery key's last part: "oncall", or "user:<id>"
    name: str
    address: str
    user_id: int | None = None


def alert_recipients(patient_id: int) -> list[Recipient]:
    """The on-call address, then the patient's care-team clinicians whom the home page shows safety
    alerts (therapists and prescribers: nurses read no clinical content), active and with an email
    address; one email per address, whoever else has it."""
    found: list[Recipient] = []
    oncall = oncall_address()
    if oncall:
        found.append(Recipient("oncall", oncall))
    team = db.session.scalars(select(User).join(CareTeamMember, CareTeamMember.user_id == User.id)
                              .where(CareTeamMember.patient_id == patient_id, User.active.is_(True),
                                     User.email.is_not(None), User.email != "")
                              .order_by(User.id)).unique().all()
    found += [Recipient(f"user:{user.id}", user.email, user.id) for user in team if BY_KEY["alerts"].applies(user)]
    seen, unique = set(), []
    for recipient in found:
        if recipient.address.lower() not in seen:
            seen.add(recipient.address.lower())
            unique.append(recipient)
    return unique


def queue_alert_emails(alert: SafetyAlert) -> int:
    """Queue the alert's emails (once per alert and recipient, whatever calls this again); how many."""
    record_number = db.session.scalar(select(Patient.mrn).where(Patient.id == alert.patient_id))
    message = alert_message(record_number=record_number, link=app_link("notes.measures", course_id=alert.course_id))
    recipients = alert_recipients(alert.patient_id)
    for recipient in recipients:
        queue_email(f"{PURPOSE}:{alert.id}:{recipient.name}", recipient.address, message.subject, message.body,
                    purpose=PURPOSE, patient_id=alert.patient_id, user_id=recipient.user_id)
    return len(recipients)


def notify_alert(alert: SafetyAlert) -> None:
    """Receiver of notes.safety.alert_raised. Whatever goes wrong here is logged and undone to a
    savepoint, never raised: the alert, and the request that raised it, stand."""
    try:
        with db.session.begin_nested():
            queue_alert_emails(alert)
    except Exception:  # noqa: BLE001 (any failure: the alert is in the app whatever its emails do)
        log.exception("the emails of safety alert %s could not be queued", alert.id)
