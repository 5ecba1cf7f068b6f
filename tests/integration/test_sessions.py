"""Signing in and out, automatic logoff, disabled accounts, session rotation and CSRF."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ketamine_integration.accounts.models import LoginSession, User
from ketamine_integration.accounts.services import update_user
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text


def test_sign_in_lands_on_home_and_sign_out_returns_to_sign_in(make, auth, client):
    make.user("therapist", username="tala", full_name="Tala Brookfield")
    response = auth.login("tala")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Tala Brookfield" in page_text(client.get("/"))
    response = auth.logout()
    assert response.headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")


@pytest.mark.parametrize("username, password, message, detail", [
    # known user, wrong password
    ("tala", "wrong password entirely", "Username or password is not correct", "wrong password"),
    # unknown user: the same message, no hint which field was wrong
    ("nobody-here", "whatever it may be", "Username or password is not correct", "unknown username"),
    # empty form: field errors, and the attempt is still audited
    ("", "", "This field is required.", "incomplete or over-long form"),
    # a password longer than any we accept
    ("tala", "x" * 300, "Field cannot be longer than 256 characters.", "incomplete or over-long form"),
])
def test_failed_sign_in_is_refused_and_audited_once(make, auth, username, password, message, detail):
    make.user("therapist", username="tala")
    response = auth.login(username, password)
    assert response.status_code == 422
    assert message in page_text(response)
    [row] = make.audit_rows()
    assert (row.action, row.outcome, row.detail) == ("login.failure", "failure", detail)


def test_next_parameter_only_redirects_within_the_site(make, auth):
    make.user("staff", username="desk")
    for target in ("https://evil.example/steal", "//evil.example", "javascript:alert(1)"):
        response = auth.login("desk", next=target)
        assert response.headers["Location"] == "/"
        auth.logout()


def test_next_parameter_returns_to_the_requested_page(make, auth, client):
    make.user("staff", username="desk")
    first = client.get("/patients/?q=abc")
    assert first.status_code == 302
    login_page = client.get(first.headers["Location"])
    assert 'value="/patients/?q=abc"' in login_page.get_data(as_text=True)
    response = auth.login("desk", next="/patients/?q=abc")  # kept across the code step
    assert response.headers["Location"] == "/patients/?q=abc"


def test_session_identifier_is_rotated_at_every_login(make, auth, client):
    make.user("staff", username="desk")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker before login"
    auth.login("desk")
    with client.session_transaction() as sess:
        first_sid = sess["sid"]
        assert "planted" not in sess
    auth.logout()
    auth.login("desk")
    with client.session_transaction() as sess:
        assert sess["sid"] != first_sid


def test_idle_session_is_signed_out_with_a_message(make, auth, client):
    make.user("staff", username="desk")
    auth.login("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=16))
    response = client.get("/patients/", follow_redirects=True)
    assert "signed out after a period of inactivity" in page_text(response)
    assert client.get("/patients/").status_code == 302  # stays signed out
    [row] = make.audit_rows(action="session.expired")
    assert row.detail == "idle"


def test_activity_within_the_idle_limit_keeps_the_session(make, auth, client):
    make.user("staff", username="desk")
    auth.login("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=14), created_at=timedelta(minutes=14))
    assert client.get("/patients/").status_code == 200
    # The request counted as activity: a further 14 minutes later the session is still good.
    make.age_login_sessions(last_seen_at=timedelta(minutes=14))
    assert client.get("/patients/").status_code == 200


@pytest.mark.parametrize("header", [
    {"Sec-Purpose": "prefetch"},                # Chromium's speculative prefetch
    {"Purpose": "prefetch"},                    # older browsers' prefetch
    {"X-KI-Background": "1"},                   # any polling script the app may add
])
def test_background_requests_do_not_extend_the_idle_limit(make, auth, client, header):
    make.user("staff", username="desk")
    auth.login("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=14), created_at=timedelta(minutes=14))
    assert client.get("/patients/", headers=header).status_code == 200  # still within the limit
    make.age_login_sessions(last_seen_at=timedelta(minutes=2))  # 16 minutes since the person acted
    response = client.get("/patients/", follow_redirects=True)
    assert "signed out after a period of inactivity" in page_text(response)


def test_absolute_session_limit_ends_even_an_active_session(make, auth, client):
    make.user("staff", username="desk")
    auth.login("desk")
    make.age_login_sessions(created_at=timedelta(hours=12, minutes=1))
    response = client.get("/patients/", follow_redirects=True)
    assert "reached its time limit" in page_text(response)


def test_disabling_an_account_ends_its_open_sessions_at_once(make, auth, client, app):
    admin_id = make.user("admin", username="boss")
    make.user("therapist", username="leaving")
    auth.login("leaving")
    assert client.get("/").status_code == 200

    def disable():
        user = db.session.scalar(select(User).where(User.username == "leaving"))
        update_user(user, acting_user=db.session.get(User, admin_id), username=user.username,
                    full_name=user.full_name, roles=user.roles, active=False)
    make.run(disable)
    response = client.get("/", follow_redirects=True)
    assert "Sign in" in page_text(response)
    assert client.get("/").status_code == 302


def test_a_disabled_account_cannot_sign_in(make, auth):
    make.user("therapist", username="gone", active=False)
    response = auth.login("gone")
    assert "Username or password is not correct" in page_text(response)
    [row] = make.audit_rows(action="login.failure")
    assert row.detail == "account disabled"


def test_a_disabled_user_row_even_without_the_service_is_locked_out(make, auth, client):
    # Belt and braces: the check runs on every request, not only when sessions are ended.
    make.user("therapist", username="flagged")
    auth.login("flagged")
    make.run(lambda: db.session.execute(update(User).where(User.username == "flagged").values(active=False)))
    assert client.get("/").status_code == 302


def test_a_cookie_copied_before_logout_is_refused_after_it(make, auth, client, app):
    make.user("staff", username="desk")
    auth.login("desk")
    stolen = client.get_cookie("ki_session").value
    auth.logout()
    other = app.test_client()
    other.set_cookie("ki_session", stolen)
    assert other.get("/patients/").status_code == 302


@pytest.mark.parametrize("path, data", [
    ("/login", {"username": "desk", "password": "correct horse battery staple"}),
    ("/logout", {}),
    ("/patients/new", {"given_name": "Forged", "family_name": "Request", "date_of_birth": "1990-01-01"}),
])
def test_state_changing_requests_without_a_csrf_token_are_refused(make, auth, client, path, data):
    make.user("staff", username="desk")
    if path != "/login":
        auth.login("desk")
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "nothing was saved" in page_text(response)
    if path == "/logout":
        assert client.get("/").status_code == 200  # still signed in
    if path == "/patients/new":
        assert make.run(lambda: db.session.scalar(select(func.count()).select_from(Patient))) == 0


def test_session_cookie_is_httponly_and_samesite(make, auth):
    make.user("staff", username="desk")
    response = auth.login("desk")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_hash_is_upgraded_when_parameters_rise(make, auth, app):
    make.user("staff", username="desk")
    before = make.run(lambda: db.session.scalar(select(User.password_hash).where(User.username == "desk")))
    app.config["PASSWORD_HASH_TIME_COST"] = 2
    auth.login("desk")
    after = make.run(lambda: db.session.scalar(select(User.password_hash).where(User.username == "desk")))
    assert before != after and "t=2" in after


def test_sessions_table_never_stores_the_cookie_token(make, auth, client):
    make.user("staff", username="desk")
    auth.login("desk")
    with client.session_transaction() as sess:
        token = sess["sid"]
    stored = make.run(lambda: db.session.scalar(select(LoginSession.token_hash)))
    assert token not in stored and len(stored) == 64


def test_the_idle_limit_comes_from_configuration(make, auth, client, app):
    app.config["SESSION_IDLE_MINUTES"] = 5
    make.user("staff", username="desk")
    auth.login("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=6))
    assert client.get("/").status_code == 302


def test_a_first_visit_to_the_front_door_is_not_told_to_sign_in_but_a_stopped_page_is(make, auth, client):
    """Issue 21, point 5: "Please sign in to continue." greeted anyone opening the app's address. Only a
    page the visitor was stopped from reaching says so (and is returned to after signing in)."""
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"] == "/login"
    login = page_text(client.get("/login"))
    assert "Sign in" in login and "Please sign in to continue." not in login
    stopped = client.get("/patients/")
    assert stopped.headers["Location"] == "/login?next=/patients/"
    assert "Please sign in to continue." in page_text(client.get(stopped.headers["Location"]))
