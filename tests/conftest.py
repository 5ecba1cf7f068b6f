"""Fixtures shared by the integration and browser suites (unit tests need none of them)."""
from __future__ import annotations

import os
import re
from html import unescape

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

    def login(self, username: str, password: str = PASSWORD, **kwargs):
        return self.post("/login", {"username": username, "password": password}, **kwargs)

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
