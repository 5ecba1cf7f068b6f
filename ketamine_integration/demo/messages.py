"""The demo clinic's messages: one sent, one waiting for tomorrow, one that failed (shown on the Messages page)."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..audit import services as audit
from ..db.clinic_time import format_local
from ..extensions import db
from ..messaging import services
from ..messaging.models import EMAIL, FAILED, SENT, Delivery
from ..patients.models import Patient

BODY = ("This is a reminder of your appointment at Harbor Light on {when}, 12 Quay Street, second floor.\n\n"
        "To move or cancel it, reply to this message or call (555) 0100.\n")


def load_demo_messages(patients: list[Patient], now: datetime) -> None:
    sent_to, waiting_for, failed_for = patients[0], patients[1], patients[2]
    sent = Delivery(key=f"demo:welcome:{sent_to.id}", channel=EMAIL, purpose="reminder", patient_id=sent_to.id,
                    recipient=sent_to.email, scheduled_for=now - timedelta(days=1), status=SENT, attempts=1,
                    attempted_at=now - timedelta(days=1), sent_at=now - timedelta(days=1))
    # a typing error in the address: the mail server refused it, so the delivery failed at once
    failed = Delivery(key=f"demo:reminder:{failed_for.id}", channel=EMAIL, purpose="reminder",
                      patient_id=failed_for.id, recipient=failed_for.email.replace("example.org", "exmaple.org"),
                      scheduled_for=now - timedelta(hours=3), status=FAILED, attempts=1,
                      attempted_at=now - timedelta(hours=3),
                      last_error="SMTP 550: 5.1.2 Host or domain name not found: exmaple.org")
    db.session.add_all([sent, failed])
    db.session.flush()
    audit.record("message.sent", obj=sent, patient_id=sent_to.id, detail="email reminder, attempt 1")
    audit.record("message.failed", obj=failed, patient_id=failed_for.id, outcome=audit.FAILURE,
                 detail="email reminder, 1 attempts")
    # really queued: the worker `make run` starts sends it tomorrow (into instance/outbox/)
    tomorrow = now + timedelta(days=1)
    services.queue_email(f"demo:reminder:{waiting_for.id}", waiting_for.email, "Your appointment tomorrow",
                         BODY.format(when=format_local(tomorrow, "%A %d %B at %H:%M")), purpose="reminder",
                         patient_id=waiting_for.id, send_at=tomorrow)
