"""What a waiting (pending) reminder or invitation follows besides its appointment and the reminder
settings: the patient's email or phone changed (the same rows rewritten for the new address) or
removed (that channel's withdrawn), the patient archived (every waiting message withdrawn) and
restored (queued again, in the same rows), a clinician's own video room and the clinic's template
(the telehealth sessions' waiting messages rebuilt with the new link). Each change made through
its page; the reads do not grow with the number of appointments."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_string, policy
from zoneinfo import ZoneInfo

import pytest
import vobject
from sqlalchemy import event, select, update

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import PENDING, WITHDRAWN, Delivery
from ketamine_integration.patients.models import Patient
from ketamine_integration.reminders import follow, sweep
from ketamine_integration.reminders.consent import record_consent
from ketamine_integration.reminders.rules import save_reminder_settings
from ketamine_integration.telehealth.services import save_settings as save_telehealth_settings


NY = ZoneInfo("America/New_York")
UTC = timezone.utc
ROOM = "https://video.example.org/rooms/ivo"
TEMPLATE = "https://video.example.org/harbor/{appointment}"
SETTINGS = {"sender": "Harbor Light", "quiet_hours": "", "clinic_address": "120 Lantern Quay",
            "clinic_phone": "(555) 0100",
            "rules": {kind: {"offsets": "48h, 2h", "channels": ["email", "sms"]}
                      for kind in ("preparation", "dosing", "integration", "follow_up")}}
PATIENT = {"given_name": "Tamsin", "family_name": "Sorrel", "date_of_birth": "1980-05-17"}
TO_PATIENT = ("reminder", "invitation")


@pytest.fixture
def clinic(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "video_therapist": make.user("therapist", username="ther2", full_name="Ivo Second", video_room_url=ROOM),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", email="tamsin@example.org",
                                  phone="(555) 0111", therapists=[ids["therapist"], ids["video_therapist"]])

    def settings():
        save_reminder_settings(SETTINGS, by_id=ids["admin"])
        save_telehealth_settings(template=TEMPLATE, in_feeds=False, by_id=ids["admin"])
        for channel in ("email", "sms"):
            record_consent(db.session.get(Patient, ids["patient"]), channel=channel, granted=True, method="phone",
                           by=db.session.get(User, ids["staff"]))
    make.run(settings)
    return ids


def _book(make, clinic, days, *, clinician="therapist", telehealth=False) -> int:
    """A session at 10:00 clinic time `days` ahead, as booking leaves it: its 'booked' history row
    (announced at commit: its reminders and its invitation wait)."""
    def add():
        day = (datetime.now(NY) + timedelta(days=days)).date()
        start = datetime(day.year, day.month, day.day, 10, tzinfo=NY).astimezone(UTC)
        a = Appointment(patient_id=clinic["patient"], clinician_id=clinic[clinician], kind="integration",
                        starts_at=start, ends_at=start + timedelta(minutes=50),
                        modality="telehealth" if telehealth else "in_person", created_by_id=clinic["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinic["staff"]))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def _messages(make, **filters) -> dict[str, Delivery]:
    """The patient's reminders and invitations, by key."""
    def read():
        stmt = select(Delivery).where(Delivery.purpose.in_(TO_PATIENT))
        for column, value in filters.items():
            stmt = stmt.where(getattr(Delivery, column) == value)
        return {d.key: d for d in db.session.scalars(stmt)}
    return make.query(read)


def _said(delivery: Delivery) -> str:
    """What a waiting delivery says: a text's words; an email's text and its .ics description."""
    if delivery.channel == "sms":
        return delivery.content
    message = message_from_string(delivery.content, policy=policy.default)
    said = [message["To"], message.get_body(("plain",)).get_content()]
    for attachment in message.iter_attachments():
        event_ = vobject.readOne(attachment.get_payload(decode=True).decode()).vevent
        said += [event_.description.value, event_.attendee.value]
    return "\n".join(said)


def _edit_patient(auth, make, clinic, **contact):
    version = make.query(lambda: db.session.get(Patient, clinic["patient"]).version)
    data = {**PATIENT, "version": str(version), "therapists": [str(clinic["therapist"]), str(clinic["video_therapist"])],
            "email": "tamsin@example.org", "phone": "(555) 0111", **contact}
    auth.sign_in("desk")
    assert auth.post(f"/patients/{clinic['patient']}/edit", data).status_code == 302
    auth.logout()


def test_a_new_email_and_phone_readdress_the_waiting_reminders_and_invitations_in_their_rows(make, auth, clinic):
    ids = [_book(make, clinic, 5), _book(make, clinic, 9, clinician="video_therapist", telehealth=True)]
    before = _messages(make, status=PENDING)
    assert len(before) == 2 * (4 + 1)  # per session: 48 h and 2 h by email and text; its invitation
    _edit_patient(auth, make, clinic, email="tamsin.new@example.org", phone="(555) 0199")
    after = _messages(make)
    assert {k: (d.id, d.status) for k, d in after.items()} == {k: (d.id, PENDING) for k, d in before.items()}
    for delivery in after.values():
        said = _said(delivery)
        if delivery.channel == "email":
            assert delivery.recipient == "tamsin.new@example.org" and "tamsin@example.org" not in said
            assert "tamsin.new@example.org" in said
        else:
            assert delivery.recipient != before[delivery.key].recipient and "0199" in delivery.recipient
        assert delivery.scheduled_for == before[delivery.key].scheduled_for
    assert make.audit_rows(action="message.withdrawn") == []
    assert {a for a in ids} == {d.appointment_id for d in after.values()}


def test_a_removed_phone_withdraws_the_waiting_texts_and_leaves_the_emails(make, auth, clinic):
    _book(make, clinic, 5)
    before = _messages(make)
    _edit_patient(auth, make, clinic, phone="")
    after = _messages(make)
    assert {d.status for d in after.values() if d.channel == "sms"} == {WITHDRAWN}
    emails = [d for d in after.values() if d.channel == "email"]
    assert len(emails) == 3 and {d.status for d in emails} == {PENDING}
    assert all(d.content == before[d.key].content for d in emails)  # the same words, not rewritten
    rows = make.audit_rows(action="message.withdrawn")
    assert len(rows) == 2 and all("no address on record" in r.detail for r in rows)


def test_archiving_withdraws_every_waiting_message_and_restoring_queues_them_again(make, auth, clinic):
    _book(make, clinic, 5)
    _book(make, clinic, 6, clinician="video_therapist", telehealth=True)
    before = _messages(make)
    auth.sign_in("desk")
    assert auth.post(f"/patients/{clinic['patient']}/archive", {}).status_code == 302
    assert {d.status for d in _messages(make).values()} == {WITHDRAWN}
    assert all(d.content is None for d in _messages(make).values())
    # an archived patient gets nothing: the sweep queues nothing again
    assert make.run(lambda: sweep.sweep_reminders(utcnow())).queued == 0
    assert {d.status for d in _messages(make).values()} == {WITHDRAWN}

    assert auth.post(f"/patients/{clinic['patient']}/restore", {}).status_code == 302
    after = _messages(make)
    assert {k: (d.id, d.status, d.recipient) for k, d in after.items()} == \
        {k: (d.id, PENDING, d.recipient) for k, d in before.items()}  # the same rows, waiting again
    assert all(_said(d) for d in after.values())
    assert len(make.audit_rows(action="message.requeued")) == len(before)
    assert make.run(lambda: sweep.sweep_reminders(utcnow())).queued == 0  # nothing twice


def test_the_next_sweep_queues_again_what_was_withdrawn_when_it_is_due_again(make, clinic):
    """A withdrawn reminder planned again (here: the record restored by a path that announces
    nothing) is queued by the sweep, in its row; its invitation waits for the next change."""
    appointment = _book(make, clinic, 1)  # its 2 h reminders are within the sweep's horizon (48 h: past)

    def archive():
        db.session.get(Patient, clinic["patient"]).archived_at = utcnow()
        follow.follow_patient(clinic["patient"])
    make.run(archive)
    assert {d.status for d in _messages(make, appointment_id=appointment).values()} == {WITHDRAWN}
    make.run(lambda: db.session.execute(update(Patient).where(Patient.id == clinic["patient"]).values(archived_at=None)))
    result = make.run(lambda: sweep.sweep_reminders(utcnow()))
    reminders = _messages(make, appointment_id=appointment, purpose="reminder")
    assert result.queued == len(reminders) == 2 and {d.status for d in reminders.values()} == {PENDING}


def test_a_clinicians_new_room_rebuilds_the_waiting_messages_of_their_telehealth_sessions(make, auth, clinic):
    online = _book(make, clinic, 5, clinician="video_therapist", telehealth=True)
    in_person = _book(make, clinic, 6, clinician="video_therapist")
    others = _messages(make, appointment_id=in_person)
    assert all(ROOM in _said(d) for d in _messages(make, appointment_id=online).values())
    auth.sign_in("ther2")
    new_room = "https://video.example.org/rooms/ivo-new"
    assert auth.post("/account/notifications", {"digest": "off", "video_room_url": new_room}).status_code == 302
    rebuilt = _messages(make, appointment_id=online)
    assert len(rebuilt) == 5 and {d.status for d in rebuilt.values()} == {PENDING}
    assert all(new_room in _said(d) and ROOM + "\n" not in _said(d) for d in rebuilt.values())
    assert {k: d.content for k, d in _messages(make, appointment_id=in_person).items()} == \
        {k: d.content for k, d in others.items()}  # an in-person session has no link

    # the admin's user form: the room removed, the clinic's template gives the link
    auth.logout()
    auth.sign_in("boss")
    assert auth.post(f"/users/{clinic['video_therapist']}/edit", {
        "username": "ther2", "full_name": "Ivo Second", "roles": ["therapist"], "active": "y",
        "video_room_url": ""}).status_code == 302
    token = make.query(lambda: db.session.get(Appointment, online).video_token)
    assert all(f"https://video.example.org/harbor/{token}" in _said(d) and new_room not in _said(d)
               for d in _messages(make, appointment_id=online).values())


def test_the_clinics_new_template_rebuilds_the_links_of_sessions_without_a_room(make, auth, clinic):
    templated = _book(make, clinic, 5, telehealth=True)
    own_room = _book(make, clinic, 6, clinician="video_therapist", telehealth=True)
    kept = {k: d.content for k, d in _messages(make, appointment_id=own_room).items()}
    token = make.query(lambda: db.session.get(Appointment, templated).video_token)
    assert all(f"/harbor/{token}" in _said(d) for d in _messages(make, appointment_id=templated).values())
    auth.sign_in("boss")
    assert auth.post("/settings/telehealth", {"template": "https://meet.example.net/{appointment}"}).status_code == 302
    rebuilt = _messages(make, appointment_id=templated)
    assert len(rebuilt) == 5 and {d.status for d in rebuilt.values()} == {PENDING}
    assert all(f"https://meet.example.net/{token}" in _said(d) and "/harbor/" not in _said(d)
               for d in rebuilt.values())
    assert {k: d.content for k, d in _messages(make, appointment_id=own_room).items()} == kept


@pytest.mark.both_engines  # SQL statement counts
def test_following_a_patient_reads_the_same_statements_for_two_sessions_or_eight(app, make, clinic):
    """Nothing changed: every waiting message already says what it should, nothing is written."""
    _book(make, clinic, 5)
    _book(make, clinic, 6, telehealth=True)  # the clinic's template is read once, for any number of them

    def statements() -> int:
        count = []
        with app.app_context():
            listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                follow.follow_patient(clinic["patient"])
                db.session.commit()
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(count)
    one = statements()
    for days in range(7, 13):
        _book(make, clinic, days, telehealth=days % 2 == 0)
    assert statements() == one
