"""Staff manage an accepted portal account from the patient page (issue 23, new-user review point 3):
turning it off ends its open sessions at once and refuses sign-in with a message of its own, the card
saying who turned it off, when and why; turning it on again lets the old password in. A reset sends a
single-use link (72 hours): the old password and second step work until the link is used, then stop,
and the account's sessions end. Each step is audited; bad input changes nothing; the patient's
therapist may, another care team's may not. On both engines."""
from __future__ import annotations

import re
from email import message_from_string, policy

import pytest
from sqlalchemy import select

from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.portal.models import PortalAccount, PortalInvitation, PortalSession
from tests.conftest import PASSWORD, Auth, page_text


NEW_PASSWORD = "harbour copper thistle ember 58"
ADDRESS = "wren.example@example.org"


@pytest.fixture
def clinic(make):
    therapist = make.user("therapist", username="ther-manage", full_name="Tess Fictional")
    other = make.user("therapist", username="ther-elsewhere")
    make.user("nurse", username="nurse-manage")
    make.user("staff", username="desk-manage")
    patient = make.patient(therapists=[therapist], email=ADDRESS)
    return {"therapist": therapist, "other": other, "patient": patient, "account": make.portal_account(patient)}


@pytest.fixture
def patient(app, clinic) -> Auth:
    """The patient's own browser, signed in to the portal."""
    browser = Auth(app, app.test_client())
    browser.portal_sign_in(clinic["account"])
    return browser


def _account(make, clinic) -> PortalAccount:
    return make.query(lambda: db.session.get(PortalAccount, clinic["account"]))


def _sessions(make, clinic) -> list[PortalSession]:
    return make.query(lambda: db.session.scalars(select(PortalSession).where(
        PortalSession.account_id == clinic["account"]).order_by(PortalSession.id)).all())


def _url(clinic, action: str) -> str:
    return f"/patients/{clinic['patient']}/portal/{action}"


def _card(auth, clinic) -> str:
    return page_text(auth.client.get(f"/patients/{clinic['patient']}"))


def _sign_in(app, password=PASSWORD):
    browser = Auth(app, app.test_client())
    return browser.post("/portal/sign-in", {"email": ADDRESS, "password": password})


def _reset_links(make, clinic) -> list[str]:
    def read():
        rows = db.session.scalars(select(Delivery).where(Delivery.patient_id == clinic["patient"],
                                                         Delivery.purpose == "portal_reset").order_by(Delivery.id))
        return [re.search(r"/portal/accept/(\S+)",
                          message_from_string(r.content, policy=policy.default).get_body().get_content()).group(1)
                for r in rows if r.content]
    return make.query(read)


# -- turning the account off and on ------------------------------------------------------------------

def test_turning_off_asks_first_then_ends_sessions_refuses_sign_in_and_the_card_says_who(app, make, auth, clinic,
                                                                                          patient):
    auth.sign_in("ther-manage")
    page = auth.client.get(_url(clinic, "turn-off"))
    assert page.status_code == 200 and "Turn off the portal account?" in page_text(page)
    assert _account(make, clinic).active  # the page itself changes nothing
    assert [r.patient_id for r in make.audit_rows(action="portal.turn_off_view")] == [clinic["patient"]]
    # bad input: a field error, nothing changed, the refusal audited
    refused = auth.post(_url(clinic, "turn-off"), {"why": "   "})
    assert refused.status_code == 422 and "Why is the account turned off?" in page_text(refused)
    assert _account(make, clinic).active and all(s.ended_at is None for s in _sessions(make, clinic))
    assert [r.outcome for r in make.audit_rows(action="portal.turn_off")] == ["failure"]
    assert auth.post(_url(clinic, "turn-off"), {"why": "x" * 201}).status_code == 422

    done = auth.post(_url(clinic, "turn-off"), {"why": "The patient asked; phone lost"})
    assert done.status_code == 302 and done.headers["Location"].endswith("#portal-heading")
    account = _account(make, clinic)
    assert not account.active and account.turned_off_by_id == clinic["therapist"]
    assert account.turned_off_why == "The patient asked; phone lost"
    assert [s.end_reason for s in _sessions(make, clinic)] == ["turned_off"]
    [row] = make.audit_rows(action="portal.turn_off", outcome="success")
    assert row.patient_id == clinic["patient"] and row.user_id == clinic["therapist"]
    card = _card(auth, clinic)
    assert "Account turned off" in card and "by Tess Fictional" in card and "The patient asked; phone lost" in card
    assert "Turn the account on again" in card and "Send a new invitation" not in card

    # the patient's open page: the next click is the sign-in page, saying why
    gone = patient.client.get("/portal/", follow_redirects=True)
    assert "The clinic turned this account off. Please call the clinic." in page_text(gone)
    # the right password: refused with a message of its own (and no session); a wrong one says nothing more
    answer = _sign_in(app)
    assert answer.status_code == 403 and "This portal account is turned off. Please call the clinic." in page_text(
        answer)
    assert "turned off" not in page_text(_sign_in(app, password="not the password at all"))
    assert len(_sessions(make, clinic)) == 1
    assert [r.detail for r in make.audit_rows(action="portal.sign_in_failure", outcome="denied")] == [
        "account turned off"]
    # an invitation cannot bring it back: turning on is the way
    assert auth.post(_url(clinic, "invite"), {}).status_code == 302
    assert make.query(lambda: db.session.scalar(select(PortalInvitation.id))) is None


def test_turning_on_again_lets_the_old_password_in(app, make, auth, clinic):
    auth.sign_in("ther-manage")
    auth.post(_url(clinic, "turn-off"), {"why": "Holiday abroad"})
    assert auth.post(_url(clinic, "turn-on"), {}).status_code == 302
    account = _account(make, clinic)
    assert account.active and account.turned_off_at is None and account.turned_off_why is None
    assert account.second_factor == "totp"  # as it was
    assert _sign_in(app).headers["Location"] == "/portal/code"
    assert "Account active" in _card(auth, clinic)
    assert [r.outcome for r in make.audit_rows(action="portal.turn_on")] == ["success"]
    # turning on an account that is on: refused, said, audited, nothing changed
    auth.post(_url(clinic, "turn-on"), {})
    assert [r.outcome for r in make.audit_rows(action="portal.turn_on")] == ["success", "failure"]


# -- resetting access ----------------------------------------------------------------------------------

def test_a_reset_link_replaces_password_and_second_step_only_when_used(app, make, auth, clinic, patient):
    auth.sign_in("desk-manage")
    assert auth.post(_url(clinic, "reset"), {}).status_code == 302
    [token] = _reset_links(make, clinic)
    [link] = make.query(lambda: db.session.scalars(select(PortalInvitation)).all())
    assert link.purpose == "reset" and (link.expires_at - link.created_at).total_seconds() == 72 * 3600
    assert "Reset link sent" in _card(auth, clinic)
    # until used: the old password signs in, the open session goes on
    assert _sign_in(app).headers["Location"] == "/portal/code"
    assert patient.client.get("/portal/").status_code == 200

    browser = Auth(app, app.test_client())
    page = browser.client.get(f"/portal/accept/{token}")
    assert page.status_code == 200 and "Reset your sign-in" in page_text(page)
    used = browser.post(f"/portal/accept/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                    "factor": "email"})
    assert used.headers["Location"] == "/portal/enrol"
    account = _account(make, clinic)
    assert account.second_factor is None and account.totp_secret_sealed is None  # enrolled again
    assert all(s.ended_at is not None for s in _sessions(make, clinic)[:-1])
    assert {s.end_reason for s in _sessions(make, clinic)[:-1]} >= {"access_reset"}
    gone = patient.client.get("/portal/", follow_redirects=True)
    assert "Your sign-in was reset" in page_text(gone)
    # the old password no longer works; the new one does; the link works once
    assert _sign_in(app).status_code == 422
    assert _sign_in(app, NEW_PASSWORD).headers["Location"] == "/portal/enrol"
    assert browser.client.get(f"/portal/accept/{token}").status_code == 410
    assert [r.patient_id for r in make.audit_rows(action="portal.reset")] == [clinic["patient"]]
    [use] = make.audit_rows(action="portal.reset_use")
    assert use.patient_id == clinic["patient"] and use.portal_account_id == clinic["account"]
    assert make.audit_rows(action="portal.accept") == []
    assert "Access reset" in _card(auth, clinic)


def test_a_new_reset_link_replaces_the_waiting_one_and_cancelling_changes_nothing_else(app, make, auth, clinic):
    auth.sign_in("ther-manage")
    auth.post(_url(clinic, "reset"), {})
    auth.post(_url(clinic, "reset"), {})
    first, second = _reset_links(make, clinic)
    browser = Auth(app, app.test_client())
    assert browser.client.get(f"/portal/accept/{first}").status_code == 410
    assert auth.post(_url(clinic, "reset/cancel"), {}).status_code == 302
    assert browser.client.get(f"/portal/accept/{second}").status_code == 410
    assert _sign_in(app).headers["Location"] == "/portal/code"  # the password as it was
    assert [r.outcome for r in make.audit_rows(action="portal.reset_cancel")] == ["success"]
    # nothing waiting: a second cancel is refused and audited
    auth.post(_url(clinic, "reset/cancel"), {})
    assert [r.outcome for r in make.audit_rows(action="portal.reset_cancel")] == ["success", "failure"]


def test_turning_off_kills_a_waiting_reset_link_and_a_reset_needs_an_active_account(app, make, auth, clinic):
    auth.sign_in("ther-manage")
    auth.post(_url(clinic, "reset"), {})
    [token] = _reset_links(make, clinic)
    auth.post(_url(clinic, "turn-off"), {"why": "Discharged from the clinic"})
    assert Auth(app, app.test_client()).client.get(f"/portal/accept/{token}").status_code == 410
    auth.post(_url(clinic, "turn-on"), {})
    assert Auth(app, app.test_client()).client.get(f"/portal/accept/{token}").status_code == 410  # stays dead
    auth.post(_url(clinic, "turn-off"), {"why": "Discharged from the clinic"})
    auth.post(_url(clinic, "reset"), {})
    assert [r.outcome for r in make.audit_rows(action="portal.reset")] == ["success", "failure"]
    # the one reset email, not sent yet when the account was turned off, was withdrawn
    assert make.query(lambda: db.session.scalars(select(Delivery.status).where(
        Delivery.purpose == "portal_reset")).all()) == ["withdrawn"]


# -- who may ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["ther-elsewhere", "nurse-manage"])
def test_another_care_teams_therapist_and_a_nurse_are_refused(app, make, auth, clinic, username):
    auth.sign_in(username)
    for method, action, data in (("get", "turn-off", None), ("post", "turn-off", {"why": "x"}),
                                 ("post", "turn-on", {}), ("post", "reset", {}), ("post", "reset/cancel", {})):
        response = auth.client.get(_url(clinic, action)) if method == "get" else auth.post(_url(clinic, action), data)
        assert response.status_code == 403, (username, action)
    account = _account(make, clinic)
    assert account.active and _reset_links(make, clinic) == []
