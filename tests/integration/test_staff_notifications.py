"""Staff notifications (issue 22, point 6): an urgent safety alert emailed at once to the on-call
address and the patient's clinicians, saying nothing clinical; each user's daily summary at the time
they chose, once a clinic day (a change of clock included), none when nothing waits; the settings
pages, their refusals and their audit rows."""
from datetime import date, datetime, time, timedelta, timezone
from email import message_from_bytes, message_from_string, policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.domain.reminders import clinical_words_in
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import SENT, Delivery
from ketamine_integration.messaging.queue import queue_of
from ketamine_integration.notes.models import SafetyAlert
from ketamine_integration.notes.services import record_measure
from ketamine_integration.notifications import alerts, digests
from ketamine_integration.notifications.links import linking_context
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text, todays_world
from tests.messaging_world import QUEUE_BACKENDS, mail_through_queue, running_consumer, wait_for


NY = ZoneInfo("America/New_York")
UTC = timezone.utc
APP_URL = "https://ki.clinic.example/app"
ONCALL = "oncall@clinic.example"


@pytest.fixture
def clinic(app, make):
    """A course in integration whose care team has emails (a second therapist on it has none), the desk and the
    admin; the app links to APP_URL. Built once per day, worker and engine (reused_world)."""
    app.config["KI_APP_URL"] = APP_URL
    return todays_world(app, "staff_notifications_clinic", lambda: _clinic(make))


def _clinic(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", email="hazel@clinic.example"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale", email="orrin@clinic.example"),
           "nurse": make.user("nurse", username="nurse", full_name="Nell Pike", email="nell@clinic.example"),
           "quiet": make.user("therapist", username="ther2", full_name="Ivo Second"),  # no email address
           "staff": make.user("staff", username="desk", email="desk@clinic.example"),
           "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", therapists=[ids["quiet"]],
                                  nurses=[ids["nurse"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    ids["mrn"] = make.query(lambda: db.session.get(Patient, ids["patient"]).mrn)
    return ids


def _raise_alert(make, clinic, item9: int = 2) -> None:
    """A PHQ-9 whose item 9 raises an alert, recorded through the service and committed."""
    def record():
        course = db.session.get(TreatmentCourse, clinic["course"])
        today = datetime.now(NY).date()
        record_measure(course, measure="phq9", answers=[1] * 8 + [item9], difficulty=None, administered_on=today,
                       by=db.session.get(User, clinic["therapist"]), today=today)
    make.run(record)


def _deliveries(make, purpose: str):
    return make.query(lambda: db.session.scalars(select(Delivery).where(Delivery.purpose == purpose)
                                                 .order_by(Delivery.key)).all())


def _text(delivery: Delivery) -> tuple[str, str]:
    message = message_from_string(delivery.content, policy=policy.default)
    return str(message["Subject"]), message.get_body(("plain",)).get_content()


def _set_oncall(auth, address=ONCALL):
    auth.sign_in("boss")
    assert auth.post("/settings/notifications", {"oncall_email": address}).status_code == 302
    auth.logout()


# -- urgent safety alerts ----------------------------------------------------------------

def test_an_alert_is_emailed_to_the_oncall_address_and_the_clinicians_with_nothing_clinical(clinic, make, auth,
                                                                                           client):
    _set_oncall(auth)
    auth.sign_in("ther")
    phq9 = {"phq9-administered_on": datetime.now(NY).date().isoformat(),
            **{f"phq9-item{n}": "1" for n in range(1, 9)}, "phq9-item9": "3"}
    assert auth.post(f"/courses/{clinic['course']}/measures/phq9", phq9).status_code == 302
    [alert_id] = make.query(lambda: db.session.scalars(select(SafetyAlert.id)).all())
    sent = _deliveries(make, "safety_alert")
    # the on-call address and the therapist and prescriber with an email; not the nurse (who reads no
    # clinical content), not the therapist with no address
    assert sorted((d.key, d.recipient, d.user_id, d.patient_id) for d in sent) == [
        (f"safety_alert:{alert_id}:oncall", ONCALL, None, clinic["patient"]),
        (f"safety_alert:{alert_id}:user:{clinic['therapist']}", "hazel@clinic.example", clinic["therapist"],
         clinic["patient"]),
        (f"safety_alert:{alert_id}:user:{clinic['prescriber']}", "orrin@clinic.example", clinic["prescriber"],
         clinic["patient"])]
    subject, body = _text(sent[0])
    assert subject == f"Urgent: a safety alert is waiting for patient {clinic['mrn']}"
    assert f"An urgent safety alert is waiting in the app for patient {clinic['mrn']}." in body
    assert f"{APP_URL}/courses/{clinic['course']}/measures" in body
    # no clinical word, no name, no measure, no answer
    assert clinical_words_in(subject + body) == []
    for told in ("Tamsin", "Sorrel", "PHQ", "item 9", "answered", "self-harm"):
        assert told not in subject + body
    # queued again (a retried job, a second call): nothing new
    make.run(lambda: alerts.queue_alert_emails(db.session.get(SafetyAlert, alert_id)))
    assert len(_deliveries(make, "safety_alert")) == 3


def test_an_address_shared_by_oncall_and_a_clinician_gets_one_email(clinic, make, auth):
    _set_oncall(auth, "Hazel@Clinic.example")
    _raise_alert(make, clinic)
    assert sorted(d.recipient for d in _deliveries(make, "safety_alert")) == ["Hazel@Clinic.example",
                                                                              "orrin@clinic.example"]


def test_an_email_that_cannot_be_queued_never_fails_the_alert(clinic, make, auth, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the mail settings are broken")
    monkeypatch.setattr(alerts, "queue_email", broken)
    auth.sign_in("ther")
    phq9 = {"phq9-administered_on": datetime.now(NY).date().isoformat(),
            **{f"phq9-item{n}": "0" for n in range(1, 9)}, "phq9-item9": "1"}
    assert auth.post(f"/courses/{clinic['course']}/measures/phq9", phq9).status_code == 302
    assert make.query(lambda: len(db.session.scalars(select(SafetyAlert)).all())) == 1  # the alert stands
    assert _deliveries(make, "safety_alert") == []


@pytest.mark.parametrize("backend", QUEUE_BACKENDS)
def test_an_alert_email_arrives_through_the_real_queue(app, clinic, make, auth, tmp_path, backend):
    _set_oncall(auth)
    with mail_through_queue(app, backend, tmp_path) as inbox:
        _raise_alert(make, clinic)
        with running_consumer(queue_of(app).huey):
            wait_for(lambda: all(d.status == SENT for d in _deliveries(make, "safety_alert")))
    received = [message_from_bytes(raw, policy=policy.default) for raw in inbox.messages]
    assert sorted(str(m["To"]) for m in received) == sorted([ONCALL, "hazel@clinic.example", "orrin@clinic.example"])
    for message in received:
        body = message.get_body(("plain",)).get_content()
        assert f"patient {clinic['mrn']}" in body and "Tamsin" not in body and clinical_words_in(body) == []
    assert all(d.content is None for d in _deliveries(make, "safety_alert"))  # not kept once sent


# -- daily summaries ---------------------------------------------------------------------

def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic wall-clock time as UTC (fold 0)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).astimezone(UTC)


def _held_session(make, clinician: int, patient: int, ends: datetime) -> int:
    """An integration session that ended at `ends` with no outcome recorded: one to confirm."""
    def add():
        a = Appointment(patient_id=patient, clinician_id=clinician, kind="integration", starts_at=ends - timedelta(minutes=50),
                        ends_at=ends, modality="telehealth", created_by_id=clinician)
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinician))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def _choose(make, user_id: int, at, last_day=None) -> None:
    def choose():
        user = db.session.get(User, user_id)
        user.digest_at, user.digest_last_day = at, last_day
    make.run(choose)


def _sweep(app, now: datetime) -> int:
    with linking_context(app):
        queued = digests.queue_due_digests(now)
        db.session.commit()
    return queued


def test_a_summary_is_queued_once_a_day_at_the_chosen_clinic_time(app, clinic, make):
    day = date(2026, 12, 1)
    _held_session(make, clinic["therapist"], clinic["patient"], _at(day, 7) - timedelta(days=2))
    _choose(make, clinic["therapist"], time(7, 30))
    assert _sweep(app, _at(day, 7, 25)) == 0                     # not yet
    assert _sweep(app, _at(day, 7, 30)) == 1                     # its time
    assert _sweep(app, _at(day, 7, 35)) == 0                     # once a day
    assert _sweep(app, _at(day, 18)) == 0
    assert _sweep(app, _at(day + timedelta(days=1), 7, 30)) == 1  # the next day's
    sent = _deliveries(make, "digest")
    assert [d.key for d in sent] == [f"digest:user:{clinic['therapist']}:2026-12-01",
                                     f"digest:user:{clinic['therapist']}:2026-12-02"]
    assert (sent[0].recipient, sent[0].user_id, sent[0].patient_id) == ("hazel@clinic.example", clinic["therapist"], None)
    subject, body = _text(sent[0])
    assert subject == "Your daily summary for Tue 01 Dec"
    assert f"- 1 session to confirm: {APP_URL}/#unconfirmed" in body
    assert f"{APP_URL}/account/notifications" in body
    assert clinical_words_in(subject + body) == [] and "Tamsin" not in body and clinic["mrn"] not in body


def test_a_summary_on_the_days_the_clocks_change(app, clinic, make):
    _held_session(make, clinic["therapist"], clinic["patient"], datetime(2026, 3, 1, 15, tzinfo=UTC))
    # spring forward: 02:30 never shows; the summary goes when the clocks show 03:30 (07:30 UTC)
    _choose(make, clinic["therapist"], time(2, 30), last_day=date(2026, 3, 7))
    assert _sweep(app, datetime(2026, 3, 8, 7, 25, tzinfo=UTC)) == 0
    assert _sweep(app, datetime(2026, 3, 8, 7, 30, tzinfo=UTC)) == 1
    # fall back: 01:30 shows twice; one summary, at the first
    _choose(make, clinic["therapist"], time(1, 30), last_day=date(2026, 10, 31))
    assert _sweep(app, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)) == 1   # 01:30 EDT
    assert _sweep(app, datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) == 0   # 01:30 EST, again
    assert [d.key.rsplit(":", 1)[1] for d in _deliveries(make, "digest")] == ["2026-03-08", "2026-11-01"]


def test_no_summary_when_off_with_nothing_to_report_or_with_no_address(app, clinic, make):
    day = date(2026, 12, 1)
    _held_session(make, clinic["quiet"], clinic["patient"], _at(day, 7) - timedelta(days=1))  # waits on ther2
    _choose(make, clinic["quiet"], time(7, 0))           # something waits, but no email address
    _choose(make, clinic["prescriber"], time(7, 0))      # an address, nothing waiting
    _held_session(make, clinic["therapist"], clinic["patient"], _at(day, 7) - timedelta(days=1))  # off: never asked
    assert _sweep(app, _at(day, 8)) == 0
    assert _deliveries(make, "digest") == []
    # the prescriber's day was looked at: nothing new later that day sends one
    assert make.query(lambda: db.session.get(User, clinic["prescriber"]).digest_last_day) == day


def test_staff_get_the_clinics_counts(app, clinic, make):
    day = date(2026, 12, 1)
    _held_session(make, clinic["therapist"], clinic["patient"], _at(day, 7) - timedelta(days=1))
    _held_session(make, clinic["quiet"], clinic["patient"], _at(day, 7) - timedelta(days=1))
    _choose(make, clinic["staff"], time(6, 0))
    assert _sweep(app, _at(day, 6)) == 1
    [summary] = _deliveries(make, "digest")
    assert f"- 2 sessions to confirm: {APP_URL}/worklist#unconfirmed" in _text(summary)[1]


# -- the pages -----------------------------------------------------------------------------

def test_the_own_settings_page_keeps_a_time_and_a_room_and_audits(clinic, make, auth, client):
    auth.sign_in("ther")
    page = client.get("/account/notifications")
    html, text = page.get_data(as_text=True), page_text(page)
    assert page.status_code == 200
    for label in ("Daily summary email", "Off", "Every day at the time below", "Time of the daily summary (clinic time)",
                  "Own video room (telehealth)"):
        assert label in text
    assert 'type="time"' in html and "hazel@clinic.example" in text
    assert auth.post("/account/notifications", {"digest": "on", "digest_at": "07:30",
                                                "video_room_url": "https://video.example.org/rooms/hazel"}).status_code == 302
    user = make.query(lambda: db.session.get(User, clinic["therapist"]))
    assert (user.digest_at.strftime("%H:%M"), user.video_room_url) == ("07:30", "https://video.example.org/rooms/hazel")
    [row] = make.audit_rows(action="account.notifications")
    assert (row.user_id, row.object_id, row.detail) == (clinic["therapist"], str(clinic["therapist"]),
                                                         "daily summary at 07:30; own video room set")
    assert "https://" not in row.detail
    # shown again as saved
    assert 'value="07:30"' in client.get("/account/notifications").get_data(as_text=True)
    assert auth.post("/account/notifications", {"digest": "off", "digest_at": "07:30", "video_room_url": ""}).status_code == 302
    user = make.query(lambda: db.session.get(User, clinic["therapist"]))
    assert (user.digest_at, user.video_room_url) == (None, None)


@pytest.mark.parametrize("data, field, says", [
    ({"digest": "on", "digest_at": "25:00"}, "digest_at", "24-hour clock time, e.g. 07:30"),        # no such hour
    ({"digest": "on", "digest_at": ""}, "digest_at", "24-hour clock time, e.g. 07:30"),             # on, but when?
    ({"digest": "sometimes", "digest_at": "07:30"}, "digest", "Not a valid choice"),               # forged choice
    ({"digest": "off", "video_room_url": "http://video.example.org/r"}, "video_room_url", "Use an https:// address"),
    ({"digest": "off", "video_room_url": "https://video.example.org/" + "r" * 200}, "video_room_url", "At most 200"),
    ({"digest": "off", "video_room_url": "https://video.example.org/{appointment}"}, "video_room_url", "placeholders"),
    ({"digest": "off", "video_room_url": "https://video.example.org/K\u0435tamineRoom"}, "video_room_url",
     "without “K\u0435tamineRoom”"),                                    # a Cyrillic е, run together
])
def test_bad_settings_are_refused_on_their_field_and_change_nothing(clinic, make, auth, data, field, says):
    auth.sign_in("ther")
    refused = auth.post("/account/notifications", {"video_room_url": "https://video.example.org/new", **data})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f'id="{field}-error"' in html and says in page_text(refused)
    user = make.query(lambda: db.session.get(User, clinic["therapist"]))
    assert (user.digest_at, user.video_room_url) == (None, None)
    [row] = make.audit_rows(action="account.notifications")
    assert row.outcome == "failure" and field in row.detail


def test_a_user_changes_only_their_own_settings(clinic, make, auth, client):
    auth.sign_in("desk")
    page = page_text(client.get("/account/notifications"))
    assert "Own video room" not in page                           # staff are not booked: no room
    # a user id smuggled into the form or the query string is not read: the page is the signed-in user's
    assert auth.post(f"/account/notifications?user_id={clinic['therapist']}",
                     {"digest": "on", "digest_at": "06:15", "user_id": str(clinic["therapist"]),
                      "video_room_url": "https://video.example.org/hijack"}).status_code == 302
    desk = make.query(lambda: db.session.get(User, clinic["staff"]))
    ther = make.query(lambda: db.session.get(User, clinic["therapist"]))
    assert desk.digest_at.strftime("%H:%M") == "06:15" and desk.video_room_url is None
    assert (ther.digest_at, ther.video_room_url) == (None, None)


def test_a_user_with_no_email_address_is_told(clinic, auth, client):
    auth.sign_in("ther2")
    assert "Your account has no email address" in page_text(client.get("/account/notifications"))


def test_the_oncall_address_is_the_admins_checked_and_audited(clinic, make, auth, client):
    auth.sign_in("boss")
    assert "On-call email address for urgent safety alerts" in page_text(client.get("/settings/notifications"))
    refused = auth.post("/settings/notifications", {"oncall_email": "not an address"})
    assert refused.status_code == 422 and "Give one email address" in page_text(refused)
    assert auth.post("/settings/notifications", {"oncall_email": ONCALL}).status_code == 302
    assert f'value="{ONCALL}"' in client.get("/settings/notifications").get_data(as_text=True)
    rows = make.audit_rows(action="settings.notifications")
    assert [(r.outcome, r.detail) for r in rows] == [("failure", "refused"), ("success", "on-call address set")]
    assert all(ONCALL not in (r.detail or "") for r in rows)
    auth.logout()
    auth.sign_in("ther")
    assert client.get("/settings/notifications").status_code == 403


@pytest.mark.both_engines  # SQL statement counts
def test_the_summaries_cost_a_constant_number_of_statements_per_user(app, clinic, make):
    """The clinic's counts once, then the same few statements for each due clinician (their own
    sessions to confirm, their drafts, the email queued), however much waits on each."""

    def statements_of(work) -> int:
        count = []
        listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            work()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(count)

    day = date(2026, 12, 1)
    therapists = [clinic["therapist"]] + [make.user("therapist", email=f"t{n}@clinic.example") for n in range(3)]
    for n, therapist in enumerate(therapists):
        patient = make.patient(therapists=[therapist])
        for _ in range(1 + 3 * n):  # more waits on each later one
            _held_session(make, therapist, patient, _at(day, 7) - timedelta(days=1))
    costs = []
    for count in (1, 2, 4):
        for therapist in therapists:
            _choose(make, therapist, time(7, 0) if therapist in therapists[:count] else None)
        with linking_context(app):
            costs.append(statements_of(lambda: digests.queue_due_digests(_at(day, 7))))
            db.session.rollback()
    per_user = costs[1] - costs[0]
    assert costs[2] - costs[1] == 2 * per_user and per_user <= 8, costs


def test_that_an_alert_was_emailed_is_shown_to_no_one_without_its_patient_s_clinical_record(clinic, make, auth,
                                                                                           client):
    """Staff and nurses read no clinical content: the patient page lists the messages to the
    patient only, and the Messages page shows a safety alert's emails without the patient."""
    _set_oncall(auth)
    _raise_alert(make, clinic)
    assert _deliveries(make, "safety_alert")  # emailed to the on-call address and the clinicians
    for username in ("desk", "nurse", "boss", "ther2"):
        auth.sign_in(username)
        text = page_text(client.get(f"/patients/{clinic['patient']}"))
        assert "Safety alert" not in text and "safety_alert" not in text, username
        auth.logout()
    for username in ("desk", "boss"):
        auth.sign_in(username)
        text = page_text(client.get("/messages"))
        assert "Safety alert to staff" in text and clinic["mrn"] not in text, username
        auth.logout()
