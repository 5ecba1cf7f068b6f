"""The demo clinic's reminders as a clinic a few weeks in has them: those of the past week's
sessions sent (one of them failed, the address mistyped; the opted-out patient's not sent), and
those of the sessions ahead waiting, queued at commit by the reminder sweep's receiver as any
booking's are. Run after demo/reminders.py (the rules and the consents)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..bookings.models import Appointment
from ..db.clinic_time import clinic_zone
from ..extensions import db
from ..messaging.models import FAILED, OPTED_OUT, SENT, Delivery
from ..patients.models import Patient
from ..reminders.consent import address_for, current_consents
from ..reminders.rules import reminder_settings
from ..reminders.sweep import PURPOSE, plan

#: how far back the demo's sent reminders go
PAST = timedelta(days=7)
#: what the mail server answered for the mistyped address
REFUSED = "SMTP 550: 5.1.2 Host or domain name not found: exmaple.org"


def _past_sessions(now: datetime) -> list[Appointment]:
    return list(db.session.scalars(select(Appointment).where(
        Appointment.starts_at > now - PAST, Appointment.starts_at < now, Appointment.status != "cancelled")
        .options(joinedload(Appointment.patient)).order_by(Appointment.starts_at.desc())).unique())


def _row(item, patient: Patient, status: str, **fields) -> Delivery:
    address = address_for(patient, item.channel) or "(none on record)"
    return Delivery(key=item.key, channel=item.channel, purpose=PURPOSE, patient_id=patient.id,
                    appointment_id=item.appointment.id, recipient=address, scheduled_for=item.send_at,
                    status=status, **fields)


def _past_reminder(item, patient: Patient, consented: set[str], fail: bool) -> tuple[Delivery, str]:
    """One past reminder as the worker or the sweep left it: opted out (no consent on its channel),
    failed (`fail`: a typing error in the address, refused at once, not retried) or sent."""
    if item.channel not in consented:  # as the sweep records it when its moment comes
        return _row(item, patient, OPTED_OUT), "reminder.opted_out"
    if fail:
        delivery = _row(item, patient, FAILED, attempts=1, attempted_at=item.send_at, last_error=REFUSED)
        delivery.recipient = delivery.recipient.replace("example.org", "exmaple.org")
        return delivery, "message.failed"
    return _row(item, patient, SENT, attempts=1, attempted_at=item.send_at,
                sent_at=item.send_at + timedelta(seconds=3)), "message.sent"


#: how the worker and the sweep audit each outcome: (outcome, detail after the channel)
_AUDITED = {"message.sent": (None, "reminder, attempt 1"), "message.failed": ("failure", "reminder, 1 attempts"),
            "reminder.opted_out": (None, "reminder")}


def load_demo_messages(now: datetime) -> None:
    """Sent, failed and opted-out reminders of the past week's sessions, audited as the worker and
    the sweep audit them (without their text)."""
    settings, zone = reminder_settings(), clinic_zone()
    consents: dict[int, set[str]] = {}
    rows: list[tuple[Delivery, str]] = []
    for appointment in _past_sessions(now):
        patient = appointment.patient
        if patient.id not in consents:
            consents[patient.id] = {c.channel for c in current_consents(patient) if c.granted and c.address}
        for item in plan(appointment, settings, zone, appointment.starts_at - timedelta(days=8)):
            if item.send_at < now:
                # the latest email reminder consented to is the one that failed
                fail = item.channel == "email" and item.channel in consents[patient.id] and \
                    not any(action == "message.failed" for _, action in rows)
                rows.append(_past_reminder(item, patient, consents[patient.id], fail))
    db.session.add_all(row for row, _ in rows)
    db.session.flush()
    for row, action in rows:
        outcome, detail = _AUDITED[action]
        audit.record(action, obj=row, patient_id=row.patient_id, detail=f"{row.channel} {detail}",
                     **({"outcome": audit.FAILURE} if outcome else {}))
