"""Concurrency figures (OWASP ASVS 5.0 V15.4: safe concurrency), on both engines.

- Parallel overlapping bookings: N desks book the same therapist at the same or overlapping
  times, at once, each with its own session: exactly one booking, the rest a clear conflict.
- Racing draft saves: N editors save one session-note draft from the version they read: each
  save lands or gets a 409; none reported as saved is silently lost.
- Writers under load: two processes of W threads register patients (an audited write each):
  no "database is locked", every row and audit row present.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.patients.models import Patient
from tests.conftest import Auth, page_text
from tests.figures import sized
from tests.integration.test_dosing import _planned, _sign, _therapist_sessions, form_time

# On SQLite and PostgreSQL: concurrency: locks and writers per engine.
pytestmark = pytest.mark.both_engines

NY = ZoneInfo("America/New_York")
ROOT = Path(__file__).resolve().parents[2]
SUITE = "Concurrency"


@pytest.fixture
def team(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(family_name="Raced")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    return ids


def signed_in(app, username: str, count: int) -> list[Auth]:
    """`count` separate browsers (clients, sessions) signed in as the user: each its own login
    session, opened by the app's start_session (Auth.sign_in) rather than the two sign-in forms,
    which are not what these figures race (tests/integration drives them)."""
    clients = [Auth(app, app.test_client()) for _ in range(count)]
    for auth in clients:
        auth.sign_in(username)
    return clients


def at_once(work, count: int) -> list:
    """Run work(n) in `count` threads released together; each result, or the exception raised."""
    results, barrier = [None] * count, threading.Barrier(count)

    def run(n):
        barrier.wait(timeout=60)
        try:
            results[n] = work(n)
        except Exception as err:  # noqa: BLE001 - an exception is an error the figure counts
            results[n] = err
    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def engine(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def test_parallel_overlapping_bookings(app, team, make, auth, figures):
    threads, rounds = sized(6, 24), sized(3, 8)
    session_id = _planned(make, team)[0]     # signed three days ago: its window is open eleven more days
    auth.sign_in("pres")
    _sign(make, auth, session_id, team["prescriber"])
    desks = signed_in(app, "desk", threads)
    successes = conflicts = errors = 0
    for r in range(rounds):
        day = datetime.now(NY).date() + timedelta(days=1 + r // 3)
        base = datetime(day.year, day.month, day.day, 9 + 3 * (r % 3), 0, tzinfo=NY)

        def book(n):
            # Half take the slot itself, half a start inside it (overlapping, not identical).
            start = base + timedelta(minutes=0 if n % 2 == 0 else 5 * (n % 9 + 1))
            response = desks[n].post(f"/courses/{team['course']}/sessions", {
                "starts_at": form_time(start), "minutes": "50", "clinician": team["therapist"],
                "modality": "telehealth"})
            return response.status_code, page_text(response) if response.status_code != 302 else ""
        results = at_once(book, threads)
        codes = [r[0] if isinstance(r, tuple) else r for r in results]
        round_ok = codes.count(302)
        round_conflicts = sum(1 for r in results if isinstance(r, tuple) and r[0] == 422
                              and "That time overlaps: Integration session with Hazel Quint" in r[1])
        successes, conflicts = successes + round_ok, conflicts + round_conflicts
        errors += threads - round_ok - round_conflicts
        assert (round_ok, round_conflicts) == (1, threads - 1), f"round {r}: {codes}"
    booked = make.query(_therapist_sessions)
    assert len(booked) == rounds and successes == rounds and errors == 0
    assert all(a.starts_at < b.starts_at for a, b in zip(booked, booked[1:]))
    figures.record(SUITE, "overlapping bookings", f"{threads} threads × {rounds} rounds: {successes} booked "
                   f"(one a round), {conflicts} clear conflicts, {errors} errors", engine=engine(app))


def _version(page: str) -> int:
    return int(re.search(r'<input[^>]*name="version"[^>]*value="(\d+)"', page).group(1))


def test_racing_draft_saves(app, team, make, figures):
    editors, rounds = sized(4, 12), sized(4, 10)
    ther = signed_in(app, "ther", editors)
    created = ther[0].post(f"/courses/{team['course']}/notes",
                           {"note-kind": "integration", "note-session_date": date.today().isoformat()})
    note_id = int(created.headers["Location"].rsplit("/", 1)[-1])
    landed = conflicts = lost = errors = 0
    for r in range(rounds):
        # Every editor opens the draft (in round 0 all read the same version; later, a late
        # reader may see the newer one and rightly land too).
        read = {}
        for n, auth in enumerate(ther):
            if r and n == editors - 1:
                continue  # read after the others have saved (below)
            read[n] = _version(auth.client.get(f"/notes/{note_id}").get_data(as_text=True))

        def save(n):
            version = read[n] if n in read else _version(ther[n].client.get(f"/notes/{note_id}")
                                                          .get_data(as_text=True))
            text = f"round {r}, editor {n}, from version {version}"
            response = ther[n].post(f"/notes/{note_id}", {"session_date": date.today().isoformat(),
                                                          "version": version, "stood_out": text})
            return response.status_code, version, text
        results = at_once(save, editors)
        outcomes = [r for r in results if isinstance(r, tuple)]
        errors += len(results) - len(outcomes) + sum(1 for code, _, _ in outcomes if code not in (302, 409))
        wins = [(version, text) for code, version, text in outcomes if code == 302]
        landed += len(wins)
        conflicts += sum(1 for code, _, _ in outcomes if code == 409)
        # A lost update: two saves from the same version both reported saved (one overwrote the
        # other unseen), or the last save reported saved is not what the draft now holds.
        lost += len(wins) - len({version for version, _ in wins})
        stored = make.query(lambda: db.session.get(SessionNote, note_id).content.get("stood_out"))
        if wins and stored != max(wins)[1]:
            lost += 1
        assert wins, f"round {r}: no save landed: {results}"
    assert lost == 0 and errors == 0, (lost, errors)
    assert landed + conflicts == editors * rounds
    final_version = make.query(lambda: db.session.get(SessionNote, note_id).version)
    assert final_version == 1 + landed  # each landed save is exactly one new version
    figures.record(SUITE, "racing draft saves", f"{editors} editors × {rounds} rounds: {landed} saved, "
                   f"{conflicts} conflicts (409), {lost} lost updates, {errors} errors", engine=engine(app))


def test_writers_under_load(app, make, figures):
    processes, threads, writes = 2, sized(3, 8), sized(10, 60)
    # One account per process: a sign-in code works once, and processes cannot take turns
    # choosing one the way threads do (tests/factories.py's lock is per process).
    for p in range(processes):
        make.user("staff", username=f"loader{p}")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.engine.dispose()  # the test's own connections stay out of the writers' way
    children = [subprocess.Popen([sys.executable, "-m", "tests.security.sqlite_writers", uri,
                                  f"loader{p}", str(threads), str(writes), f"load-p{p}"],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for p in range(processes)]
    tallies = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-3000:]
        tallies.append(json.loads(out.strip().splitlines()[-1]))
    ok, locked = sum(t["ok"] for t in tallies), sum(t["locked"] for t in tallies)
    problems = [e for t in tallies for e in t["errors"]]
    expected = processes * threads * writes
    rows = make.query(lambda: db.session.scalar(select(func.count()).select_from(Patient)
                                                .where(Patient.family_name.like("load-%"))))
    audited = make.query(lambda: db.session.scalar(select(func.count()).select_from(AuditEvent)
                                                   .where(AuditEvent.action == "patient.create")))
    mrns = make.query(lambda: db.session.scalar(select(func.count(func.distinct(Patient.mrn)))))
    assert (locked, problems) == (0, []), (locked, problems[:10])
    assert ok == rows == audited == mrns == expected, (ok, rows, audited, mrns, expected)
    figures.record(SUITE, "writers under load", f"{processes} processes × {threads} threads = "
                   f"{processes * threads} writers × {writes} audited writes: {rows} of {expected} rows and "
                   f"audit rows present, {locked} locked errors, {len(problems)} other errors", engine=engine(app))
