"""The servers' request logs, read after real requests: a calendar feed's secret and a patient
search's terms are absent, and each request is still logged (its path, status and size).
The development server (werkzeug, in a thread) and gunicorn (a real process on loopback, with the
project's gunicorn.conf.py) are both run; on both engines."""
from __future__ import annotations

import http.client
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
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from ketamine_integration import PROJECT_ROOT
from ketamine_integration.web.access_log import RedactingGunicornLogger, redact
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


#: the second attack's forms of a feed poll and a patient search (GET and HEAD each): what the
#: router or a client may send, percent-encoded or in another case, the secret always in it
HOSTILE_FORMS = {
    "encoded f": "/%66eeds/{s}.ics",                       # routed: 200
    "encoded 'feeds'": "/%66%65%65%64%73/{s}.ics",          # routed: 200
    "encoded slash": "/feeds%2F{s}.ics",                   # routed: 200
    "double encoding": "/feeds%252F{s}.ics",
    "upper case": "/FEEDS/{s}.ics",
    "upper .ICS": "/feeds/{s}.ICS",
    "encoded slash in the secret": "/feeds/{s}%2F.ics",
    "trailing slash": "/feeds/{s}.ics/",
    "double slash": "//feeds/{s}.ics",
    "dot segment": "/x/../feeds/{s}.ics",
    "no .ics": "/feeds/{s}",
    "path parameter": "/feeds/{s}.ics;x=1",
    "encoded hash": "/feeds/{s}%23.ics",
    "quote": '/feeds/{s}".ics',
    "absolute URI": "http://127.0.0.1/feeds/{s}.ics",
    "search, encoded ?": "/patients/%3Fq={q}",
    "search, double-encoded ?": "/patients/%253Fq={q}",
    "search, no slash": "/patients?q={q}",
    "search, encoded ? in a feed": "/feeds%3F{s}.ics?q={q}",
}


def raw_request(base: str, method: str, target: str, headers: dict | None = None) -> int:
    """One request with its target sent exactly as written (urllib would normalise it)."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def requests_sent(base: str, secret: str) -> dict[str, int]:
    statuses = {"feed": get(f"{base}/feeds/{secret}.ics"), "search": get(f"{base}/patients/?q={SEARCH}&archived=1")}
    for label, form in HOSTILE_FORMS.items():
        for method in ("GET", "HEAD"):
            statuses[f"{method} {label}"] = raw_request(base, method, form.format(s=secret, q=SEARCH))
    statuses["referer"] = raw_request(base, "GET", "/healthz", {"Referer": f"http://x/FEEDS%2F{secret}.ics?q={SEARCH}",
                                                                "User-Agent": f"cal/feeds/{secret}.ics"})
    return statuses


def request_lines(log: str) -> list[str]:
    """The log's request lines, the server's own health checks left out."""
    return [line for line in log.splitlines() if " HTTP/1." in line and '/healthz HTTP/1.1" 200 16 "-"' not in line]


def record(figures, databases, server: str, log: str, secret: str, statuses: dict[str, int]) -> None:
    routed = sum(statuses[f"{m} {label}"] == 200 for m in ("GET", "HEAD") for label in HOSTILE_FORMS)
    figures.record("Server logs", server, f"{len(statuses)} requests (a feed poll, a patient search, "
                   f"{len(HOSTILE_FORMS)} encoded or re-cased forms × GET/HEAD of which {routed} reached the feed, "
                   f"a feed address in headers): {len(request_lines(log))} logged; feed secret found "
                   f"{log.count(secret)} times, search term {log.count(SEARCH)} times", engine=databases.name)


def assert_clean_and_logged(log: str, secret: str, statuses: dict[str, int]) -> None:
    assert statuses["feed"] == 200 and statuses["search"] == 302   # a real feed; a search, signed out
    # the routed encodings really reached the feed: their log lines are worth reading
    assert statuses["GET encoded f"] == statuses["GET encoded slash"] == 200
    assert secret not in log and secret[:8] not in log
    assert SEARCH not in log and "archived" not in log
    assert f'GET /feeds/****.ics HTTP/1.1" 200' in log                 # still logged, with its status
    assert 'GET /patients/ HTTP/1.1" 302' in log
    assert len(request_lines(log)) == len(statuses)                    # every request, one line each


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@contextmanager
def development_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # shutdown() waits up to one poll interval (0.5 s by default)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
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
    record(figures, databases, "development server (werkzeug)", log, secret, statuses)
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
    record(figures, databases, "gunicorn access log", log, secret, statuses)
    assert_clean_and_logged(log, secret, statuses)
    assert secret not in errors.read_text() and SEARCH not in errors.read_text()


@pytest.mark.parametrize("line, expected", [
    ('"GET /feeds/AbC_-12.ics HTTP/1.1" 200', '"GET /feeds/****.ics HTTP/1.1" 200'),     # a feed poll
    ('"GET /feeds/AbC_-12.ics?x=1 HTTP/1.1" 404', '"GET /feeds/****.ics HTTP/1.1" 404'),  # with a query too
    ('"GET /feeds/AbC_-12 HTTP/1.1" 404', '"GET /feeds/**** HTTP/1.1" 404'),              # no .ics: still a secret
    ('"GET /patients/?q=Umber&archived=1 HTTP/1.1" 200', '"GET /patients/ HTTP/1.1" 200'),  # a patient search
    ('"https://clinic.example/patients/?q=Umber"', '"https://clinic.example/patients/"'),  # the referer
    ('"GET /patients/3 HTTP/1.1" 200', '"GET /patients/3 HTTP/1.1" 200'),                 # nothing to hide
    # the second attack's forms, as a raw request line shows them
    ('"GET /%66eeds/AbC_-12.ics HTTP/1.1" 200', '"GET /feeds/****.ics HTTP/1.1" 200'),   # one letter encoded
    ('"GET /%66%65%65%64%73/AbC_-12.ics HTTP/1.1" 200',
     '"GET /feeds/****.ics HTTP/1.1" 200'),                                               # the whole word encoded
    ('"GET /feeds%2FAbC_-12.ics HTTP/1.1" 200', '"GET /feeds/****.ics HTTP/1.1" 200'),   # the slash encoded
    ('"GET /feeds%252FAbC_-12.ics HTTP/1.1" 404', '"GET /feeds/****.ics HTTP/1.1" 404'),  # encoded twice
    ('"GET /FEEDS/AbC_-12.ics HTTP/1.1" 404', '"GET /FEEDS/****.ics HTTP/1.1" 404'),     # another case
    ('"GET /feeds/AbC_-12.ICS HTTP/1.1" 404', '"GET /feeds/****.ics HTTP/1.1" 404'),     # .ICS
    ('"GET /feeds/AbC_-12%2F.ics HTTP/1.1" 404', '"GET /feeds/****/****.ics HTTP/1.1" 404'),  # a slash in it
    ('"GET /x/../feeds/AbC_-12.ics HTTP/1.1" 404', '"GET /x/../feeds/****.ics HTTP/1.1" 404'),  # a dot segment
    ('"GET /feeds/AbC_-12.ics;x=1 HTTP/1.1" 404', '"GET /feeds/**** HTTP/1.1" 404'),     # a path parameter
    ('"GET /feeds/AbC_-12".ics HTTP/1.1" 404', '"GET /feeds/****.ics HTTP/1.1" 404'),    # a quote inside
    ('"GET http://host/feeds/AbC_-12.ics HTTP/1.1" 200',
     '"GET http://host/feeds/****.ics HTTP/1.1" 200'),                                    # absolute URI
    ('"GET /feeds;v=1/AbC_-12.ics HTTP/1.1" 404', '"GET /feeds;v=1/****.ics HTTP/1.1" 404'),  # "feeds" decorated
    ('"GET /patients/%3Fq=Umber HTTP/1.1" 404', '"GET /patients/ HTTP/1.1" 404'),        # an encoded "?"
    ('"GET /patients/%253Fq=Umber HTTP/1.1" 404', '"GET /patients/ HTTP/1.1" 404'),      # encoded twice
    ('"GET /calendars/feeds/3/revoke HTTP/1.1" 302',
     '"GET /calendars/feeds/3/**** HTTP/1.1" 302'),                                       # ids are kept
    ('"GET /a%0Ab/feeds/x HTTP/1.1"', '"GET /a%0Ab/feeds/**** HTTP/1.1"'),               # no line forged
    ('"GET /100%25 HTTP/1.1" 404', '"GET /100%25 HTTP/1.1" 404'),                         # nothing to hide
])
def test_redact(line, expected):
    assert redact(line) == expected


@pytest.mark.parametrize("path_info, logged", [
    ("/feeds/AbC_-12.ics", "GET /feeds/****.ics HTTP/1.1"),            # as the router saw it
    ("/FEEDS/AbC_-12.ics", "GET /FEEDS/****.ics HTTP/1.1"),            # another case
    ("/feeds/AbC_-12%2F.ics", "GET /feeds/****/****.ics HTTP/1.1"),    # still encoded once
    ("/a\nb c\"/feeds/x", "GET /a%0Ab%20c%22/feeds/**** HTTP/1.1"),    # decoded characters re-encoded
])
def test_gunicorn_logs_a_request_line_rebuilt_from_the_decoded_path(path_info, logged):
    class Config:
        loglevel, errorlog, accesslog, syslog, capture_output = "info", "-", None, False, False
        logconfig_dict = logconfig_json = logconfig = None
        access_log_format = '"%(r)s" %(U)s %({raw_uri}e)s'
    logger = RedactingGunicornLogger.__new__(RedactingGunicornLogger)
    logger.cfg = Config()
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/%66eeds/AbC_-12.ics?q={SEARCH}", "PATH_INFO": path_info,
               "QUERY_STRING": f"q={SEARCH}", "SERVER_PROTOCOL": "HTTP/1.1"}
    atoms = logger.atoms(Response(), {}, environ, timedelta(seconds=1))
    assert atoms["r"] == logged and atoms["U"] == atoms["{raw_uri}e"] == logged.split()[1]
    assert SEARCH not in str(atoms) and "AbC_-12" not in str(atoms)


class Response:
    status, sent, headers = "200 OK", 10, {}
