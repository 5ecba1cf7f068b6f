"""Issue 22, point 3: what a reminder says is the minimum necessary. Every reminder the demo clinic
queued (each kind of session, in person and online, email and text message) carries no clinical
term (domain.reminders.CLINICAL_TERMS) and no text of any note; one the patient never consented
to is recorded as not sent; the failed one says why."""
from __future__ import annotations

from email import message_from_string, policy

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.domain.reminders import clinical_words_in
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import EMAIL, FAILED, OPTED_OUT, PENDING, SENT, Delivery
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.reminders.consent import consents_to
from ketamine_integration.reminders.sweep import sweep_reminders
from ketamine_integration.db.types import utcnow

pytestmark = pytest.mark.demo_clinic


def _texts(value) -> list[str]:
    """Every string inside a note's content (sections, lists, nested answers)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _readable(delivery: Delivery) -> str:
    if delivery.channel != EMAIL:
        return delivery.content
    message = message_from_string(delivery.content, policy=policy.default)
    return f"{message['Subject']}\n{message['From']}\n{message.get_body(('plain',)).get_content()}"


def test_no_reminder_carries_a_clinical_word_or_note_text(app):
    with app.app_context():
        sweep_reminders(utcnow())  # whatever else is due now, too
        pending = db.session.scalars(select(Delivery).where(Delivery.status == PENDING)).all()
        kinds = {db.session.get(Appointment, d.appointment_id).kind for d in pending}
        modalities = {db.session.get(Appointment, d.appointment_id).modality for d in pending}
        assert {d.channel for d in pending} == {"email", "sms"} and len(kinds) >= 2
        assert modalities == {"in_person", "telehealth"}
        notes = [text.strip() for note in db.session.scalars(select(SessionNote))
                 for text in _texts(note.content) if len(text.strip()) >= 12]
        assert len(notes) > 50
        for delivery in pending:
            text = _readable(delivery)
            assert clinical_words_in(text) == [], (delivery.key, text)
            assert not [n for n in notes if n in text], delivery.key
            assert "Where: online, join at https://video.example.org/" in text or "120 Lantern Quay" in text


def test_the_demo_reminders_match_consent(app):
    with app.app_context():
        deliveries = db.session.scalars(select(Delivery).where(Delivery.purpose == "reminder")).all()
        for delivery in deliveries:
            patient = db.session.get(Appointment, delivery.appointment_id).patient
            consents = consents_to(patient, delivery.channel)
            if delivery.status in (PENDING, SENT):
                assert consents, delivery.key
            elif delivery.status == OPTED_OUT:
                assert not consents, delivery.key
        [failed] = [d for d in deliveries if d.status == FAILED]
        assert failed.last_error.startswith("SMTP 550") and failed.content is None
