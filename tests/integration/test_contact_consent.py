"""Issue 22, point 3: a patient's consent to reminders per channel, recorded as history rows on the
patient's contact consent page (staff, and therapists of the care team), the latest row holding;
one action opts out of every channel; the clinic's reminder settings page (the admin's)."""
from __future__ import annotations


import pytest
from sqlalchemy import select, text

from ketamine_integration.extensions import db
from ketamine_integration.reminders.models import ContactConsent, ReminderRule
from ketamine_integration.reminders.rules import reminder_settings
from tests.conftest import page_text, todays_world


@pytest.fixture
def world(make):
    """Two therapists, a prescriber, staff, admin and a nurse; a patient with an email and a phone, one with
    an email only. Built once per day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "contact_consent", lambda: _build_world(make))


def _build_world(make) -> dict:
    ther = make.user("therapist", username="ther")
    make.user("therapist", username="other-ther")
    presc = make.user("prescriber", username="presc")
    make.user("staff", username="desk")
    make.user("admin", username="boss")
    make.user("nurse", username="nurse")
    patient = make.patient(therapists=[ther], prescribers=[presc], email="ada@example.org", phone="555-0111")
    no_phone = make.patient(therapists=[ther], email="bo@example.org")
    return {"patient": patient, "no_phone": no_phone}


def _rows(make, patient_id):
    return make.query(lambda: [(r.channel, r.granted, r.method, r.recorded_by.username)
                               for r in db.session.scalars(select(ContactConsent)
                                                           .where(ContactConsent.patient_id == patient_id)
                                                           .order_by(ContactConsent.id))])


def _record(auth, patient_id, channel="email", decision="grant", method="in_person"):
    return auth.post(f"/patients/{patient_id}/contact-consent",
                     {"channel": channel, "decision": decision, "method": method})


def test_staff_grant_then_withdraw_keeps_both_rows_and_the_latest_holds(world, make, auth, client):
    auth.sign_in("desk")
    patient = world["patient"]
    assert _record(auth, patient, "email", "grant", "written_form").status_code == 302
    assert _record(auth, patient, "sms", "grant", "phone").status_code == 302
    assert _record(auth, patient, "email", "withdraw", "phone").status_code == 302
    assert _rows(make, patient) == [("email", True, "written_form", "desk"), ("sms", True, "phone", "desk"),
                                    ("email", False, "phone", "desk")]
    page = page_text(client.get(f"/patients/{patient}"))
    assert "Email No consent" in page and "Text message (SMS) Consents" in page
    assert "by phone" in page
    rows = make.audit_rows(action="contact_consent.record")
    assert [(r.patient_id, r.outcome, r.detail) for r in rows] == [
        (patient, "success", "email granted (written_form)"), (patient, "success", "sms granted (phone)"),
        (patient, "success", "email withdrawn (phone)")]


def test_the_consent_page_shows_the_history_and_its_reading_is_audited(world, make, auth, client):
    auth.sign_in("ther")
    patient = world["patient"]
    assert _record(auth, patient, "sms", "grant", "in_person").status_code == 302
    page = page_text(client.get(f"/patients/{patient}/contact-consent"))
    assert "History" in page and "Text message (SMS) Consents In person" in page
    assert [r.patient_id for r in make.audit_rows(action="contact_consent.view")] == [patient]


def test_opt_out_withdraws_every_channel_in_one_action(world, make, auth):
    auth.sign_in("desk")
    patient = world["patient"]
    _record(auth, patient, "email", "grant")
    _record(auth, patient, "sms", "grant")
    response = auth.post(f"/patients/{patient}/contact-consent/opt-out", {"opt_out-method": "phone"})
    assert response.status_code == 302
    assert _rows(make, patient)[2:] == [("email", False, "phone", "desk"), ("sms", False, "phone", "desk")]
    [row] = make.audit_rows(action="contact_consent.opt_out")
    assert (row.patient_id, row.outcome, row.detail) == (patient, "success", "withdrawn: email, sms (phone)")
    # a second opt-out has nothing left to withdraw: refused, nothing written, the refusal audited
    again = auth.post(f"/patients/{patient}/contact-consent/opt-out", {"opt_out-method": "phone"})
    assert again.status_code == 422 and "already opted out" in page_text(again)
    assert len(_rows(make, patient)) == 4
    assert [r.outcome for r in make.audit_rows(action="contact_consent.opt_out")] == ["success", "failure"]


def test_opt_out_records_channels_never_asked_about(world, make, auth):
    auth.sign_in("ther")
    patient = world["patient"]
    assert auth.post(f"/patients/{patient}/contact-consent/opt-out",
                     {"opt_out-method": "written_form"}).status_code == 302
    assert _rows(make, patient) == [("email", False, "written_form", "ther"), ("sms", False, "written_form", "ther")]


@pytest.mark.parametrize("data, field_error", [
    # a grant needs the address it will be used at
    ({"channel": "sms", "decision": "grant", "method": "phone"}, "no phone number on record"),
    # nothing chosen: each field says so
    ({"channel": "", "decision": "", "method": ""}, "Choose email or text message."),
    # the portal records the patient's own answer; staff cannot claim it
    ({"channel": "email", "decision": "grant", "method": "patient_portal"}, "Not a valid choice"),
    # a forged channel
    ({"channel": "fax", "decision": "grant", "method": "phone"}, "Not a valid choice"),
])
def test_a_refused_answer_changes_nothing_and_says_why(world, make, auth, data, field_error):
    auth.sign_in("desk")
    patient = world["no_phone"]
    response = auth.post(f"/patients/{patient}/contact-consent", data)
    assert response.status_code == 422
    assert field_error in page_text(response)
    assert _rows(make, patient) == []
    [row] = make.audit_rows(action="contact_consent.record")
    assert (row.patient_id, row.outcome) == (patient, "failure")


def test_a_withdrawal_needs_no_address(world, make, auth):
    auth.sign_in("desk")
    assert _record(auth, world["no_phone"], "sms", "withdraw", "phone").status_code == 302
    assert _rows(make, world["no_phone"]) == [("sms", False, "phone", "desk")]


@pytest.mark.parametrize("username, status", [
    ("other-ther", 403),   # a therapist not on the care team
    ("presc", 403),        # on the care team, but prescribers do not record consent
    ("nurse", 403),        # no permission
    ("boss", 403),         # the admin keeps settings, not patients' answers
])
def test_others_may_not_record_or_read_consent(world, make, auth, client, username, status):
    auth.sign_in(username)
    patient = world["patient"]
    assert client.get(f"/patients/{patient}/contact-consent").status_code == status
    assert _record(auth, patient).status_code == status
    assert auth.post(f"/patients/{patient}/contact-consent/opt-out", {"opt_out-method": "phone"}).status_code == status
    assert _rows(make, patient) == []


def test_the_patient_page_offers_the_consent_page_only_to_who_may_record(world, auth, client):
    patient = world["patient"]
    auth.sign_in("presc")
    page = page_text(client.get(f"/patients/{patient}"))
    assert "Reminders" in page and "Email Not asked" in page and "Record consent or opt-out" not in page
    auth.sign_in("desk")
    assert "Record consent or opt-out" in page_text(client.get(f"/patients/{patient}"))


@pytest.mark.both_engines
def test_consent_rows_are_append_only_in_the_database(world, make, auth, app):
    auth.sign_in("desk")
    _record(auth, world["patient"])
    for statement in ("UPDATE contact_consents SET granted = false", "DELETE FROM contact_consents"):
        with app.app_context():
            with pytest.raises(Exception, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
    assert _rows(make, world["patient"]) == [("email", True, "in_person", "desk")]


# -- the clinic's reminder settings ------------------------------------------------------------

def _settings(**changes) -> dict:
    data = {"sender": "Oak Street Clinic", "quiet_hours": "21:00-08:00", "clinic_address": "12 Oak Street",
            "clinic_phone": "555-0100"}
    for kind in ("preparation", "dosing", "integration", "follow_up"):
        data.update({f"{kind}-offsets": "48h, 2h", f"{kind}-channels": ["email", "sms"], f"{kind}-wording": ""})
    data.update(changes)
    return data


def test_the_admin_sets_reminders_per_kind(world, make, auth, client):
    auth.sign_in("boss")
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert 'value="Harbor Light Clinic"' in page   # the discreet default: the clinic's name without "Ketamine"
    response = auth.post("/settings/reminders", _settings(**{
        "dosing-offsets": "2h, 24h", "dosing-channels": ["sms"], "dosing-wording": "your morning visit",
        "follow_up-offsets": "", "follow_up-channels": []}))
    assert response.status_code == 302
    settings = make.query(lambda: reminder_settings())
    assert settings.sender == "Oak Street Clinic" and settings.quiet_hours_text == "21:00-08:00"
    assert make.query(lambda: db.session.get(ReminderRule, "dosing").offsets) == "24h, 2h"
    dosing = settings.rules["dosing"]
    assert (dosing.channels, dosing.wording, [o.total_seconds() / 3600 for o in dosing.offsets]) == (
        ("sms",), "your morning visit", [24, 2])
    assert settings.rules["follow_up"].offsets == [] and settings.rules["follow_up"].channels == ()
    [row] = make.audit_rows(action="settings.reminders")
    assert row.outcome == "success"


@pytest.mark.parametrize("changes, field, message", [
    ({"sender": "Oak Street Ketamine"}, "sender", "remove “Ketamine”"),
    ({"sender": " "}, "sender", "Give the name reminders are sent by."),
    ({"integration-wording": "your integration session"}, "integration-wording", "remove “integration”"),
    ({"dosing-wording": "Spravato visit"}, "dosing-wording", "remove “Spravato”"),
    ({"clinic_address": "Ketamine Centre, 12 Oak Street"}, "clinic_address", "remove “Ketamine”"),
    ({"clinic_address": "12 KetamineClinic Road"}, "clinic_address", "remove “KetamineClinic”"),    # run together
    ({"sender": "K E T A M I N E Care"}, "sender", "remove “K E T A M I N E”"),                    # spelled apart
    ({"quiet_hours": "9pm-8am"}, "quiet_hours", "two 24-hour times"),
    ({"quiet_hours": "18:00-08:00"}, "quiet_hours", "at most 12 hours"),
    ({"clinic_phone": "call us!"}, "clinic_phone", "Write a phone number"),
    ({"dosing-offsets": "10m"}, "dosing-offsets", "between 30 minutes and 7 days"),
    ({"dosing-offsets": "1h, 2h, 3h, 4h, 5h"}, "dosing-offsets", "At most 4"),
    ({"preparation-channels": []}, "preparation-channels", "Choose how these reminders go"),
    ({"preparation-offsets": ""}, "preparation-offsets", "Give when reminders go"),
    ({"dosing-channels": ["fax"]}, "dosing-channels", "not a valid choice"),
])
def test_refused_settings_change_nothing_and_name_the_field(world, make, auth, changes, field, message):
    auth.sign_in("boss")
    response = auth.post("/settings/reminders", _settings(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html or f'id="{field}-0-error"' in html
    assert message in page_text(response)
    assert make.query(lambda: db.session.scalars(select(ReminderRule)).all()) == []
    assert make.query(lambda: reminder_settings().sender) == "Harbor Light Clinic"
    [row] = make.audit_rows(action="settings.reminders")
    assert row.outcome == "failure"


@pytest.mark.parametrize("username", ["desk", "ther", "presc"])
def test_only_the_admin_keeps_reminder_settings(world, auth, client, username):
    auth.sign_in(username)
    assert client.get("/settings/reminders").status_code == 403
    assert auth.post("/settings/reminders", _settings()).status_code == 403


def _demo_reminders():
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.reminders.consent import current_consents
    states = {p.mrn: {c.channel: (c.granted, c.latest is not None) for c in current_consents(p)}
              for p in db.session.scalars(select(Patient))}
    return states, reminder_settings()


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_clinic_has_consents_an_opt_out_and_discreet_settings(app, make):
    states, settings = make.query(_demo_reminders)
    assert states["DEMO-0001"] == {"email": (True, True), "sms": (True, True)}      # email and SMS
    assert states["DEMO-0006"] == {"email": (False, False), "sms": (False, False)}  # never asked
    assert states["DEMO-0008"] == {"email": (False, True), "sms": (False, True)}    # opted out of everything
    assert settings.sender == "Harbor Light" and settings.rules["dosing"].wording == "your extended appointment"
