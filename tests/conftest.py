"""Fixtures shared by the integration and browser suites (unit tests need none of them)."""
from __future__ import annotations

import os
import re
from html import unescape

import pyotp
import pytest
from flask import session
from flask_wtf.csrf import generate_csrf

from ketamine_integration import create_app
from ketamine_integration.extensions import db

from .databases import PostgresDatabases, SQLiteDatabases, postgres_admin_url, postgres_unavailable_reason, app_settings
from .factories import Factories
from .figures import BOOK, SIZE

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def databases(request, tmp_path_factory):
    """The engine under test: every integration test runs once per engine."""
    if request.param == "sqlite":
        dbs = SQLiteDatabases(tmp_path_factory.mktemp("sqlite"))
    else:
        reason = postgres_unavailable_reason()
        if reason:
            if IN_CI:
                pytest.fail(f"CI must run the PostgreSQL suite: {reason}")
            pytest.skip(reason)
        dbs = PostgresDatabases(postgres_admin_url())
    yield dbs
    dbs.close()


@pytest.fixture
def app(databases, tmp_path):
    app = create_app(app_settings(databases.fresh()))
    app.instance_path = str(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    return Factories(app, PASSWORD)


def csrf_token(app, client) -> str:
    """A CSRF token for the client's current session, issued by Flask-WTF itself."""
    with client.session_transaction() as client_session, app.test_request_context():
        session.update(client_session)
        token = generate_csrf()
        client_session.update(session)  # keeps the secret generate_csrf may have created
    return token


class Auth:
    """Sign in and submit forms as a user would, CSRF token included."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def login(self, username: str, password: str = PASSWORD, *, next: str | None = None, **kwargs):
        """Sign in as a person would: the password, then (when asked) the authenticator code
        of the known test secret. Returns the last response; a user still to enrol
        (make.user(..., mfa=False)) stops at the redirect to enrolment."""
        data = {"username": username, "password": password}
        if next is not None:
            data["next"] = next
        response = self.post("/login", data, **kwargs)
        if response.status_code != 302 or response.headers["Location"] != "/login/code":
            return response
        factories = Factories(self.app, PASSWORD)
        with factories.code_step_lock:
            return self.post("/login/code", {"code": factories.totp_code(username)}, **kwargs)

    def enrol(self):
        """Finish enrolling an authenticator as a person would: read the secret off the page,
        type the code an app computes from it. Returns the response (the recovery codes page)."""
        page = self.client.get("/account/two-step/enrol").get_data(as_text=True)
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
        return self.post("/account/two-step/enrol", {"code": pyotp.TOTP(secret).now()})

    def logout(self):
        return self.post("/logout", {})

    def post(self, url: str, data: dict, **kwargs):
        data = dict(data)
        data.setdefault("csrf_token", csrf_token(self.app, self.client))
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def auth(app, client):
    return Auth(app, client)


def page_text(response) -> str:
    """Visible text of an HTML response, tags removed, whitespace folded."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture(scope="session")
def figures():
    """Where a suite records the figures it measured (printed after the run)."""
    return BOOK


def pytest_terminal_summary(terminalreporter):
    if BOOK.figures:
        terminalreporter.section(f"security and reliability figures (size: {SIZE})")
        for line in BOOK.lines():
            terminalreporter.write_line(line)
