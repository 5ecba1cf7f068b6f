"""Issue 23, points 1-2: the portal's sign-in (password, then an authenticator or emailed code),
its own sessions (idle 10 minutes, an absolute limit), kept apart from staff sign-in both ways; the
home page shows the patient's own sessions and phase and nothing else; a patient's audit rows
name the patient's account as actor and the chain verifies with them."""
from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_string, policy

import pyotp
import pytest
from flask import request
from sqlalchemy import select, update

from ketamine_integration.audit.chain import chain_key, verify
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.portal.models import PortalAccount, PortalKeptText, PortalSession
from ketamine_integration.portal.recovery import RECOVERABLE, keep_text_of, offered_back
from ketamine_integration.web import access
from tests.conftest import PASSWORD, Auth, page_text, todays_world


@pytest.fixture
def world(make):
    """A therapist's two patients, each with a course and an enrolled portal account, a prescriber and staff.
    Built once per day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "portal_sign_in", lambda: _build_world(make))


def _build_world(make) -> dict:
    therapist = make.user("therapist", username="ther-home", full_name="Hazel Quint", licence_type="LCSW")
    prescriber = make.user("prescriber", username="pres-home")
    make.user("staff", username="desk-home")
    patient = make.patient(therapists=[therapist], email="robin@example.org", given_name="Robin")
    other = make.patient(therapists=[therapist], email="sol@example.org", given_name="Solveig")
    course = make.course(patient, therapist, prescriber, phase="preparation")
    other_course = make.course(other, therapist, prescriber)
    return {"therapist": therapist, "patient": patient, "other": other, "course": course,
            "other_course": other_course, "account": make.portal_account(patient),
            "other_account": make.portal_account(other)}


def _book(make, auth, course: int, days: float, *, modality: str = "in_person") -> int:
    """An integration session booked through the staff form; its appointment id."""
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.scheduling.services import book_session

    room = make.room("Willow Room") if modality == "in_person" else None

    def book():
        course_row = db.session.get(TreatmentCourse, course)
        starts = (utcnow() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        appointment = book_session(course_row, kind="preparation", clinician_id=course_row.therapist_id,
                                   starts_at=starts, minutes=None, by=course_row.therapist, modality=modality,
                                   now=utcnow(), room_id=room)
        return appointment.id
    return make.run(book)


def _sign_in_form(app, email="robin@example.org", password=PASSWORD):
    client = app.test_client()
    patient = Auth(app, client)
    return client, patient, patient.post("/portal/sign-in", {"email": email, "password": password})


def test_signing_in_takes_the_password_then_an_authenticator_code(make, app, world):
    client, patient, first = _sign_in_form(app, "Robin@Example.org")
    assert first.status_code == 302 and first.headers["Location"] == "/portal/code"
    assert client.get("/portal/").headers["Location"] == "/portal/code"  # half-way is not signed in
    wrong = patient.post("/portal/code", {"code": "000000"})
    assert wrong.status_code == 302 and "tries left" in page_text(client.get("/portal/code"))
    done = patient.post("/portal/code", {"code": make.portal_code(world["account"])})
    assert done.status_code == 302 and done.headers["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    [row] = make.audit_rows(action="portal.sign_in")
    assert row.portal_account_id == world["account"] and row.user_id is None and row.patient_id == world["patient"]
    failure = make.audit_rows(action="portal.code_failure")[0]
    assert failure.portal_account_id == world["account"] and failure.outcome == "failure"


def test_a_wrong_password_says_nothing_about_which_field_and_the_limits_apply(make, app, world):
    _, _, response = _sign_in_form(app, password="not the password at all")
    assert response.status_code == 422 and "not right" in page_text(response)
    for _ in range(5):
        _, _, response = _sign_in_form(app, password="still not the password")
    assert response.status_code == 429 and "Retry-After" in response.headers
    # the right password is refused too while the account is paused (checked before the password)
    _, _, response = _sign_in_form(app)
    assert response.status_code == 429


def test_five_wrong_codes_end_the_sign_in(make, app, world):
    client, patient, _ = _sign_in_form(app)
    for _ in range(5):
        response = patient.post("/portal/code", {"code": "123456"})
    assert response.headers["Location"] == "/portal/sign-in"
    assert client.get("/portal/code").headers["Location"].startswith("/portal/sign-in")
    assert make.query(lambda: db.session.scalar(select(PortalSession.end_reason))) == "code_failures"


def test_emailed_codes_work_once_and_expire(make, app, world):
    account = make.portal_account(make.patient(email="kit@example.org"), factor="email")
    client, patient, _ = _sign_in_form(app, "kit@example.org")
    assert "We emailed a 6-digit code" in page_text(client.get("/portal/code"))
    body = make.query(lambda: db.session.scalar(select(Delivery.content).where(Delivery.purpose == "portal_code")))
    code = re.search(r"code is (\d{6})", message_from_string(body, policy=policy.default).get_body().get_content())
    make.run(lambda: db.session.execute(update(PortalSession).values(email_code_expires_at=utcnow())))
    expired = patient.post("/portal/code", {"code": code.group(1)})
    assert expired.status_code == 302 and "expired" in page_text(client.get("/portal/code"))
    make.run(lambda: db.session.execute(update(PortalSession).values(
        email_code_expires_at=utcnow() - timedelta(minutes=1))))  # the wait before a new code has passed
    patient.post("/portal/code/new", {})
    bodies = make.query(lambda: db.session.scalars(select(Delivery.content).where(
        Delivery.purpose == "portal_code").order_by(Delivery.id)).all())
    code = re.search(r"code is (\d{6})", message_from_string(bodies[-1], policy=policy.default)
                     .get_body().get_content()).group(1)
    assert patient.post("/portal/code", {"code": code}).headers["Location"] == "/portal/"
    assert make.query(lambda: db.session.get(PortalAccount, account).second_factor) == "email"


def test_accepting_then_enrolling_an_authenticator_signs_the_patient_in(make, auth, app, world):
    patient_id = make.patient(email="june@example.org", given_name="June")
    make.user("staff", username="desk-enrol")
    auth.sign_in("desk-enrol")
    auth.post(f"/patients/{patient_id}/portal/invite", {})
    body = make.query(lambda: db.session.scalar(select(Delivery.content).where(
        Delivery.purpose == "portal_invitation", Delivery.patient_id == patient_id)))
    token = re.search(r"/portal/accept/(\S+)", message_from_string(body, policy=policy.default)
                      .get_body().get_content()).group(1)
    client = app.test_client()
    patient = Auth(app, client)
    password = "harbour kettle lilac window 83"
    patient.post(f"/portal/accept/{token}", {"password": password, "confirm": password, "factor": "totp"})
    page = client.get("/portal/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert client.get("/portal/").headers["Location"] == "/portal/enrol"  # nothing before enrolling
    done = patient.post("/portal/enrol", {"code": pyotp.TOTP(secret).now()})
    assert done.headers["Location"] == "/portal/"
    home = page_text(client.get("/portal/"))
    assert "Hello, June" in home
    # the way chosen, named (the new-user review: "you will confirm each sign-in this way" said no way)
    assert "All set: from now on you confirm each sign-in with a code from your authenticator app." in home
    assert [r.detail for r in make.audit_rows(action="portal.enrol")] == ["totp"]


def test_portal_and_staff_sessions_satisfy_only_their_own_pages(make, auth, app, client, world):
    patient_client = app.test_client()
    patient = Auth(app, patient_client)
    patient.portal_sign_in(world["account"])
    staff_page = patient_client.get(f"/patients/{world['patient']}")
    assert staff_page.status_code == 302 and staff_page.headers["Location"].startswith("/login")
    assert patient.post(f"/patients/{world['patient']}/portal/invite", {}).headers["Location"].startswith("/login")
    assert patient_client.get("/portal/").status_code == 200  # the refused staff page did not end it
    auth.sign_in("desk-home")
    for url in ("/portal/", "/portal/account", f"/portal/sessions/{_book(make, auth, world['course'], 2)}.ics"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/portal/sign-in"), url
    assert auth.post("/portal/account/password", {"current": PASSWORD, "password": "x" * 20,
                                                  "confirm": "x" * 20}).status_code == 302


def test_the_home_page_shows_own_sessions_and_phase_and_nothing_of_another_patient(make, auth, app, world):
    own = _book(make, auth, world["course"], 2)
    online = _book(make, auth, world["course"], 4, modality="telehealth")
    theirs = _book(make, auth, world["other_course"], 3)
    client = app.test_client()
    Auth(app, client).portal_sign_in(world["account"])
    page = page_text(client.get("/portal/"))
    assert "Hello, Robin" in page and "Preparation session" in page and "Willow Room" in page and "Hazel Quint, LCSW" in page
    assert "Preparation." in page and "dosing sessions" in page and "Solveig" not in page
    assert page.count("Add to my calendar") == 2 and "Online" in page
    calendar = client.get(f"/portal/sessions/{own}.ics")
    assert calendar.status_code == 200 and calendar.mimetype == "text/calendar"
    assert f"appointment-{own}@" in calendar.get_data(as_text=True)
    assert calendar.get_data(as_text=True).count("BEGIN:VEVENT") == 1
    assert client.get(f"/portal/sessions/{theirs}.ics").status_code == 404  # another patient's: as if none
    assert client.get(f"/portal/sessions/{online}.ics").status_code == 200
    rows = make.audit_rows(action="portal.home")
    assert [(r.patient_id, r.portal_account_id, r.user_id) for r in rows] == [(world["patient"], world["account"],
                                                                               None)]


def _age(make, **deltas):
    def shift():
        for row in db.session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))):
            for column, delta in deltas.items():
                setattr(row, column, getattr(row, column) - delta)
    make.run(shift)


@pytest.mark.parametrize("column, delta, message", [
    ("last_seen_at", timedelta(minutes=10), "inactivity"),          # idle: KI_PORTAL_IDLE_MINUTES (10)
    ("created_at", timedelta(hours=4), "time limit"),               # absolute: KI_PORTAL_MAX_HOURS (4)
])
def test_portal_sessions_end_when_idle_or_too_old(make, app, world, column, delta, message):
    client = app.test_client()
    Auth(app, client).portal_sign_in(world["account"])
    assert client.get("/portal/").status_code == 200
    _age(make, **{column: delta})
    response = client.get("/portal/")
    assert response.headers["Location"].startswith("/portal/sign-in")
    assert message in page_text(client.get(response.headers["Location"]))
    [row] = make.audit_rows(action="portal.session_expired")
    assert row.portal_account_id == world["account"]


@pytest.mark.fresh_app  # registers a route
def test_text_typed_when_the_session_timed_out_is_kept_and_offered_back(make, app, world):
    from flask import Blueprint
    from ketamine_integration.portal.sessions import current_portal_account

    bp = Blueprint("portal_probe", __name__)

    @bp.route("/portal/probe", methods=["GET", "POST"])
    @access.portal_page
    def probe():
        back = offered_back(current_portal_account().id)
        return (back or {}).get("entry", "nothing kept") if request.method == "GET" else "saved"
    app.register_blueprint(bp)
    keep_text_of("portal_probe.probe")
    try:
        client = app.test_client()
        patient = Auth(app, client)
        patient.portal_sign_in(world["account"])
        _age(make, last_seen_at=timedelta(minutes=11))
        response = patient.post("/portal/probe", {"entry": "The light on the water this morning"})
        assert response.headers["Location"].startswith("/portal/sign-in")
        kept = make.query(lambda: db.session.scalar(select(PortalKeptText)))
        assert kept.account_id == world["account"] and kept.form == {"entry": ["The light on the water this morning"]}
        patient.portal_sign_in(world["account"])
        assert client.get("/portal/probe").get_data(as_text=True) == "The light on the water this morning"
    finally:
        RECOVERABLE.discard("portal_probe.probe")


def test_patient_audit_rows_are_chained_and_verified(make, app, world):
    client = app.test_client()
    Auth(app, client).portal_sign_in(world["account"])
    client.get("/portal/")
    client.get("/portal/account")
    with app.app_context():
        result = verify(db.session, chain_key())
        assert result.broken is None and result.intact >= 3
    assert {r.action for r in make.audit_rows(portal_account_id=world["account"])} >= {
        "portal.sign_in", "portal.home", "portal.account_view"}
    # the audit log page names the actor as the patient, through the portal
    make.user("admin", username="root-home")
    admin = app.test_client()
    Auth(app, admin).sign_in("root-home")
    assert "patient (portal)" in page_text(admin.get("/audit/?action=portal.home"))


def test_changing_the_password_ends_other_sessions(make, app, world):
    first, second = app.test_client(), app.test_client()
    Auth(app, first).portal_sign_in(world["account"])
    patient = Auth(app, second)
    patient.portal_sign_in(world["account"])
    new = "copper willow ladder orbit 19"
    wrong = patient.post("/portal/account/password", {"password-current": "nope", "password-password": new,
                                                      "password-confirm": new})
    assert wrong.status_code == 422 and "not your current password" in page_text(wrong)
    done = patient.post("/portal/account/password", {"password-current": PASSWORD, "password-password": new,
                                                     "password-confirm": new})
    assert done.status_code == 302 and second.get("/portal/").status_code == 200
    assert first.get("/portal/").headers["Location"].startswith("/portal/sign-in")


def test_switching_the_second_factor_takes_the_password_then_a_code_of_the_new_one(make, app, world):
    client = app.test_client()
    patient = Auth(app, client)
    patient.portal_sign_in(world["account"])
    wrong = patient.post("/portal/account/second-factor", {"factor-factor": "email", "factor-current": "guess"})
    assert wrong.status_code == 422 and "not your current password" in page_text(wrong)
    asked = patient.post("/portal/account/second-factor", {"factor-factor": "email", "factor-current": PASSWORD})
    assert asked.headers["Location"] == "/portal/account/second-factor/confirm"
    assert "We emailed a 6-digit code to robin@example.org" in page_text(client.get(asked.headers["Location"]))
    # until the new way is confirmed the old one holds
    assert make.query(lambda: db.session.get(PortalAccount, world["account"]).second_factor) == "totp"
    body = make.query(lambda: db.session.scalar(select(Delivery.content).where(Delivery.purpose == "portal_code")))
    code = re.search(r"code is (\d{6})", message_from_string(body, policy=policy.default).get_body().get_content())
    done = patient.post("/portal/account/second-factor/confirm", {"code": code.group(1)})
    assert done.headers["Location"] == "/portal/account"
    account = make.query(lambda: db.session.get(PortalAccount, world["account"]))
    assert account.second_factor == "email" and account.totp_secret_sealed is None
    assert "a code sent to your email" in page_text(client.get("/portal/account"))
    assert [r.detail for r in make.audit_rows(action="portal.enrol")] == ["now email"]


def test_an_account_the_clinic_set_up_chooses_its_factor_at_first_sign_in(make, app, world):
    make.portal_account(make.patient(email="ash@example.org"), factor=None)
    client, patient, first = _sign_in_form(app, "ash@example.org")
    assert first.headers["Location"] == "/portal/enrol"
    assert "Choose your second step" in page_text(client.get("/portal/enrol"))
    assert patient.post("/portal/enrol/choose", {"factor": "sms"}).status_code == 422
    assert patient.post("/portal/enrol/choose", {"factor": "totp"}).headers["Location"] == "/portal/enrol"
    assert "Set up your authenticator app" in page_text(client.get("/portal/enrol"))
