"""Figure: the real server (gunicorn, SQLite in WAL mode) killed with SIGKILL in the middle of
audited writes, K times: the database stays intact, no note exists without its audit rows
(HIPAA 164.312(b) and (c)(1)), and nothing the client saw acknowledged is lost."""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener
from zoneinfo import ZoneInfo

from ketamine_integration import create_app
from ketamine_integration.extensions import db
from tests.conftest import PASSWORD
from tests.databases import SQLiteDatabases, app_settings
from tests.factories import Factories
from tests.figures import sized

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENT_THREADS = 2
#: the server shares the test settings' key: stored authenticator secrets are encrypted with it
SECRET_KEY = app_settings("")["SECRET_KEY"]
#: acknowledged writes per client thread before the kill, at most (the moment is random)
MAX_WRITES_BEFORE_KILL = 6


class NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is the answer we want to see (it acknowledges a save)


class HttpClient:
    """A cookie-keeping HTTP client that reports statuses instead of following redirects."""

    def __init__(self, base: str):
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()), NoRedirect)
        self.csrf = ""

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = None if data is None else urlencode({"csrf_token": self.csrf, **data}, doseq=True).encode()
        try:
            with self.opener.open(Request(self.base + path, data=body), timeout=15) as response:
                status, text, headers = response.status, response.read().decode(), dict(response.headers)
        except HTTPError as answer:
            status, text, headers = answer.code, answer.read().decode(errors="replace"), dict(answer.headers)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text) or \
            re.search(r'name="csrf_token" value="([^"]+)"', text)
        if token:
            self.csrf = token.group(1)
        return status, text, headers


def sign_in(client: HttpClient, username: str, code_for, password: str = PASSWORD) -> None:
    """Sign in as a person would: the login form's CSRF token, the credentials, then the
    authenticator code (`code_for(username)`, the shared factories' known test secret)."""
    client.request("/login")
    status, _, headers = client.request("/login", {"username": username, "password": password, "next": ""})
    assert status == 302 and headers["Location"].endswith("/login/code"), f"password step refused ({status})"
    client.request("/login/code")  # the code form carries the pending session's CSRF token
    with Factories.code_step_lock:  # a code works once: threads signing in take turns choosing one
        status, _, headers = client.request("/login/code", {"code": code_for(username)})
    assert status == 302 and "/login" not in headers["Location"], f"code step refused ({status})"


@dataclass
class Acknowledged:
    """What the server answered 2xx/3xx to: notes created, and each note's last saved draft."""
    created: set[int] = field(default_factory=set)
    saved: dict[int, tuple[int, str]] = field(default_factory=dict)   # note -> (version, marker)
    writes: int = 0
    #: writes sent but never answered because the kill came first
    cut_off: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def draft(version: int, marker: str, today: str) -> dict:
    return {"session_date": today, "version": str(version), "stood_out": "Floating above the house",
            "emotions": "Grief, then relief", "insights": marker, "self_harm_thoughts": "no",
            "safety_plan_reviewed": "no", "themes-0-theme": "0", "host_theory": "act"}


def write_loop(base, username, code_for, course_id, thread_no, cycle, acked: Acknowledged, stop: threading.Event):
    """Create notes and keep saving drafts until told to stop; the server dies under it."""
    client, note, today = HttpClient(base), None, datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    try:
        sign_in(client, username, code_for)
        client.request("/")  # a signed-in page: its forms carry the session's CSRF token
    except (URLError, OSError, HTTPException):
        return  # the other thread's writes brought the kill first
    saves, doing = 0, "read"
    while not stop.is_set():
        try:
            if note is None or saves % 4 == 3:
                doing = "write"
                status, _, headers = client.request(f"/courses/{course_id}/notes",
                                                    {"note-kind": "integration", "note-session_date": today})
                if status == 302 and "/notes/" in headers.get("Location", ""):
                    note = int(headers["Location"].rsplit("/", 1)[1])
                    with acked.lock:
                        acked.created.add(note)
                        acked.writes += 1
            doing = "read"
            _, page, _ = client.request(f"/notes/{note}")            # the read is audited too
            version = int(re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1))
            marker = f"thread {thread_no} cycle {cycle} save {saves}"
            doing = "write"
            status, _, _ = client.request(f"/notes/{note}", draft(version, marker, today))
            saves += 1
            if status == 302:
                with acked.lock:
                    acked.saved[note] = (version + 1, marker)
                    acked.writes += 1
        except (URLError, OSError, HTTPException, AttributeError, TypeError):
            # The server is gone: note whether a write was cut off, then stop (it will not answer again).
            with acked.lock:
                acked.cut_off += doing == "write"
            return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": SECRET_KEY, "KI_ENV": "development"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True)  # its own process group: the kill takes master and workers at once
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited at start:\n{log.read_text()[-2000:]}")
        try:
            if HttpClient(f"http://127.0.0.1:{port}").request("/healthz")[0] == 200:
                return process
        except (URLError, OSError):
            time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the server did not answer /healthz within 120 s")


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def check_database(database: Path, acked: Acknowledged) -> tuple[bool, int, int]:
    """(intact, notes without their audit rows, acknowledged writes missing)."""
    with sqlite3.connect(database) as conn:
        intact = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        notes = dict(conn.execute("SELECT id, version FROM session_notes").fetchall())
        insights = dict(conn.execute("SELECT id, json_extract(content, '$.insights') FROM session_notes").fetchall())
        audited = {}
        for action, object_id, count in conn.execute(
                "SELECT action, object_id, COUNT(*) FROM audit_events WHERE object_type = 'sessionnote' "
                "AND outcome = 'success' AND action IN ('note.create', 'note.update') GROUP BY action, object_id"):
            audited[(action, int(object_id))] = count
    # Every note was created with its audit row, and each committed save (a version step)
    # with exactly one: the note and its audit rows commit together or not at all.
    unaudited = sum(1 for note, version in notes.items()
                    if audited.get(("note.create", note)) != 1 or audited.get(("note.update", note), 0) != version - 1)
    lost = sum(1 for note in acked.created if note not in notes)
    for note, (version, marker) in acked.saved.items():
        if notes.get(note, 0) < version or (notes[note] == version and insights[note] != marker):
            lost += 1
    return intact, unaudited, lost


def seed(make: Factories) -> tuple[str, int]:
    """A therapist (through the shared factories) with a patient's course in integration."""
    therapist = make.user("therapist", username="crash-therapist")
    prescriber = make.user("prescriber")
    patient = make.patient(therapists=[therapist], prescribers=[prescriber])
    course = make.course(patient, therapist, prescriber, phase="integration")
    with make.app.app_context():
        db.engine.dispose()
    return "crash-therapist", course


def test_sigkill_during_audited_writes_loses_nothing_acknowledged(tmp_path, figures):
    url = SQLiteDatabases(tmp_path).fresh()
    database = Path(url.removeprefix("sqlite:///"))
    # one app seeds the database and then reads the therapist's last used code step for each sign-in
    codes_app = create_app(app_settings(url))
    make = Factories(codes_app, PASSWORD)
    username, course = seed(make)
    code_for = make.totp_code
    kills, corrupt, unaudited, lost = sized(3, 25), 0, 0, 0
    acked, rng, log = Acknowledged(), random.Random(), tmp_path / "server.log"
    for cycle in range(kills):
        port = free_port()
        server = start_server(database, port, log)
        stop = threading.Event()
        threads = [threading.Thread(target=write_loop, daemon=True,
                                    args=(f"http://127.0.0.1:{port}", username, code_for, course, n, cycle, acked, stop))
                   for n in range(CLIENT_THREADS)]
        writes_before = acked.writes
        for thread in threads:
            thread.start()
        # A random moment once writes are flowing: after a random number of acknowledged
        # writes, then a random fraction of a second more (mid-request, most of the time).
        wanted, deadline = writes_before + rng.randint(2, CLIENT_THREADS * MAX_WRITES_BEFORE_KILL), time.monotonic() + 120
        while acked.writes < wanted and time.monotonic() < deadline:
            assert any(t.is_alive() for t in threads), f"the client stopped before writing:\n{log.read_text()[-2000:]}"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        kill(server)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        intact, without_audit, missing = check_database(database, acked)
        corrupt += not intact
        unaudited += without_audit
        lost += missing
    with codes_app.app_context():
        db.engine.dispose()
    figures.record("Crash safety (SIGKILL)", f"gunicorn killed mid-write ({acked.writes} acknowledged writes, "
                   f"{acked.cut_off} cut off by a kill)",
                   f"{kills} kills, {corrupt} corrupt databases, {unaudited} notes without their audit row, "
                   f"{lost} acknowledged writes lost", engine="sqlite")
    assert acked.created and acked.saved, "the client never got a write acknowledged"
    assert (corrupt, unaudited, lost) == (0, 0, 0)
