"""Issue 22: what a message says is the minimum necessary. Every message the demo clinic queued or
would queue now (reminders of each kind of session, in person and online, by email and text
message; patients' invitations and their .ics; the urgent safety alert emails; each clinician's
daily summary) carries no clinical term (domain.reminders.CLINICAL_TERMS) and no text of any note;
a reminder the patient never consented to is recorded as not sent; the failed one says why."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from email import message_from_string, policy

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, Room
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_zone
from ketamine_integration.domain.reminders import clinical_words_in
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import EMAIL, FAILED, OPTED_OUT, PENDING, SENT, Delivery
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.notes.services import record_measure
from ketamine_integration.notifications.digests import queue_due_digests
from ketamine_integration.notifications.links import linking_context
from ketamine_integration.reminders.consent import consents_to
from ketamine_integration.reminders.sweep import sweep_reminders
from ketamine_integration.db.types import utcnow
from tests.integration.test_invitations import _ics_text, _no_clinical_words, _stored_invitation
from tests.integration.test_reminder_sweep import _appointment

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
    """Everything a recipient can read: a text message; an email's subject, sender, body and
    attached files (an invitation's .ics)."""
    if delivery.channel != EMAIL:
        return delivery.content
    message = message_from_string(delivery.content, policy=policy.default)
    files = [part.get_payload(decode=True).decode() for part in message.iter_attachments()]
    return "\n".join([message["Subject"], message["From"], message.get_body(("plain",)).get_content(), *files])


def _sessions_ahead(now: datetime) -> None:
    """An online and an in-person integration session a day and six hours ahead (within the sweep's
    horizon; the 24-hour reminder still to come, moved out of quiet hours or not) for a patient who
    agreed to email and text messages, as the booking service leaves them: reminders of both
    modalities on both channels whatever the hour the suite runs. The demo places its own sessions
    from the moment it was built, and at some hours (a Monday at 9:30) none of its online ones had a
    reminder still ahead."""
    course = next(c for c in db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id))
                  if consents_to(c.patient, "email") and consents_to(c.patient, "sms"))
    first = (now + timedelta(hours=30)).replace(minute=0, second=0, microsecond=0)
    room = db.session.scalars(select(Room).order_by(Room.id)).first()
    for starts, room_id in ((first, None), (first + timedelta(hours=1), room.id)):
        _appointment(course.patient_id, course.therapist_id, starts, kind="integration", course_id=course.id,
                     modality="in_person" if room_id else "telehealth", room_id=room_id,
                     booked_by=course.therapist_id)


def test_no_message_carries_a_clinical_word_or_note_text(app):
    with linking_context(app):  # an app context whose links are absolute, as the worker's
        now = utcnow()
        _sessions_ahead(now)
        sweep_reminders(now)  # whatever else is due now, too
        # a safety alert raised now (the demo's were emailed on their days): its emails wait
        course = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase == "integration")
                                    .order_by(TreatmentCourse.id)).first()
        today = now.astimezone(clinic_zone()).date()
        record_measure(course, measure="phq9", answers=[1] * 8 + [2], difficulty=None, administered_on=today,
                       by=course.therapist, today=today)
        # every active user's daily summary due now (rolled back with the rest at the end)
        for user in db.session.scalars(select(User).where(User.active.is_(True))):
            user.digest_at, user.digest_last_day = time(0, 0), None
        queue_due_digests(now)
        pending = db.session.scalars(select(Delivery).where(Delivery.status == PENDING)).all()
        assert {d.purpose for d in pending} >= {"reminder", "invitation", "safety_alert", "digest"}
        reminders = [d for d in pending if d.purpose == "reminder"]
        kinds = {db.session.get(Appointment, d.appointment_id).kind for d in reminders}
        modalities = {db.session.get(Appointment, d.appointment_id).modality for d in reminders}
        assert {d.channel for d in reminders} == {"email", "sms"} and len(kinds) >= 2
        assert modalities == {"in_person", "telehealth"}
        notes = [text.strip() for note in db.session.scalars(select(SessionNote))
                 for text in _texts(note.content) if len(text.strip()) >= 12]
        assert len(notes) > 50
        for delivery in pending:
            text = _readable(delivery)
            assert clinical_words_in(text) == [], (delivery.key, text)
            assert not [n for n in notes if n in text], delivery.key
        for delivery in reminders:
            text = _readable(delivery)
            assert "Where: online, join at https://video.example.org/" in text or "120 Lantern Quay" in text
        db.session.rollback()


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


def test_the_demo_invites_its_patients_to_the_sessions_ahead_only_in_discreet_words(app):
    """The demo books hundreds of sessions in one transaction: its future ones with consenting
    patients wait as invitations (sent to instance/outbox/ by `make run`'s worker), its past ones none.
    (On SQLite in `make test`, on PostgreSQL in `make test-all-engines`: what it reads is words.)"""
    with app.app_context():
        rows = db.session.execute(select(Delivery, Appointment.starts_at, Appointment.modality)
                                  .join(Appointment, Appointment.id == Delivery.appointment_id)
                                  .where(Delivery.purpose == "invitation")).all()
        assert rows and all(starts_at > utcnow() - timedelta(days=1) for _, starts_at, _ in rows)
        waiting = [(d, modality) for d, _, modality in rows if d.status == PENDING]
        assert {d.status for d, *_ in rows} <= {PENDING, OPTED_OUT} and waiting
        assert {modality for _, modality in waiting} == {"in_person", "telehealth"}
        for delivery, modality in waiting:
            message, calendar = _stored_invitation(delivery)
            assert calendar.method.value == "REQUEST"
            if modality == "telehealth":
                assert calendar.vevent.location.value.startswith("https://video.example.org/")
            _no_clinical_words(message, _ics_text(message))
