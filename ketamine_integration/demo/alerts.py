"""Demo only: the invented safety alerts raised when what raised them was recorded, and their
emails sent then, as the worker would have sent them.

An alert is stamped with the moment it is raised, and the database refuses to change that later
(migration 0015): nothing in the application can backdate one. This fabricated clinic dates each
alert as it is inserted (a measure's alert at noon on the day it was completed, a risk screen's at
17:00 on its session's day), and its emails, queued when it was raised, are recorded as sent a
few seconds later, unless it was raised within the last hour (those wait for the worker).
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, time, timedelta

from sqlalchemy import event, select

from ..audit import services as audit
from ..db.clinic_time import clinic_zone
from ..extensions import db
from ..messaging.models import PENDING, SENT, Delivery
from ..notes.models import MeasureResponse, SafetyAlert, SessionNote

#: alerts raised this recently keep their emails waiting for the worker, as a fresh alert's would
FRESH = timedelta(hours=1)


@contextmanager
def dated_alerts():
    zone = clinic_zone()

    def date_alert(mapper, connection, alert: SafetyAlert) -> None:
        if alert.measure_response_id is not None:
            day = connection.scalar(select(MeasureResponse.administered_on)
                                    .where(MeasureResponse.id == alert.measure_response_id))
            alert.raised_at = datetime.combine(day, time(12, 1), zone)
        elif alert.session_note_id is not None:
            day = connection.scalar(select(SessionNote.session_date).where(SessionNote.id == alert.session_note_id))
            alert.raised_at = datetime.combine(day, time(17), zone)

    event.listen(SafetyAlert, "before_insert", date_alert)
    try:
        yield
    finally:
        event.remove(SafetyAlert, "before_insert", date_alert)


def load_demo_alert_emails(now: datetime) -> None:
    """The emails of alerts raised before the last hour: sent seconds after their alert, audited
    as the worker audits a send (without the text)."""
    raised = dict(db.session.execute(select(SafetyAlert.id, SafetyAlert.raised_at)).all())
    for delivery in db.session.scalars(select(Delivery).where(Delivery.purpose == "safety_alert",
                                                              Delivery.status == PENDING)):
        alert_id = int(delivery.key.split(":")[1])
        if raised[alert_id] < now - FRESH:
            delivery.status, delivery.content, delivery.attempts = SENT, None, 1
            delivery.scheduled_for = delivery.attempted_at = raised[alert_id]
            delivery.sent_at = raised[alert_id] + timedelta(seconds=4)
            audit.record("message.sent", obj=delivery, patient_id=delivery.patient_id,
                         detail=f"{delivery.channel} {delivery.purpose}, attempt 1")
    db.session.flush()
