"""The key pages of the benchmark, who opens each, and what one request of each costs.

Pages are picked from the clinic in the database by fixed rules (the busiest therapist,
their course with the most signed dosing sessions...), so the small demo clinic and the
large generated one are measured on the same kind of page. Requests go through Flask's test
client in this process: the time is the server's (routing, access rules, queries, template,
the request's commit), with no network in it.
"""
from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask import session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event, func, select

from ketamine_integration.accounts.models import User, UserRole
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import CareTeamMember
from ketamine_integration.db.clinic_time import clinic_today

FLOOR = "floor page"
#: phases of a course whose page is shown as "the patient course page": a completed course (no
#: window waits for suggestions, no planning or booking form is offered), so the page has the
#: same shape on every clinic and its statement counts compare
COURSE_PHASES = ("completed",)


@dataclass(frozen=True)
class Page:
    name: str
    username: str
    path: str


def _busiest(role: str) -> User:
    """The user of `role` with the most care-team patients (lowest id on a tie)."""
    patients = func.count(CareTeamMember.id)
    return db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role)
        .outerjoin(CareTeamMember, (CareTeamMember.user_id == User.id) & (CareTeamMember.role == role))
        .group_by(User.id).order_by(patients.desc(), User.id).limit(1)).first()


def _first(role: str) -> User:
    return db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == role).order_by(User.id).limit(1)).first()


def _course_of(therapist: User) -> TreatmentCourse:
    signed = (select(func.count(DosingSession.id)).where(DosingSession.course_id == TreatmentCourse.id,
                                                         DosingSession.status == "signed").scalar_subquery())
    stmt = select(TreatmentCourse).where(TreatmentCourse.therapist_id == therapist.id)
    course = db.session.scalars(stmt.where(TreatmentCourse.phase.in_(COURSE_PHASES))
                                .order_by(signed.desc(), TreatmentCourse.id).limit(1)).first()
    return course or db.session.scalars(stmt.order_by(signed.desc(), TreatmentCourse.id).limit(1)).first()


def key_pages(app) -> list[Page]:
    """The floor page, the eight key pages of the issue and the clinic outcomes (issue 25), resolved in this clinic."""
    with app.app_context():
        therapist, prescriber = _busiest("therapist"), _busiest("prescriber")
        staff, admin = _first("staff"), _first("admin")
        course = _course_of(therapist)
        today = clinic_today()
        last_week = today - timedelta(days=7 + today.weekday())  # a full week of held sessions
        pages = [
            Page(FLOOR, admin.username, "/themes/"),
            Page("therapist dashboard", therapist.username, "/"),
            Page("staff worklist", staff.username, "/worklist"),
            Page("week calendar", therapist.username, f"/calendar?view=week&date={last_week.isoformat()}"),
            Page("patient course page", therapist.username, f"/courses/{course.id}"),
            Page("measures chart", therapist.username, f"/courses/{course.id}/measures"),
            Page("theme view", therapist.username, f"/patients/{course.patient_id}/themes"),
            Page("audit log page", admin.username, "/audit/"),
            Page("prescriber worklist", prescriber.username, "/prescriber/"),
            Page("clinic outcomes", admin.username, "/outcomes/"),
        ]
        db.session.remove()
    return pages


def csrf_token(app, client) -> str:
    """A CSRF token for the client's session, issued by Flask-WTF itself."""
    with client.session_transaction() as client_session, app.test_request_context():
        session.update(client_session)
        token = generate_csrf()
        client_session.update(session)
    return token


def sign_in(app, username: str, password: str):
    """A test client signed in as `username` through the login form."""
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(app, client)})
    if response.status_code != 302:
        raise RuntimeError(f"could not sign in as {username}: HTTP {response.status_code}")
    return client


#: a bound parameter as SQLite (?) or psycopg (%(name)s) writes it
_PARAMETER = re.compile(r"%\(\w+\)s|\?")
#: a list of parameters (an expanded IN), whatever its length
_PARAMETER_LIST = re.compile(r"\?(?:\s*,\s*\?)+")


def statement_shape(statement: str) -> str:
    """A statement with its parameters and their number left out: a query run for each row of a
    page shows as one shape run many times, however its IN lists are filled."""
    return _PARAMETER_LIST.sub("?", _PARAMETER.sub("?", " ".join(statement.split())))


class StatementCounter:
    """Counts the SQL statements the app's engine runs while it is entered, and how often each
    statement's shape ran."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0
        self.shapes: Counter[str] = Counter()

    def _seen(self, conn, cursor, statement, *args, **kwargs):
        self.count += 1
        self.shapes[statement_shape(statement)] += 1

    def __enter__(self):
        self.count = 0
        self.shapes = Counter()
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)


def fetch(client, path: str):
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
    return response


def statements(app, client, path: str) -> int:
    return statement_shapes(app, client, path).total()


def statement_shapes(app, client, path: str) -> Counter[str]:
    """How often each statement's shape ran while `path` was requested."""
    with StatementCounter(app) as counter:
        fetch(client, path)
    return counter.shapes


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p95_ms: float
    samples: int


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_pages(requests_for: dict[str, tuple], *, requests: int, warmup: int = 3) -> dict[str, Timing]:
    """Timings of several pages, {name: (client, path)}, requested in turn, round after round:
    the machine's speed drifts (a shared host, CPU frequency), and interleaving makes every page
    meet the same drift, so their ratios to the floor page hold within the run."""
    for client, path in requests_for.values():
        for _ in range(warmup):
            fetch(client, path)
    samples: dict[str, list[float]] = {name: [] for name in requests_for}
    for _ in range(requests):
        for name, (client, path) in requests_for.items():
            started = time.perf_counter()
            fetch(client, path)
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: Timing(statistics.median(values), percentile(values, 0.95), len(values))
            for name, values in samples.items()}
