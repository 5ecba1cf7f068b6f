"""The servers' request logs, read after real requests: a calendar feed's secret and a patient
search's terms are absent, and each request is still logged (its path, status and size).
The development server (werkzeug, in a thread) and gunicorn (a real process on loopback, with the
project's gunicorn.conf.py) are both run; on both engines."""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from ketamine_integration import PROJECT_ROOT
from ketamine_integration.access_log import redact
from ketamine_integration.extensions import db
from tests.databases import app_settings

SEARCH = "Umber"


def feed_secret(make) -> str:
    from ketamine_integration.accounts.models import User
    from ketamine_integration.calendars.services import create_feed
    therapist = make.user("therapist")
    return make.run(lambda: create_feed(db.session.get(User, therapist), "phone")[1])


def get(url: str) -> int:
    """The status of one GET (redirects not followed: each request is one log line)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def requests_sent(base: str, secret: str) -> dict[str, int]:
    return {"feed": get(f"{base}/feeds/{secret}.ics"), "search": get(f"{base}/patients/?q={SEARCH}&archived=1")}


def record(figures, databases, server: str, log: str, secret: str) -> None:
    logged = sum(f'{path} HTTP/1.1"' in log for path in ("GET /feeds/****.ics", "GET /patients/"))
    figures.record("Server logs", server, f"2 requests (a feed poll, a patient search): {logged} logged; feed secret "
                   f"found {log.count(secret)} times, search term {log.count(SEARCH)} times", engine=databases.name)


def assert_clean_and_logged(log: str, secret: str, statuses: dict[str, int]) -> None:
    assert statuses["feed"] == 200 and statuses["search"] == 302   # a real feed; a search, signed out
    assert secret not in log and secret[:8] not in log
    assert SEARCH not in log and "archived" not in log
    assert f'GET /feeds/****.ics HTTP/1.1" 200' in log                 # still logged, with its status
    assert 'GET /patients/ HTTP/1.1" 302' in log


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@contextmanager
def development_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def test_the_development_server_log_masks_feed_secrets_and_drops_queries(app, make, databases, figures):
    secret, lines = feed_secret(make), Lines()
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        with development_server(app) as base:
            statuses = requests_sent(base, secret)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    # werkzeug colours a line by its status when it thinks a terminal shows it
    log = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines.lines))
    record(figures, databases, "development server (werkzeug)", log, secret)
    assert_clean_and_logged(log, secret, statuses)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, tmp_path):
    """A real gunicorn from the project folder (so it reads ./gunicorn.conf.py, as in production)."""
    port, access, errors = free_port(), tmp_path / "access.log", tmp_path / "error.log"
    env = {**os.environ, "DATABASE_URL": database_url, "KI_ENV": "development",
           "SECRET_KEY": app_settings("")["SECRET_KEY"]}   # the tests' key: the audit chain continues
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
                                "--access-logfile", str(access), "--error-logfile", str(errors), "wsgi:app"],
                               cwd=PROJECT_ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get_or_none(base + "/healthz") != 200:
            assert process.poll() is None, errors.read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield base, access, errors
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def get_or_none(url: str) -> int | None:
    try:
        return get(url)
    except OSError:
        return None


def test_gunicorns_access_log_masks_feed_secrets_and_drops_queries(app, make, tmp_path, databases, figures):
    secret = feed_secret(make)
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
        db.engine.dispose()
    with gunicorn(url, tmp_path) as (base, access, errors):
        statuses = requests_sent(base, secret)
    log = access.read_text()
    record(figures, databases, "gunicorn access log", log, secret)
    assert_clean_and_logged(log, secret, statuses)
    assert secret not in errors.read_text() and SEARCH not in errors.read_text()


@pytest.mark.parametrize("line, expected", [
    ('"GET /feeds/AbC_-12.ics HTTP/1.1" 200', '"GET /feeds/****.ics HTTP/1.1" 200'),     # a feed poll
    ('"GET /feeds/AbC_-12.ics?x=1 HTTP/1.1" 404', '"GET /feeds/****.ics HTTP/1.1" 404'),  # with a query too
    ('"GET /feeds/AbC_-12 HTTP/1.1" 404', '"GET /feeds/**** HTTP/1.1" 404'),              # no .ics: still a secret
    ('"GET /patients/?q=Umber&archived=1 HTTP/1.1" 200', '"GET /patients/ HTTP/1.1" 200'),  # a patient search
    ('"https://clinic.example/patients/?q=Umber"', '"https://clinic.example/patients/"'),  # the referer
    ('"GET /patients/3 HTTP/1.1" 200', '"GET /patients/3 HTTP/1.1" 200'),                 # nothing to hide
])
def test_redact(line, expected):
    assert redact(line) == expected
