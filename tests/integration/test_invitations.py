"""Issue 22, point 4 (and the invitation half of point 5): booking, moving and cancelling a session
sends the patient who consented to email an invitation (.ics METHOD:REQUEST / CANCEL) with the
clinician's UID and SEQUENCE and the clinic as organizer, in a reminder's discreet words; read back
through a real SMTP server (aiosmtpd) and parsed with vobject, not the icalendar that wrote it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, message_from_string, policy
from zoneinfo import ZoneInfo

import pytest
import vobject
from sqlalchemy import event, select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings import booking
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.reminders import clinical_words_in
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import FAILED, OPTED_OUT, PENDING, SENT, WITHDRAWN, Delivery
from ketamine_integration.messaging.queue import queue_of
from ketamine_integration.patients.models import Patient
from ketamine_integration.reminders.consent import record_consent
from ketamine_integration.reminders.invitations import reconcile_invitations
from ketamine_integration.reminders.rules import save_reminder_settings
from ketamine_integration.telehealth.services import save_settings as save_telehealth_settings
from tests.conftest import page_text
from tests.messaging_world import QUEUE_BACKENDS, mail_through_queue, running_consumer, wait_for


NY = ZoneInfo("America/New_York")
UTC = timezone.utc
ADDRESS = "120 Lantern Quay, Suite 3, Harborview"
SETTINGS = {"sender": "Harbor Light", "quiet_hours": "21:00-08:00", "clinic_address": ADDRESS,
            "clinic_phone": "(555) 0100",
            "rules": {kind: {"offsets": "48h", "channels": ["email"]}
                      for kind in ("preparation", "dosing", "integration", "follow_up")}}


@pytest.fixture
def clinic(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", email="hazel@clinic.example"),
           "video_therapist": make.user("therapist", username="ther2", full_name="Ivo Second",
                                        video_room_url="https://video.example.org/rooms/ivo"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", email="tamsin@example.org",
                                  therapists=[ids["therapist"], ids["video_therapist"]])
    ids["unasked"] = make.patient(given_name="Uma", family_name="Vetch", email="uma@example.org",
                                  therapists=[ids["therapist"]])
    ids["room"] = make.room("Cedar Room")
    ids["clinical_room"] = make.room("Dosing Suite")

    def settings():
        save_reminder_settings(SETTINGS, by_id=ids["admin"])
        record_consent(db.session.get(Patient, ids["patient"]), channel="email", granted=True, method="written_form",
                       by=db.session.get(User, ids["staff"]))
    make.run(settings)
    return ids


def future(days, hour=10):
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def _book(make, clinic, starts_local, *, patient="patient", clinician="therapist", room="room", kind="integration"):
    """An appointment as the booking service leaves it (its 'booked' history row), committed."""
    def add():
        start = starts_local.astimezone(UTC)
        a = Appointment(patient_id=clinic[patient], clinician_id=clinic[clinician], kind=kind, starts_at=start,
                        ends_at=start + timedelta(minutes=50), modality="in_person" if room else "telehealth",
                        room_id=clinic[room] if room else None, created_by_id=clinic["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinic["staff"]))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def _move(make, clinic, appointment_id, starts_local):
    make.run(lambda: booking.move(db.session.get(Appointment, appointment_id), starts_local.astimezone(UTC),
                                  by=db.session.get(User, clinic["staff"]), reason="patient asked"))


def _cancel(make, clinic, appointment_id):
    make.run(lambda: booking.cancel(db.session.get(Appointment, appointment_id), reason="unwell",
                                    by=db.session.get(User, clinic["staff"])))


#: what this file reads: the invitations and cancellations (the reminders these bookings also queue
#: are test_reminder_sweep.py's)
INVITATION_PURPOSES = ("invitation", "cancellation")


def _deliveries(make, appointment_id):
    return make.query(lambda: db.session.scalars(select(Delivery).where(
        Delivery.appointment_id == appointment_id, Delivery.purpose.in_(INVITATION_PURPOSES)).order_by(Delivery.id)).all())


def _stored_invitation(delivery):
    """(email, its parsed .ics) of a delivery still waiting (its content is the whole message)."""
    message = message_from_string(delivery.content, policy=policy.default)
    [attachment] = list(message.iter_attachments())
    return message, vobject.readOne(attachment.get_payload(decode=True).decode())


def _clinician_event(client, auth, appointment_id):
    """The clinician's own invitation for the appointment, as the invite download gives it."""
    auth.sign_in("desk")
    response = client.get(f"/appointments/{appointment_id}/invite.ics")
    auth.logout()
    assert response.status_code == 200
    return vobject.readOne(response.get_data(as_text=True)).vevent


def _ics_text(message) -> str:
    """The invitation's .ics as the patient's calendar reads it: decoded, never the base64 the message
    carries it in (a base64 run, which changes with the CREATED timestamp, can spell anything)."""
    [attachment] = list(message.iter_attachments())
    return attachment.get_payload(decode=True).decode()


def _no_clinical_words(message, ics_text):
    everything = " ".join([str(message["Subject"]), str(message["From"]),
                           message.get_body(("plain",)).get_content(), ics_text])
    assert clinical_words_in(everything) == []
    for word in ("Dosing session", "Integration session", "Therapist", "Prescriber", "Hazel Quint"):
        assert word.lower() not in everything.lower()


# -- the real worker and SMTP server ---------------------------------------------------

@pytest.fixture(params=QUEUE_BACKENDS)
def smtp(app, tmp_path, request):
    """An SMTP server's inbox, the app's queue on SQLite, then on Redis."""
    with mail_through_queue(app, request.param, tmp_path) as inbox:
        yield inbox


def _sent(make, appointment_id, count):
    return lambda: len([d for d in _deliveries(make, appointment_id) if d.status == SENT]) == count


def _received(raw):
    message = message_from_bytes(raw, policy=policy.default)
    [attachment] = list(message.iter_attachments())
    ics_text = attachment.get_payload(decode=True).decode()
    return message, attachment, ics_text, vobject.readOne(ics_text)


def test_booking_moving_and_cancelling_send_the_patient_request_request_cancel(app, make, auth, client, clinic, smtp):
    appointment = _book(make, clinic, future(3))
    with running_consumer(queue_of(app).huey):
        wait_for(_sent(make, appointment, 1))
        booked_event = _clinician_event(client, auth, appointment)
        _move(make, clinic, appointment, future(4, 14))
        wait_for(_sent(make, appointment, 2))
        moved_event = _clinician_event(client, auth, appointment)
        auth.sign_in("desk")                                        # cancelled through the page, as staff do
        assert auth.post(f"/appointments/{appointment}/cancel", {"reason": "Unwell"}).status_code == 302
        auth.logout()
        wait_for(_sent(make, appointment, 3))
        cancelled_event = _clinician_event(client, auth, appointment)

    assert len(smtp.messages) == 3
    (booked, moved, cancelled) = [_received(raw) for raw in smtp.messages]
    for (message, attachment, ics_text, calendar), clinician, method, start in (
            (booked, booked_event, "REQUEST", future(3)), (moved, moved_event, "REQUEST", future(4, 14)),
            (cancelled, cancelled_event, "CANCEL", future(4, 14))):
        assert message["To"] == "tamsin@example.org"
        assert str(message["From"]) == "Harbor Light <scheduling@harbor-light.example>"   # the reminder sender
        assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == method
        assert calendar.method.value == method
        event = calendar.vevent
        # the clinician's event: the same UID and SEQUENCE, so a calendar holding both sees one
        assert event.uid.value == clinician.uid.value == f"appointment-{appointment}@clinic-calendar.invalid"
        assert int(event.sequence.value) == int(clinician.sequence.value)
        assert event.organizer.value == "mailto:scheduling@harbor-light.example"
        assert event.organizer.params["CN"] == ["Harbor Light"]
        assert event.attendee.value == "mailto:tamsin@example.org"
        assert event.attendee.params["CN"] == ["Tamsin Sorrel"]
        # the clinic's zone, at the session's clinic time
        assert event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["America/New_York"]     # vobject's record of TZID
        assert event.dtstart.value == start and event.dtstart.value.utcoffset() == start.utcoffset()
        assert event.summary.value == "Your appointment (Harbor Light)"   # never "Integration session"
        assert event.location.value == f"{ADDRESS}, Cedar Room"
        assert "(555) 0100" in event.description.value
        _no_clinical_words(message, ics_text)
    assert [int(c.vevent.sequence.value) for *_, c in (booked, moved, cancelled)] == [0, 1, 2]
    assert cancelled[3].vevent.status.value == "CANCELLED"
    assert booked[0]["Subject"].startswith("Invitation: your appointment on ")
    assert moved[0]["Subject"].startswith("Changed: your appointment is now on ")
    assert cancelled[0]["Subject"].startswith("Cancelled: your appointment on ")
    body = moved[0].get_body(("plain",)).get_content()
    assert f"Where: {ADDRESS}, Cedar Room" in body and "please call (555) 0100" in body
    assert [(d.key, d.status, d.content) for d in _deliveries(make, appointment)] == [
        (f"invitation:appointment:{appointment}:seq:0:request", SENT, None),
        (f"invitation:appointment:{appointment}:seq:1:request", SENT, None),
        (f"invitation:appointment:{appointment}:seq:2:cancel", SENT, None)]
    sent = make.audit_rows(action="message.sent")
    assert [r.detail for r in sent] == ["email invitation, attempt 1"] * 2 + ["email cancellation, attempt 1"]


# -- what is queued, without a worker ----------------------------------------------------

def test_a_patient_without_email_consent_gets_no_email_and_an_opted_out_row(make, clinic, auth, client):
    appointment = _book(make, clinic, future(3), patient="unasked")
    [row] = _deliveries(make, appointment)
    assert (row.key, row.status, row.channel, row.purpose, row.content, row.recipient) == (
        f"invitation:appointment:{appointment}:seq:0:request", OPTED_OUT, "email", "invitation", None,
        "uma@example.org")
    auth.sign_in("desk")                                      # the patient page says so
    assert "Email Appointment invitation Not sent: opted out" in page_text(client.get(f"/patients/{clinic['unasked']}"))
    auth.logout()
    _cancel(make, clinic, appointment)                    # nothing was sent: there is nothing to take back
    assert [d.status for d in _deliveries(make, appointment)] == [OPTED_OUT]


def test_a_telehealth_invitation_carries_the_link_and_an_in_person_one_the_address(make, clinic):
    online = _book(make, clinic, future(2, 9), clinician="video_therapist", room=None, kind="integration")
    in_clinical_room = _book(make, clinic, future(2, 15), room="clinical_room")
    [waiting] = _deliveries(make, online)
    message, calendar = _stored_invitation(waiting)
    link = "https://video.example.org/rooms/ivo"
    assert calendar.vevent.location.value == link and calendar.vevent.url.value == link
    assert f"Join online: {link}" in calendar.vevent.description.value
    assert f"Where: online, join at {link}" in message.get_body(("plain",)).get_content()
    _no_clinical_words(message, _ics_text(message))

    [waiting] = _deliveries(make, in_clinical_room)
    message, calendar = _stored_invitation(waiting)
    assert calendar.vevent.location.value == ADDRESS                  # "Dosing Suite" is not said
    assert not hasattr(calendar.vevent, "url")
    assert "Suite 3" in message.get_body(("plain",)).get_content()
    _no_clinical_words(message, _ics_text(message))


def test_a_dosing_series_invites_in_the_words_the_clinic_chose(make, clinic):
    def wording():
        save_reminder_settings({**SETTINGS, "rules": {**SETTINGS["rules"], "dosing": {
            "offsets": "48h", "channels": ["email"], "wording": "your extended appointment"}}}, by_id=clinic["admin"])
    make.run(wording)
    course = make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"], phase="experience")
    make.dosing_plan(course, first_start=future(3).astimezone(UTC), days_between=2, count=2)
    rows = make.query(lambda: db.session.scalars(select(Delivery).where(
        Delivery.patient_id == clinic["patient"], Delivery.purpose.in_(INVITATION_PURPOSES)).order_by(Delivery.id)).all())
    assert [d.status for d in rows] == [PENDING, PENDING]
    for row in rows:
        message, calendar = _stored_invitation(row)
        assert message["Subject"].startswith("Invitation: your extended appointment on ")
        assert calendar.vevent.summary.value == "Your extended appointment (Harbor Light)"
        assert calendar.vevent.location.value == ADDRESS                 # the "Dosing Suite" room is not named
        _no_clinical_words(message, _ics_text(message))


def test_the_clinics_template_gives_the_link_when_the_clinician_has_no_room(make, clinic):
    make.run(lambda: save_telehealth_settings(template="https://video.example.org/harbor/{appointment}",
                                              in_feeds=False, by_id=clinic["admin"]))
    appointment = _book(make, clinic, future(2), room=None)
    [waiting] = _deliveries(make, appointment)
    _, calendar = _stored_invitation(waiting)
    assert calendar.vevent.location.value.startswith("https://video.example.org/harbor/")


def test_a_reannounced_change_sends_once_and_a_newer_invitation_withdraws_the_waiting_one(make, clinic):
    appointment = _book(make, clinic, future(3))
    make.run(lambda: reconcile_invitations([appointment], now=utcnow()))      # announced again: nothing new
    assert [(d.key.split(":seq:")[1], d.status) for d in _deliveries(make, appointment)] == [("0:request", PENDING)]

    _move(make, clinic, appointment, future(5))
    rows = _deliveries(make, appointment)
    assert [(d.key.split(":seq:")[1], d.status) for d in rows] == [("0:request", WITHDRAWN), ("1:request", PENDING)]
    assert rows[0].content is None
    # the first was never sent, so the patient gets an invitation, not a change
    assert message_from_string(rows[1].content, policy=policy.default)["Subject"].startswith("Invitation:")
    assert [r.detail for r in make.audit_rows(action="message.withdrawn")
            if "reminder" not in r.detail] == ["email invitation: superseded"]

    def sent_meanwhile():
        db.session.get(Delivery, rows[1].id).status = SENT
    make.run(sent_meanwhile)
    _cancel(make, clinic, appointment)
    rows = _deliveries(make, appointment)
    assert [(d.key.split(":seq:")[1], d.status) for d in rows][-1] == ("2:cancel", PENDING)
    assert _stored_invitation(rows[-1])[1].method.value == "CANCEL"


def test_a_waiting_invitation_is_withdrawn_by_a_cancellation_and_no_cancel_is_sent(make, clinic):
    appointment = _book(make, clinic, future(3))
    _cancel(make, clinic, appointment)
    assert [d.status for d in _deliveries(make, appointment)] == [WITHDRAWN]


def test_past_and_settled_sessions_get_no_invitation(make, clinic):
    past = _book(make, clinic, datetime.now(NY) - timedelta(days=2))
    assert _deliveries(make, past) == []

    def attended():
        booking.settle(db.session.get(Appointment, past), "attended", by=db.session.get(User, clinic["staff"]))
    make.run(attended)
    assert _deliveries(make, past) == []


def test_an_invitation_that_would_carry_a_clinical_word_fails_for_staff_to_see(make, clinic):
    def room_url():
        db.session.get(User, clinic["video_therapist"]).video_room_url = "https://video.example.org/ketamine-room"
    make.run(room_url)
    appointment = _book(make, clinic, future(2), clinician="video_therapist", room=None)
    [row] = _deliveries(make, appointment)
    assert row.status == FAILED and row.content is None and "ketamine" in row.last_error
    # the invitation's own row: past 10 a.m. the 48-hour reminder's moment has passed too, and the
    # sweep records that reminder, carrying the same link, as not sent in a row of its own
    assert [r.outcome for r in make.audit_rows(action="message.failed", object_id=str(row.id))] == ["failure"]


@pytest.mark.both_engines  # SQL statement counts
def test_reading_many_appointments_costs_the_statements_of_one(app, make, clinic):
    """Re-announcing appointments whose invitations are queued reads a constant number of statements."""
    ids = [_book(make, clinic, future(3 + i)) for i in range(6)]
    ids += [_book(make, clinic, future(3, 8 + i), patient="unasked") for i in range(2)]

    def statements(appointment_ids):
        count = []
        with app.app_context():
            listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                reconcile_invitations(appointment_ids, now=utcnow())
                db.session.commit()
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(count)
    assert statements(ids[:1]) == statements(ids)
