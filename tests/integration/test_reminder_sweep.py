"""Issue 22, point 3: the reminder sweep queues each reminder once (even two sweeps at once, on
both engines), through the real queue and a real SMTP server; a moved session's reminders are
rescheduled and a cancelled one's withdrawn in the transaction that changed it; withdrawing
consent stops every channel; quiet hours hold across the clock changes; the sweep's statements do
not grow with the clinic."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email import message_from_string, policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings import booking
from ketamine_integration.bookings.models import Appointment, AppointmentChange, Room
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.reminders import parse_quiet_hours
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import FAILED, OPTED_OUT, PENDING, SENT, WITHDRAWN, Delivery
from ketamine_integration.messaging import services
from ketamine_integration.messaging.queue import PERIODIC, queue_of
from ketamine_integration.patients.models import Patient
from ketamine_integration.reminders import sweep
from ketamine_integration.reminders.consent import opt_out_of_everything, record_consent
from ketamine_integration.reminders.models import ReminderRule
from ketamine_integration.reminders.rules import save_reminder_settings
from tests.messaging_world import QUEUE_BACKENDS, mail_through_queue, queue_settings, running_consumer, wait_for
from tests.conftest import todays_world


NY = ZoneInfo("America/New_York")
RULES = {"preparation": {"offsets": "48h", "channels": ["email"]},
         "dosing": {"offsets": "48h, 2h", "channels": ["email", "sms"]},
         "integration": {"offsets": "48h, 2h", "channels": ["email", "sms"]},
         "follow_up": {"offsets": "48h, 2h", "channels": ["email", "sms"], "wording": "your check-in"}}


def _settings(admin_id: int, quiet: str = "") -> None:
    save_reminder_settings({"sender": "Harbor Light", "quiet_hours": quiet, "clinic_address": "120 Lantern Quay",
                            "clinic_phone": "(555) 0100", "rules": RULES}, by_id=admin_id)


@pytest.fixture
def world(make):
    """Admin, staff and a therapist, whose three patients consent to email and SMS, email only, and nothing
    yet; the clinic's reminder settings. Built once per day, worker and engine (reused_world) and loaded from
    its snapshot after."""
    return todays_world(make.app, "reminder_sweep", lambda: _build_world(make))


def _build_world(make) -> dict:
    ids = {"admin": make.user("admin", username="boss"), "desk": make.user("staff", username="desk"),
           "ther": make.user("therapist", username="ther", full_name="Hazel Quint")}
    ids["both"] = make.patient(therapists=[ids["ther"]], email="ada@example.org", phone="(555) 0111")
    ids["email_only"] = make.patient(therapists=[ids["ther"]], email="bo@example.org", phone="(555) 0112")
    ids["never_asked"] = make.patient(therapists=[ids["ther"]], email="cy@example.org")

    def consents():
        _settings(ids["admin"])
        desk = db.session.get(User, ids["desk"])
        for channel in ("email", "sms"):
            record_consent(db.session.get(Patient, ids["both"]), channel=channel, granted=True, method="phone",
                           by=desk)
        record_consent(db.session.get(Patient, ids["email_only"]), channel="email", granted=True,
                       method="written_form", by=desk)
    make.run(consents)
    return ids


def _appointment(patient_id: int, clinician_id: int, starts_at: datetime, *, kind: str = "follow_up",
                 modality: str = "in_person", booked_by: int | None = None, room_id: int | None = None,
                 course_id: int | None = None) -> int:
    """An appointment as the sweep finds it; `booked_by`: booked through the history (announced at
    commit, so the receiver plans it), else a row alone (only the sweep plans it)."""
    appointment = Appointment(patient_id=patient_id, clinician_id=clinician_id, kind=kind, starts_at=starts_at,
                              ends_at=starts_at + timedelta(minutes=30), modality=modality, room_id=room_id,
                              course_id=course_id, created_by_id=booked_by or clinician_id)
    if booked_by:
        appointment.changes.append(AppointmentChange(change="booked", by_user_id=booked_by))
    db.session.add(appointment)
    db.session.flush()
    return appointment.id


def _deliveries(make, **filters) -> list[tuple]:
    def read():
        # the reminders (the invitations these bookings also queue are test_invitations.py's)
        stmt = select(Delivery).where(Delivery.purpose == "reminder").order_by(Delivery.scheduled_for, Delivery.key)
        for column, value in filters.items():
            stmt = stmt.where(getattr(Delivery, column) == value)
        return [(d.key, d.channel, d.status, d.scheduled_for) for d in db.session.scalars(stmt)]
    return make.query(read)


def _at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=NY).astimezone(timezone.utc)


def _future_start(days: int = 5) -> datetime:
    """10:00 clinic time `days` from now: its 48 h and 2 h reminders fall outside any quiet hours."""
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, 10, tzinfo=NY).astimezone(timezone.utc)


# -- once, even twice at once ------------------------------------------------------------

@pytest.fixture(params=QUEUE_BACKENDS)
def smtp(app, tmp_path, request):
    """An SMTP server's inbox, the app's queue on SQLite, then on Redis."""
    with mail_through_queue(app, request.param, tmp_path) as inbox:
        yield inbox


@pytest.mark.both_engines  # parallel sweeps: row locks and unique keys per engine
def test_two_sweeps_at_once_queue_and_send_each_reminder_once(app, make, world, smtp, monkeypatch):
    # due a minute ago (2 h before a start 1 h 59 min away); a row alone: only the sweeps find it
    starts = utcnow().replace(microsecond=0) + timedelta(hours=2) - timedelta(minutes=1)
    appointment = make.run(lambda: _appointment(world["both"], world["ther"], starts))
    if make.query(lambda: db.engine.dialect.name) == "postgresql":
        # both read "nothing recorded yet" before either writes: the unique key decides. (SQLite's
        # BEGIN IMMEDIATE makes the second wait for the first's commit: the engine serialises them)
        barrier, read = threading.Barrier(2), sweep._recorded_keys

        def read_then_wait(ids):
            keys = read(ids)
            barrier.wait(timeout=20)
            return keys
        monkeypatch.setattr(sweep, "_recorded_keys", read_then_wait)
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(sweep.run_sweep(utcnow()))
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()
    assert errors == []
    assert sorted(r.queued for r in results) == [0, 2], (results, _deliveries(make))  # email and SMS, by one of the two
    keys = {(key, channel, status) for key, channel, status, _ in _deliveries(make, appointment_id=appointment)}
    stamp = starts.strftime("%Y%m%dT%H%MZ")
    assert keys == {(f"reminder:{appointment}:{stamp}:2h:email", "email", PENDING),
                    (f"reminder:{appointment}:{stamp}:2h:sms", "sms", PENDING)}
    assert queue_of(app).huey.pending_count() == 2  # one job each, from the sweep that queued them

    with running_consumer(queue_of(app).huey, workers=2):
        wait_for(lambda: ("email", SENT) in {(c, s) for _, c, s, _ in _deliveries(make, appointment_id=appointment)})
    [raw] = smtp.messages
    message = message_from_string(raw.decode(), policy=policy.default)
    assert message["To"] == "ada@example.org"
    body = message.get_body(("plain",)).get_content()
    assert "your check-in" in body and "120 Lantern Quay" in body and "(555) 0100" in body
    # a third sweep later finds everything recorded
    assert make.run(lambda: sweep.sweep_reminders(utcnow()).queued) == 0


def test_the_sweep_is_a_periodic_job_of_the_worker(app, tmp_path):
    app.config.update(queue_settings("sqlite", tmp_path))
    assert PERIODIC["sweep_reminders"].schedule is sweep.SCHEDULE
    huey = queue_of(app).huey
    assert "sweep_reminders" in {task.__name__ for task in huey._registry._periodic_tasks}
    huey.storage.close()


# -- moves, cancellations, consent --------------------------------------------------------

def test_a_moved_session_has_its_reminders_rescheduled(app, make, world):
    first = _future_start(5)
    appointment = make.run(lambda: _appointment(world["both"], world["ther"], first, booked_by=world["desk"]))
    before = _deliveries(make, appointment_id=appointment)
    # queued at booking (the receiver), on both channels, 48 h and 2 h before
    assert [(c, s, t) for _, c, s, t in before] == [
        ("email", PENDING, first - timedelta(hours=48)), ("sms", PENDING, first - timedelta(hours=48)),
        ("email", PENDING, first - timedelta(hours=2)), ("sms", PENDING, first - timedelta(hours=2))]

    later = first + timedelta(days=1, hours=3)
    make.run(lambda: booking.move(db.session.get(Appointment, appointment), later,
                                  by=db.session.get(User, world["desk"]), reason="asked"))
    after = _deliveries(make, appointment_id=appointment)
    old = {key for key, *_ in before}
    assert {(k, s) for k, _, s, _ in after if k in old} == {(k, WITHDRAWN) for k in old}
    assert sorted((c, t) for k, c, s, t in after if k not in old and s == PENDING) == sorted(
        (c, later - offset) for c in ("email", "sms") for offset in (timedelta(hours=48), timedelta(hours=2)))
    assert len([r for r in make.audit_rows(action="message.withdrawn") if "reminder" in r.detail]) == 4
    # the sweep afterwards changes nothing
    assert make.run(lambda: sweep.sweep_reminders(utcnow()).queued) == 0
    assert len(_deliveries(make, status=PENDING)) == 4


def test_a_cancelled_session_has_its_pending_reminders_withdrawn(app, make, world):
    appointment = make.run(lambda: _appointment(world["email_only"], world["ther"], _future_start(4),
                                                booked_by=world["desk"]))
    assert [(c, s) for _, c, s, _ in _deliveries(make, appointment_id=appointment)] == [("email", PENDING)] * 2
    make.run(lambda: booking.cancel(db.session.get(Appointment, appointment), reason="unwell",
                                    by=db.session.get(User, world["desk"])))
    assert [s for _, _, s, _ in _deliveries(make, appointment_id=appointment)] == [WITHDRAWN] * 2
    assert make.query(lambda: [d.content for d in db.session.scalars(
        select(Delivery).where(Delivery.purpose == "reminder"))]) == [None, None]
    assert make.run(lambda: sweep.sweep_reminders(utcnow()).queued) == 0  # a cancelled session is not swept


def test_opting_out_withdraws_every_channel_and_due_reminders_say_opted_out(app, make, world):
    start = _future_start(5)
    appointment = make.run(lambda: _appointment(world["both"], world["ther"], start, booked_by=world["desk"]))
    other = make.run(lambda: _appointment(world["email_only"], world["ther"], start + timedelta(hours=1),
                                          booked_by=world["desk"]))
    assert len(_deliveries(make, appointment_id=appointment, status=PENDING)) == 4

    def text_only_withdrawn():
        record_consent(db.session.get(Patient, world["both"]), channel="sms", granted=False, method="phone",
                       by=db.session.get(User, world["desk"]))
    make.run(text_only_withdrawn)
    assert sorted((c, s) for _, c, s, _ in _deliveries(make, appointment_id=appointment)) == [
        ("email", PENDING), ("email", PENDING), ("sms", WITHDRAWN), ("sms", WITHDRAWN)]

    make.run(lambda: opt_out_of_everything(db.session.get(Patient, world["both"]), method="in_person",
                                           by=db.session.get(User, world["desk"])))
    assert {s for _, _, s, _ in _deliveries(make, appointment_id=appointment)} == {WITHDRAWN}
    assert {s for _, _, s, _ in _deliveries(make, appointment_id=other)} == {PENDING}  # another patient's stay

    # the sweep at the first reminder's moment queues nothing again for the opted-out patient; the
    # patient never asked has that moment recorded as "not sent: opted out"
    never = make.run(lambda: _appointment(world["never_asked"], world["ther"], start + timedelta(hours=2)))
    moment = start - timedelta(hours=48)
    make.run(lambda: sweep.sweep_reminders(moment + timedelta(hours=2)))
    assert {s for _, _, s, _ in _deliveries(make, appointment_id=appointment)} == {WITHDRAWN}
    assert [(c, s) for _, c, s, _ in _deliveries(make, appointment_id=never)] == [("email", OPTED_OUT),
                                                                                   ("sms", OPTED_OUT)]
    assert len(make.audit_rows(action="reminder.opted_out")) == 2
    make.run(lambda: sweep.sweep_reminders(moment + timedelta(hours=2, minutes=5)))
    assert len(_deliveries(make, appointment_id=never)) == 2  # once per key


def test_a_reminder_carrying_a_clinical_word_is_failed_with_the_reason(app, make, world):
    def clinical_wording():  # saved before the list grew: the settings form would refuse it now
        db.session.get(ReminderRule, "follow_up").wording = "your ketamine check-in"
    make.run(clinical_wording)
    start = _future_start(5)
    appointment = make.run(lambda: _appointment(world["email_only"], world["ther"], start,
                                                booked_by=world["desk"]))
    assert _deliveries(make, appointment_id=appointment) == []  # not due yet: nothing recorded
    make.run(lambda: sweep.sweep_reminders(start - timedelta(hours=48) + timedelta(minutes=5)))
    [(key, channel, status, _)] = _deliveries(make, appointment_id=appointment, channel="email")
    assert (channel, status) == ("email", FAILED) and key.endswith(":48h:email")
    # no consent to text messages: that one is opted out, whatever its words
    assert [s for _, _, s, _ in _deliveries(make, appointment_id=appointment, channel="sms")] == [OPTED_OUT]
    reason = make.query(lambda: _last_error(key))
    assert reason == "Not sent: a reminder would carry the word(s): ketamine"
    [event] = [r for r in make.audit_rows(action="message.failed") if "reminder" in r.detail]
    assert event.outcome == "failure" and event.patient_id == world["email_only"]


def _last_error(key: str) -> str:
    return db.session.scalar(select(Delivery.last_error).where(Delivery.key == key))


# -- quiet hours on the nights the clocks change ------------------------------------------

@pytest.mark.parametrize("start, offset, send_local", [
    # spring forward (8 March 2026, 02:00 EST -> 03:00 EDT): 8 h before 09:00 EDT is 00:00 EST, quiet;
    # sent when quiet hours end, 08:00 EDT (7 real hours after that midnight, the night being short)
    (("2026-03-08", "09:00"), "8h", ("2026-03-08", "08:00")),
    # spring forward: 2 h before 07:30 EDT is 04:30 EDT, quiet, and 08:00 is after the start: sent
    # when quiet hours begin the evening before, 21:00 EST
    (("2026-03-08", "07:30"), "2h", ("2026-03-07", "21:00")),
    # fall back (1 November 2026, 02:00 EDT -> 01:00 EST): 8 h before 09:00 EST is the second
    # 01:00 (EST), quiet; sent at 08:00 EST, not 08:00 EDT an hour earlier
    (("2026-11-01", "09:00"), "8h", ("2026-11-01", "08:00")),
    # fall back: 2 h before 03:30 EST is the second 01:30, quiet, and 08:00 is after the start:
    # sent at 21:00 EDT the evening before
    (("2026-11-01", "03:30"), "2h", ("2026-10-31", "21:00")),
    # after the change: 6 h before 14:00 EST is 08:00 EST, the quiet span's edge, allowed
    (("2026-11-01", "14:00"), "6h", ("2026-11-01", "08:00")),
])
def test_quiet_hours_hold_across_the_clock_changes(app, make, world, start, offset, send_local):
    def settings():
        _settings(world["admin"], quiet="21:00-08:00")
        db.session.get(ReminderRule, "follow_up").offsets = offset
    make.run(settings)
    starts_at = _at(*start)
    appointment = make.run(lambda: _appointment(world["email_only"], world["ther"], starts_at))
    make.run(lambda: sweep.sweep_reminders(starts_at - timedelta(days=1)))
    [(_, _, status, send_at)] = _deliveries(make, appointment_id=appointment)
    assert status == PENDING and send_at == _at(*send_local)
    assert not parse_quiet_hours("21:00-08:00").contains(send_at.astimezone(NY).time())


# -- statements per sweep ----------------------------------------------------------------

def _clinic(world, patients: range) -> None:
    """Patients consenting on both channels, each with three sessions in two days (in person, in a
    room, online; their 48 h and 2 h reminders ahead) and one next month."""
    room = db.session.scalar(select(Room).where(Room.name == "Quiet Room")) or Room(name="Quiet Room")
    db.session.add(room)
    desk = db.session.get(User, world["desk"])
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(hours=50)
    for n in patients:
        patient = Patient(mrn=f"SWP-{n:04d}", given_name="Testa", family_name=f"Swept{n}",
                          date_of_birth=datetime(1980, 1, 1).date(), email=f"p{n}@example.org",
                          phone=f"(555) 01{n % 100:02d}")
        db.session.add(patient)
        db.session.flush()
        for channel in ("email", "sms"):
            record_consent(patient, channel=channel, granted=True, method="phone", by=desk)
        for k, modality in enumerate(("in_person", "in_person", "telehealth")):
            _appointment(patient.id, world["ther"], soon + timedelta(hours=k * 3, minutes=n), modality=modality,
                         room_id=room.id if k == 1 else None)
        _appointment(patient.id, world["ther"], soon + timedelta(days=30, minutes=n))


def _sweep_statements(app, now: datetime) -> tuple[int, int]:
    count = []
    with app.app_context():
        listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            queued = sweep.run_sweep(now).queued
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    return len(count), queued


@pytest.mark.both_engines  # SQL statement counts
def test_the_sweep_runs_the_same_statements_for_three_times_the_clinic(app, make, world):
    now = utcnow()
    make.run(lambda: _clinic(world, range(4)))
    first_small, queued_small = _sweep_statements(app, now)
    steady_small, nothing = _sweep_statements(app, now)
    assert queued_small == 4 * 3 * 2 * 2 and nothing == 0  # 48 h and 2 h, email and SMS, three sessions each

    make.run(lambda: db.session.execute(Delivery.__table__.delete()))
    make.run(lambda: _clinic(world, range(4, 12)))  # three times the clinic
    first_large, queued_large = _sweep_statements(app, now)
    steady_large, nothing = _sweep_statements(app, now)
    assert queued_large == 3 * queued_small and nothing == 0
    assert steady_small == steady_large  # nothing new: no statement per appointment
    assert steady_small <= 8


def test_new_reminder_settings_rewrite_withdraw_and_add_waiting_reminders(app, make, world):
    """The settings page's promise: every reminder not yet sent follows the rules saved."""
    start = _future_start(5)
    appointment = make.run(lambda: _appointment(world["both"], world["ther"], start, booked_by=world["desk"]))
    before = {key: status for key, _, status, _ in _deliveries(make, appointment_id=appointment)}
    assert list(before.values()) == [PENDING] * 4

    def new_rules():
        rules = dict(RULES, follow_up={"offsets": "48h, 24h", "channels": ["email"], "wording": "your visit"})
        save_reminder_settings({"sender": "Harbor Light", "quiet_hours": "", "clinic_address": "120 Lantern Quay",
                                "clinic_phone": "(555) 0100", "rules": rules}, by_id=world["admin"])
        return sweep.follow_settings(utcnow())
    result = make.run(new_rules)
    # 2 h email, both texts withdrawn; the 48 h email rebuilt in its row and the 24 h one added: 2 queued
    assert (result.withdrawn, result.queued) == (3, 2)
    after = _deliveries(make, appointment_id=appointment)
    assert sorted((c, s, t) for _, c, s, t in after if s == PENDING) == [
        ("email", PENDING, start - timedelta(hours=48)), ("email", PENDING, start - timedelta(hours=24))]
    kept = next(k for k, c, s, t in after if s == PENDING and t == start - timedelta(hours=48))
    assert kept in before  # the same reminder, rewritten
    message = message_from_string(make.query(lambda: services.fetch_delivery(kept).content), policy=policy.default)
    assert "your visit" in message["Subject"] and "your check-in" not in message.get_body(("plain",)).get_content()
    assert {s for k, _, s, _ in after if k in before and k != kept} == {WITHDRAWN}
    assert make.run(lambda: sweep.sweep_reminders(utcnow()).queued) == 0


def test_a_reminder_whose_session_has_begun_is_withdrawn_when_its_job_runs_late(app, make, world, tmp_path):
    """A worker that was down sends a session's 2 h reminder after the session began: it does not."""
    from ketamine_integration.messaging.mailer import FileMailer

    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=3)
    appointment = make.run(lambda: _appointment(world["email_only"], world["ther"], start, booked_by=world["desk"]))
    [key] = [k for k, c, s, t in _deliveries(make, appointment_id=appointment, status=PENDING)
             if t == start - timedelta(hours=2)]
    outbox = tmp_path / "outbox"
    outcome = make.run(lambda: services.deliver(key, mailer=FileMailer(outbox), sms=None,
                                                policy=services.RetryPolicy(3, 60), now=start + timedelta(minutes=5)))
    assert outcome.status == WITHDRAWN and not list(outbox.glob("*.eml"))
    row = make.query(lambda: services.fetch_delivery(key))
    assert (row.status, row.content, row.last_error) == (WITHDRAWN, None, "the session had begun when it was due to go")
    [event] = [r for r in make.audit_rows(action="message.withdrawn") if "had begun" in r.detail]
    assert event.patient_id == world["email_only"]


def test_a_text_too_long_for_a_text_message_is_recorded_as_not_sent_and_the_booking_stands(app, make, world):
    """Settings each within their limits can add up to a text over SMS_MAX_CHARACTERS: the email
    goes, the text is failed with the reason when its moment comes; nothing refuses the booking."""
    def long_settings():
        rules = dict(RULES, follow_up={"offsets": "48h", "channels": ["email", "sms"], "wording": "w" * 60})
        save_reminder_settings({"sender": "S" * 60, "quiet_hours": "", "clinic_address": "12 Lantern Quay " * 12,
                                "clinic_phone": "(555) 0100", "rules": rules}, by_id=world["admin"])
    make.run(long_settings)
    room = make.room("Garden Room with the long window seat and green armchairs")
    start = _future_start(5)
    appointment = make.run(lambda: _appointment(world["both"], world["ther"], start, booked_by=world["desk"],
                                                room_id=room))
    assert [c for _, c, s, _ in _deliveries(make, appointment_id=appointment)] == ["email"]
    make.run(lambda: sweep.sweep_reminders(start - timedelta(hours=48) + timedelta(minutes=1)))
    [(key, status)] = [(k, s) for k, c, s, _ in _deliveries(make, appointment_id=appointment) if c == "sms"]
    assert status == FAILED and make.query(lambda: _last_error(key)).startswith("Not sent: ")


@pytest.mark.parametrize("change", ["opt_out", "new_address"])
def test_a_change_made_while_a_reminder_was_being_sent_stops_its_retry(app, make, world, tmp_path, change):
    """Opting out or a new address finds the reminder being sent (not waiting) and leaves it; its
    send fails for a while; the retry must not go to the old address or against the patient's no."""
    from ketamine_integration.messaging.mailer import FileMailer, SendFailure

    start = _future_start(5)
    appointment = make.run(lambda: _appointment(world["email_only"], world["ther"], start, booked_by=world["desk"]))
    [key] = [k for k, c, s, t in _deliveries(make, appointment_id=appointment, status=PENDING)
             if t == start - timedelta(hours=48)]
    due = start - timedelta(hours=48) + timedelta(minutes=1)
    delivery_id = make.run(lambda: services.claim(key, now=due).id)

    def meanwhile():
        patient = db.session.get(Patient, world["email_only"])
        if change == "opt_out":
            record_consent(patient, channel="email", granted=False, method="phone",
                           by=db.session.get(User, world["desk"]))
        else:
            patient.email = "bo.new@example.org"
    make.run(meanwhile)
    make.run(lambda: services._after_failure(delivery_id, SendFailure("SMTP 451: try later", permanent=False),
                                             policy=services.RetryPolicy(3, 60), now=due))
    outbox = tmp_path / "outbox"
    outcome = make.run(lambda: services.deliver(key, mailer=FileMailer(outbox), sms=None,
                                                policy=services.RetryPolicy(3, 60), now=due + timedelta(minutes=2)))
    assert outcome.status == WITHDRAWN and not list(outbox.glob("*.eml"))
    reason = make.query(lambda: services.fetch_delivery(key).last_error)
    assert reason == {"opt_out": "the patient no longer consents to this channel",
                      "new_address": "the patient's address changed"}[change]
