"""Two-step sign-in: enrolment, the code step, single-use codes, recovery codes, limits, the
admin's reset and policy, and what the audit trail keeps (ASVS 5.0 V6, HIPAA 164.312(d))."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import ROLES, LoginSession, User
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.mfa import totp
from ketamine_integration.mfa.models import Authenticator, RecoveryCode
from tests.conftest import PASSWORD, Auth, page_text
from tests.factories import TOTP_SECRET

#: pages a half-signed-in user must not reach (GET), with one state-changing POST
GUARDED = ["/", "/patients/", "/users/", "/audit/", "/calendar", "/account/two-step", "/settings/two-step"]


def _code(offset: int = 0) -> str:
    return totp.code_for_step(TOTP_SECRET, totp.step_at(utcnow()) + offset)


def _password_step(auth, username, password=PASSWORD):
    return auth.post("/login", {"username": username, "password": password})


def _authenticator(make, username):
    return make.query(lambda: db.session.scalar(select(Authenticator).join(User, User.id == Authenticator.user_id)
                                                .where(User.username == username)))


def _recovery_codes(response) -> list[str]:
    return re.findall(r"<li><code>([A-Z2-9]{4}(?:-[A-Z2-9]{4}){3})</code></li>", response.get_data(as_text=True))


def _new_recovery_codes(make, auth, username) -> list[str]:
    response = auth.post("/account/two-step/recovery-codes", {"regenerate-code": make.totp_code(username)})
    assert response.status_code == 200, page_text(response)
    return _recovery_codes(response)


def _login_stage(make):
    return make.query(lambda: db.session.scalars(select(LoginSession.stage).order_by(LoginSession.id)).all()[-1])


# -- enrolment ---------------------------------------------------------------------------

def test_a_required_user_without_an_authenticator_enrols_right_after_the_password(make, auth, client, app):
    make.user("therapist", username="newther", mfa=False)
    assert _password_step(auth, "newther").headers["Location"] == "/account/two-step/enrol"
    page = client.get("/account/two-step/enrol")
    html = page.get_data(as_text=True)
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", html, re.S)
    # The QR code is inline SVG made of presentation attributes, and so are the page's icons: the
    # CSP allows no inline style.
    assert [svg for svg in svgs if 'class="qr-code"' in svg]
    assert not [svg for svg in svgs if "style=" in svg or "<script" in svg]
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    uri = urlsplit(re.search(r'<a href="(otpauth://[^"]+)" id="otpauth-link"', html).group(1).replace("&amp;", "&"))
    assert uri.scheme == "otpauth" and unquote(uri.path) == "/Ketamine Integration:newther"
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["Ketamine Integration"]}
    # A reload offers the same secret: a QR code already scanned stays good.
    assert secret in client.get("/account/two-step/enrol").get_data(as_text=True).replace(" ", "")
    stored = _authenticator(make, "newther")
    assert stored.confirmed_at is None and secret not in stored.secret_sealed  # sealed, not clear text

    wrong = auth.post("/account/two-step/enrol", {"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                  else "111111"})
    assert wrong.headers["Location"] == "/account/two-step/enrol"
    assert "That code is not right" in page_text(client.get("/account/two-step/enrol"))
    assert _authenticator(make, "newther").confirmed_at is None
    assert client.get("/patients/").headers["Location"] == "/account/two-step/enrol"

    done = auth.post("/account/two-step/enrol", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "Your recovery codes" in page_text(done)
    assert len(set(_recovery_codes(done))) == 10
    assert client.get("/patients/").status_code == 200
    assert _authenticator(make, "newther").confirmed_at is not None
    actions = [(r.action, r.outcome) for r in make.audit_rows() if r.action.startswith(("login", "mfa"))]
    assert actions == [("login.mfa_due", "success"), ("mfa.enrol", "failure"), ("mfa.enrol", "success"),
                       ("login.mfa_success", "success"), ("login.success", "success")]


def test_a_sign_in_waiting_for_enrolment_done_in_another_tab_asks_for_a_code(make, auth, client, app):
    """Two tabs at the enrolment step: one enrols; the other is not sent round between the
    enrolment and settings pages, it is asked for a code from the new authenticator."""
    make.user("therapist", username="newther", mfa=False)
    other = Auth(app, app.test_client())
    for tab in (auth, other):
        assert _password_step(tab, "newther").headers["Location"] == "/account/two-step/enrol"
    html = client.get("/account/two-step/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    assert other.client.get("/account/two-step/enrol").status_code == 200
    done = auth.post("/account/two-step/enrol", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "Your recovery codes" in page_text(done)

    assert other.client.get("/account/two-step/enrol").headers["Location"] == "/login/code"
    assert other.client.get("/patients/").headers["Location"] == "/login/code"
    code = totp.code_for_step(secret, totp.step_at(utcnow()) + 1)  # the enrolment used the current step
    assert other.post("/login/code", {"code": code}).headers["Location"] == "/"
    assert other.client.get("/patients/").status_code == 200


def test_a_malformed_enrolment_code_is_refused_without_counting(make, auth, client):
    make.user("staff", username="desk", mfa=False)
    _password_step(auth, "desk")
    client.get("/account/two-step/enrol")
    response = auth.post("/account/two-step/enrol", {"code": "12ab"})
    assert response.status_code == 422 and "Enter the 6-digit code" in page_text(response)
    assert make.query(lambda: db.session.scalar(select(LoginSession.code_failures))) == 0


@pytest.mark.parametrize("path", GUARDED)
def test_an_unenrolled_required_user_reaches_nothing_but_enrolment(make, auth, client, path):
    make.user("admin", username="boss", mfa=False)
    _password_step(auth, "boss")
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-step/enrol"
    assert client.get("/login/code").headers["Location"] == "/account/two-step/enrol"


def test_a_role_that_does_not_require_it_signs_in_with_the_password_and_may_enrol(make, auth, client):
    admin = make.user("admin", username="boss")
    make.user("staff", username="desk", mfa=False)
    auth.login("boss")
    assert auth.post("/settings/two-step", {"roles": ["admin", "therapist", "prescriber"]}).status_code == 302
    auth.logout()
    assert auth.login("desk").headers["Location"] == "/"
    assert "Off: you sign in with your password alone" in page_text(client.get("/account/two-step"))
    assert auth.enrol().status_code == 200
    auth.logout()
    assert _password_step(auth, "desk").headers["Location"] == "/login/code"  # enrolled: the code is due now
    [setting] = make.audit_rows(action="settings.mfa")
    assert setting.user_id == admin and setting.detail == "required for: admin, therapist, prescriber"


# -- the code step -----------------------------------------------------------------------

@pytest.mark.parametrize("path", GUARDED + ["/account/two-step/enrol"])
def test_the_pending_session_is_not_signed_in(make, auth, client, path):
    make.user("staff", username="desk")
    make.patient(family_name="Hiddenfield")
    assert _password_step(auth, "desk").headers["Location"] == "/login/code"
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/login/code"
    assert "Hiddenfield" not in page_text(client.get(path, follow_redirects=True))
    assert client.get("/login").headers["Location"] == "/login/code"
    assert auth.post("/patients/new", {"given_name": "Sneaky", "family_name": "Write",
                                       "date_of_birth": "1990-01-01"}).headers["Location"] == "/login/code"
    assert _login_stage(make) == "code"


def test_sign_out_from_the_code_step_ends_the_pending_session(make, auth, client):
    make.user("staff", username="desk")
    _password_step(auth, "desk")
    assert auth.logout().headers["Location"] == "/login"
    assert client.get("/login/code").headers["Location"].startswith("/login?")
    ended = make.query(lambda: db.session.scalar(select(LoginSession.end_reason)))
    assert ended == "logout"


def test_five_wrong_codes_end_the_sign_in(make, auth, client):
    make.user("therapist", username="ther")
    _password_step(auth, "ther")
    wrong = "000000" if _code() != "000000" else "999999"
    for left in (4, 3, 2, 1):
        assert auth.post("/login/code", {"code": wrong}).headers["Location"] == "/login/code"
        assert f"({left} tr" in page_text(client.get("/login/code"))
    last = auth.post("/login/code", {"code": wrong})
    assert last.headers["Location"] == "/login"
    # The session is over: even the right code now goes nowhere, and nothing else opens.
    assert auth.post("/login/code", {"code": _code(1)}).headers["Location"].startswith("/login")
    assert client.get("/").headers["Location"].startswith("/login")
    assert make.query(lambda: db.session.scalar(select(LoginSession.end_reason))) == "code_failures"
    failures = make.audit_rows(action="login.mfa_failure")
    assert [r.detail for r in failures] == [f"wrong code; {n} tries left" for n in (4, 3, 2, 1)] + [
        "wrong code; too many wrong codes, session ended"]
    assert all(wrong not in (r.detail or "") for r in make.audit_rows())


def test_the_code_step_expires_after_five_minutes(make, auth, client):
    make.user("staff", username="desk")
    _password_step(auth, "desk")
    make.age_login_sessions(created_at=timedelta(minutes=5, seconds=1), last_seen_at=timedelta(minutes=5))
    response = client.get("/login/code", follow_redirects=True)
    assert "not finished in time" in page_text(response)
    assert auth.post("/login/code", {"code": _code()}).headers["Location"].startswith("/login")
    [row] = make.audit_rows(action="session.expired")
    assert row.detail == "second_step_timeout"


def test_a_signed_in_session_gets_a_new_identifier_after_the_code(make, auth, client):
    make.user("staff", username="desk")
    _password_step(auth, "desk")
    with client.session_transaction() as sess:
        pending_sid = sess["sid"]
    auth.post("/login/code", {"code": make.totp_code("desk")})
    with client.session_transaction() as sess:
        assert sess["sid"] != pending_sid
    copied = client.application.test_client()
    with copied.session_transaction() as sess:
        sess["sid"] = pending_sid
    assert copied.get("/").headers["Location"].startswith("/login")


# -- single use, drift -------------------------------------------------------------------

@pytest.mark.parametrize("offset, accepted", [
    (-1, True),    # the phone's clock a step behind
    (0, True),     # the current step
    (1, True),     # a step ahead
    (-2, False),   # too old
    (2, False),    # too far ahead
])
def test_codes_are_accepted_one_step_either_side(make, auth, client, offset, accepted):
    make.user("staff", username="desk")
    make.run(lambda: db.session.execute(Authenticator.__table__.update().values(last_used_step=None)))
    _password_step(auth, "desk")
    response = auth.post("/login/code", {"code": _code(offset)})
    assert (response.headers["Location"] == "/") is accepted


def test_a_code_works_only_once_even_inside_its_window(make, auth, client, app):
    make.user("therapist", username="ther")
    code = _code(1)
    _password_step(auth, "ther")
    assert auth.post("/login/code", {"code": code}).headers["Location"] == "/"
    auth.logout()
    _password_step(auth, "ther")
    assert auth.post("/login/code", {"code": code}).headers["Location"] == "/login/code"
    assert "used already" in page_text(client.get("/login/code"))
    # an earlier step than the one used is refused as well, though still inside the window
    assert auth.post("/login/code", {"code": _code(0)}).headers["Location"] == "/login/code"
    details = [r.detail for r in make.audit_rows(action="login.mfa_failure")]
    assert details == ["code already used; 4 tries left", "code already used; 3 tries left"]


# -- recovery codes ----------------------------------------------------------------------

def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(make, auth, client):
    make.user("prescriber", username="presc")
    auth.login("presc")
    codes = _new_recovery_codes(make, auth, "presc")
    stored = make.query(lambda: db.session.scalars(select(RecoveryCode.code_hash)).all())
    assert len(codes) == 10 and len(stored) == 10 and not set(codes) & set(stored)  # hashes only
    auth.logout()
    _password_step(auth, "presc")
    response = auth.post("/login/code", {"code": codes[3].lower().replace("-", " ")})
    assert response.headers["Location"] == "/"
    assert "9 recovery codes left" in page_text(client.get("/"))
    assert "Recovery codes left: 9 of 10" in page_text(client.get("/account/two-step"))
    auth.logout()
    _password_step(auth, "presc")
    assert auth.post("/login/code", {"code": codes[3]}).headers["Location"] == "/login/code"
    assert [r.detail for r in make.audit_rows(action="login.mfa_success")] == [
        "authenticator code", "recovery code; 9 left"]
    assert all(c not in (r.detail or "") for r in make.audit_rows() for c in codes)


def test_new_recovery_codes_need_an_authenticator_code_and_replace_the_old(make, auth, client):
    make.user("therapist", username="ther")
    auth.login("ther")
    old = _new_recovery_codes(make, auth, "ther")
    refused = auth.post("/account/two-step/recovery-codes", {"regenerate-code": old[0]})
    assert refused.status_code == 422 and "Enter the 6-digit code" in page_text(refused)
    new = _new_recovery_codes(make, auth, "ther")
    assert not set(old) & set(new)
    auth.logout()
    _password_step(auth, "ther")
    assert auth.post("/login/code", {"code": old[0]}).headers["Location"] == "/login/code"
    assert auth.post("/login/code", {"code": new[0]}).headers["Location"] == "/"


def test_wrong_codes_on_ones_own_settings_count_against_the_session(make, auth, client):
    # A borrowed, signed-in browser cannot guess its way to new recovery codes either.
    make.user("therapist", username="ther")
    auth.login("ther")
    wrong = "000000" if _code() != "000000" else "999999"
    for _ in range(4):
        response = auth.post("/account/two-step/recovery-codes", {"regenerate-code": wrong})
        assert response.headers["Location"] == "/account/two-step"
    assert auth.post("/account/two-step/recovery-codes", {"regenerate-code": wrong}).headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")
    assert [r.outcome for r in make.audit_rows(action="mfa.recovery_codes")] == ["failure"] * 5


# -- turning off, password reset, admin reset ---------------------------------------------

def test_turning_it_off_is_refused_while_the_role_requires_it(make, auth, client):
    make.user("therapist", username="ther")
    auth.login("ther")
    response = auth.post("/account/two-step/turn-off", {"off-code": make.totp_code("ther")})
    assert response.status_code == 422 and "cannot be turned off" in page_text(response)
    assert _authenticator(make, "ther").confirmed_at is not None


def test_turning_it_off_works_with_a_code_when_no_role_requires_it(make, auth, client):
    make.user("admin", username="boss")
    make.user("staff", username="desk")
    auth.login("boss")
    auth.post("/settings/two-step", {"roles": ["admin"]})
    auth.logout()
    auth.login("desk")
    assert auth.post("/account/two-step/turn-off", {"off-code": make.totp_code("desk")}).status_code == 302
    assert _authenticator(make, "desk") is None
    auth.logout()
    assert auth.login("desk").headers["Location"] == "/"


def test_an_admin_password_reset_keeps_the_authenticator(make, auth, client, app):
    make.user("admin", username="boss")
    user = make.user("therapist", username="ther")
    auth.login("boss")
    new_password = "a brand new long passphrase"
    assert auth.post(f"/users/{user}/password", {"password": new_password, "confirm": new_password}).status_code == 302
    other = Auth(app, app.test_client())
    assert _password_step(other, "ther", new_password).headers["Location"] == "/login/code"
    assert other.client.get("/").headers["Location"] == "/login/code"
    assert _authenticator(make, "ther").confirmed_at is not None


def test_the_admin_resets_an_authenticator_with_a_reason(make, auth, client, app):
    admin = make.user("admin", username="boss")
    user = make.user("therapist", username="ther")
    phone = Auth(app, app.test_client())
    phone.login("ther")
    auth.login("boss")
    assert "Reset authenticator" in page_text(client.get("/users/"))
    empty = auth.post(f"/users/{user}/authenticator-reset", {"reason": ""})
    assert empty.status_code == 422 and _authenticator(make, "ther") is not None
    done = auth.post(f"/users/{user}/authenticator-reset", {"reason": "Phone lost; identity checked in person"})
    assert done.status_code == 302 and _authenticator(make, "ther") is None
    assert phone.client.get("/").headers["Location"].startswith("/login")  # signed out everywhere
    assert phone.login("ther").headers["Location"] == "/account/two-step/enrol"
    rows = make.audit_rows(action="user.mfa_reset")
    assert [(r.outcome, r.user_id, r.object_id, r.detail) for r in rows] == [
        ("failure", admin, str(user), "refused"),
        ("success", admin, str(user), "Phone lost; identity checked in person")]


def test_an_admin_cannot_reset_their_own_authenticator_and_others_cannot_reset_at_all(make, auth, client):
    admin = make.user("admin", username="boss")
    make.user("staff", username="desk")
    auth.login("boss")
    response = auth.post(f"/users/{admin}/authenticator-reset", {"reason": "I want a new phone set up"})
    assert response.status_code == 422 and "Another admin" in page_text(response)
    assert _authenticator(make, "boss") is not None
    auth.logout()
    auth.login("desk")
    assert auth.post(f"/users/{admin}/authenticator-reset", {"reason": "staff trying it on"}).status_code == 403
    assert client.get("/settings/two-step").status_code == 403


def test_the_policy_defaults_to_every_role_and_refuses_unknown_roles(make, auth, client):
    make.user("admin", username="boss")
    auth.login("boss")
    page = client.get("/settings/two-step").get_data(as_text=True)
    assert page.count("checked") == len(ROLES)
    refused = auth.post("/settings/two-step", {"roles": ["admin", "superuser"]})
    assert refused.status_code == 422
    assert client.get("/settings/two-step").get_data(as_text=True).count("checked") == len(ROLES)
    assert [r.outcome for r in make.audit_rows(action="settings.mfa")] == ["failure"]


def test_secrets_sealed_under_another_key_are_refused_with_a_way_out(make, auth, client, app):
    make.user("staff", username="desk")
    app.config["SECRET_KEY"] = "another key entirely, as after a rotation of the key"
    _password_step(auth, "desk")
    assert auth.post("/login/code", {"code": _code(1)}).headers["Location"] == "/login/code"
    assert "ask a clinic admin to reset it" in page_text(client.get("/login/code"))
