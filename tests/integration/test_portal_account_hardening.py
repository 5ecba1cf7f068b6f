"""The portal account's attacker review (issue 23): a new authenticator replaces the old one only once
a code of it is accepted; wrong current passwords on the account page count as failed sign-ins and
end the session; signing in again in one browser ends the session it replaces; archiving a patient
kills their waiting invitation links and ends their portal sessions."""
from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_string, policy

import pyotp
import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import LoginFailure
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain import portal as rules
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.mfa.sealing import unseal
from ketamine_integration.patients.models import Patient
from ketamine_integration.portal.models import PortalAccount, PortalInvitation, PortalSession
from tests.conftest import PASSWORD, Auth, page_text
from tests.factories import TOTP_SECRET
from tests.integration.test_portal_sign_in import _sign_in_form, world  # noqa: F401 (a fixture)

NEW_PASSWORD = "copper willow ladder orbit 19"


def invitation_link(make, auth, patient_id) -> str:
    """Invite the patient as the signed-in clinician (the patient page's button); the newest link."""
    assert auth.post(f"/patients/{patient_id}/portal/invite", {}).status_code == 302
    content = make.query(lambda: db.session.scalar(select(Delivery.content).where(
        Delivery.patient_id == patient_id, Delivery.purpose == "portal_invitation").order_by(Delivery.id.desc())))
    body = message_from_string(content, policy=policy.default).get_body().get_content()
    return re.search(r"/portal/accept/(\S+)", body).group(1)


def _signed_in(app, account_id):
    client = app.test_client()
    patient = Auth(app, client)
    patient.portal_sign_in(account_id)
    return client, patient


def _stored_secret(make, account_id) -> str:
    return make.query(lambda: unseal(db.session.get(PortalAccount, account_id).totp_secret_sealed))


def _offered_secret(client) -> str:
    page = client.get("/portal/account/second-factor/confirm").get_data(as_text=True)
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def _code(secret: str, seconds: int = 0) -> str:
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=seconds))


def _sessions(make, account_id):
    return make.query(lambda: [(s.ended_at is not None, s.end_reason) for s in db.session.scalars(
        select(PortalSession).where(PortalSession.account_id == account_id).order_by(PortalSession.id))])


# -- a new authenticator app (finding A) -------------------------------------------------------

def test_a_new_authenticator_waits_until_a_code_of_it_is_accepted(make, app, world):
    client, patient = _signed_in(app, world["account"])
    asked = patient.post("/portal/account/second-factor", {"factor-factor": "totp", "factor-current": PASSWORD})
    assert asked.headers["Location"] == "/portal/account/second-factor/confirm"
    offered = _offered_secret(client)
    assert offered != TOTP_SECRET and _offered_secret(client) == offered  # a reload keeps a scanned QR code
    assert _stored_secret(make, world["account"]) == TOTP_SECRET        # nothing replaced yet
    # the patient leaves half-way: the next sign-in takes the old app's code
    other, other_patient, _ = _sign_in_form(app)
    assert other_patient.post("/portal/code", {"code": _code(TOTP_SECRET, 30)}).headers["Location"] == "/portal/"
    # back in the first browser, a code of the new app confirms it: from now on only the new app works
    done = patient.post("/portal/account/second-factor/confirm", {"code": _code(offered)})
    assert done.headers["Location"] == "/portal/account"
    assert _stored_secret(make, world["account"]) == offered
    assert [r.detail for r in make.audit_rows(action="portal.enrol")] == ["now totp"]
    _, later, _ = _sign_in_form(app)
    refused = later.post("/portal/code", {"code": _code(TOTP_SECRET, 60)})
    assert refused.headers["Location"] == "/portal/code" and "not right" in page_text(later.client.get("/portal/code"))
    assert later.post("/portal/code", {"code": _code(offered, 30)}).headers["Location"] == "/portal/"


def test_a_wrong_code_for_the_new_app_leaves_the_old_one_working(make, app, world):
    client, patient = _signed_in(app, world["account"])
    patient.post("/portal/account/second-factor", {"factor-factor": "totp", "factor-current": PASSWORD})
    _offered_secret(client)
    wrong = patient.post("/portal/account/second-factor/confirm", {"code": _code(TOTP_SECRET, 30)})
    assert wrong.headers["Location"] == "/portal/account/second-factor/confirm"  # the old app's code is not the new one
    assert _stored_secret(make, world["account"]) == TOTP_SECRET
    assert make.query(lambda: db.session.get(PortalAccount, world["account"]).second_factor) == "totp"


# -- wrong current passwords on the account page (finding B) -----------------------------------

FORMS = [  # (url, the form's fields but the current password, audit action)
    ("/portal/account/second-factor", {"factor-factor": "email"}, "portal.factor_change", "factor-current"),
    ("/portal/account/password", {"password-password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD},
     "portal.password_change", "password-current"),
]


@pytest.mark.parametrize("url, fields, action, current", FORMS, ids=["second factor", "password"])
def test_wrong_current_passwords_count_as_failed_sign_ins_and_end_the_session(make, app, world, url, fields,
                                                                              action, current):
    client, patient = _signed_in(app, world["account"])
    for left in range(rules.MAX_CODE_FAILURES - 1, 0, -1):
        wrong = patient.post(url, {**fields, current: f"guess {left}"})
        assert wrong.status_code == 422
        assert f"That is not your current password ({left} {'try' if left == 1 else 'tries'} left)" in page_text(wrong)
    ended = patient.post(url, {**fields, current: "one guess too many"})
    assert ended.headers["Location"] == "/portal/sign-in"
    assert "Too many wrong passwords" in page_text(client.get("/portal/sign-in"))
    assert client.get("/portal/account").headers["Location"].startswith("/portal/sign-in")
    assert _sessions(make, world["account"]) == [(True, "password_failures")]
    rows = make.audit_rows(action=action)
    assert [(r.outcome, r.detail) for r in rows] == [
        ("failure", f"wrong current password; {n} tries left") for n in range(rules.MAX_CODE_FAILURES - 1, -1, -1)]
    assert {(r.portal_account_id, r.patient_id) for r in rows} == {(world["account"], world["patient"])}
    # the failures are the account's failed sign-ins: the right password is refused for a while now
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(LoginFailure))) >= 5
    _, _, signing_in = _sign_in_form(app)
    assert signing_in.status_code == 429
    account = make.query(lambda: db.session.get(PortalAccount, world["account"]))
    assert account.second_factor == "totp" and _stored_secret(make, world["account"]) == TOTP_SECRET


@pytest.mark.parametrize("url, fields, action, current", FORMS, ids=["second factor", "password"])
def test_the_current_password_is_not_checked_while_the_account_is_paused(make, app, world, url, fields, action,
                                                                         current):
    client, patient = _signed_in(app, world["account"])
    for n in range(5):  # someone guessing at the sign-in page
        _sign_in_form(app, password=f"not the password {n}")
    paused = patient.post(url, {**fields, current: PASSWORD})
    assert paused.status_code == 429 and "Retry-After" in paused.headers
    assert "Too many wrong passwords. Try again in" in page_text(paused)
    [row] = make.audit_rows(action=action)
    assert row.outcome == "denied" and row.patient_id == world["patient"]
    assert make.query(lambda: db.session.get(PortalAccount, world["account"]).second_factor) == "totp"
    assert client.get("/portal/account").status_code == 200  # still signed in: nothing was guessed here


def test_a_right_current_password_after_a_wrong_one_goes_on(make, app, world):
    client, patient = _signed_in(app, world["account"])
    assert patient.post("/portal/account/second-factor", {"factor-factor": "email", "factor-current": "nope"}
                        ).status_code == 422
    asked = patient.post("/portal/account/second-factor", {"factor-factor": "email", "factor-current": PASSWORD})
    assert asked.headers["Location"] == "/portal/account/second-factor/confirm"
    assert [(r.outcome, r.detail) for r in make.audit_rows(action="portal.factor_change")] == [
        ("failure", "wrong current password; 4 tries left"), ("success", "to email, until a code of it is accepted")]


# -- one browser, one portal session (finding D) -----------------------------------------------

def test_signing_in_as_another_patient_in_the_same_browser_ends_the_earlier_session(make, auth, app, world):
    client, patient = _signed_in(app, world["account"])
    june = make.patient(email="june@example.org", given_name="June")
    make.user("staff", username="desk-june")
    auth.sign_in("desk-june")
    token = invitation_link(make, auth, june)
    accepted = patient.post(f"/portal/accept/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                        "factor": "totp"})
    assert accepted.headers["Location"] == "/portal/enrol"
    assert _sessions(make, world["account"]) == [(True, "replaced")]
    [row] = make.audit_rows(action="portal.session_expired")
    assert (row.portal_account_id, row.patient_id, row.detail) == (
        world["account"], world["patient"], "replaced by a new sign-in in this browser")


def test_a_half_way_sign_in_is_ended_by_signing_in_again(make, app, world):
    _, patient, _ = _sign_in_form(app)
    again = patient.post("/portal/sign-in", {"email": "robin@example.org", "password": PASSWORD})
    assert again.headers["Location"] == "/portal/code"
    assert _sessions(make, world["account"]) == [(True, "replaced"), (False, None)]


# -- archiving a patient (finding E) ---------------------------------------------------------

def test_archiving_a_patient_revokes_their_waiting_link_and_withdraws_its_email(make, auth, app, world):
    ivy = make.patient(email="ivy@example.org", given_name="Ivy")
    desk = make.user("staff", username="desk-ivy")
    auth.sign_in("desk-ivy")
    token = invitation_link(make, auth, ivy)
    assert auth.post(f"/patients/{ivy}/archive", {}).status_code == 302
    link = app.test_client().get(f"/portal/accept/{token}")
    assert link.status_code == 410 and "withdrawn by the clinic" in page_text(link)
    invitation = make.query(lambda: db.session.scalar(select(PortalInvitation)))
    assert (invitation.revoked_why, invitation.revoked_by_id) == ("revoked", desk)
    [revoked] = make.audit_rows(action="portal.invite_revoke")
    assert (revoked.patient_id, revoked.object_id, revoked.detail) == (
        ivy, str(invitation.id), "the patient's record was archived")
    email = make.query(lambda: db.session.scalar(select(Delivery).where(Delivery.purpose == "portal_invitation")))
    assert email.status == "withdrawn"
    # restored, the patient is invited again (the old link stays dead)
    auth.post(f"/patients/{ivy}/restore", {})
    assert app.test_client().get(f"/portal/accept/{token}").status_code == 410
    assert invitation_link(make, auth, ivy) != token


def test_archiving_ends_the_patients_open_portal_sessions(make, auth, app, world):
    client, _ = _signed_in(app, world["account"])
    auth.sign_in("desk-home")
    auth.post(f"/patients/{world['patient']}/archive", {})
    assert client.get("/portal/").headers["Location"].startswith("/portal/sign-in")
    assert _sessions(make, world["account"]) == [(True, "archived")]


def test_a_link_of_a_patient_archived_before_links_were_revoked_is_dead(make, auth, app, world):
    """Archived before this release, or by a path that sent no signal: the link's page says so anyway."""
    ash = make.patient(email="ash@example.org", given_name="Ash")
    make.user("staff", username="desk-ash")
    auth.sign_in("desk-ash")
    token = invitation_link(make, auth, ash)
    make.run(lambda: setattr(db.session.get(Patient, ash), "archived_at", utcnow()))
    browser = app.test_client()
    assert browser.get(f"/portal/accept/{token}").status_code == 410
    accept = Auth(app, browser).post(f"/portal/accept/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                                                 "factor": "totp"})
    assert accept.status_code == 410
    assert make.query(lambda: db.session.scalar(select(PortalAccount.password_hash).where(
        PortalAccount.patient_id == ash))) is None
