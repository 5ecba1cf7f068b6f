"""Fixtures shared by the integration and browser suites (unit tests need none of them)."""
from __future__ import annotations

import gc
import itertools
import os
import re
import sqlite3
import time
from copy import deepcopy
from dataclasses import asdict
from datetime import date
from html import unescape
from pathlib import Path

import pyotp
import pytest
from flask import session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ketamine_integration import create_app, register_listeners
from ketamine_integration.accounts import second_step
from ketamine_integration.accounts.services import fetch_user_by_username
from ketamine_integration.accounts.sessions import ENROL_DUE, SIGNED_IN, start_session
from ketamine_integration.audit import services as audit
from ketamine_integration.extensions import db
from ketamine_integration.protocols.services import current_library
from ketamine_integration.protocols.techniques import current_vocabulary

from . import clinic_day
from .databases import (PostgresDatabases, RunBuilds, SQLiteDatabases, app_settings, build_demo_in_background,
                        drop_run_databases, postgres_admin_url, postgres_unavailable_reason, use_template_cache)
from .factories import Factories
from .figures import BOOK, SIZE, Figure

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The tests' "today" (date.today(), in the factories and many tests) is the clinic's today: the
# process keeps the clinic's zone (the default CLINIC_TIMEZONE), so between midnight UTC and
# midnight in New York a test does not write a session "tomorrow" that the app, counting in clinic
# time, refuses as in the future.
os.environ["TZ"] = "America/New_York"
time.tzset()
PASSWORD = "correct horse battery staple"


def sqlite_without_fsync(dbapi_connection, connection_record):
    """Test databases on SQLite write without waiting for the disk (PRAGMA synchronous=OFF, after
    the app's own pragmas set NORMAL): a test database never outlives a machine's crash, as the
    PostgreSQL ones commit without waiting for the WAL flush (databases.py). At NORMAL the last
    connection's close checkpoints the write-ahead log with an fsync: the app fixture closes its
    connections after every test (for the next test's copy of the template), 18 ms a test on the
    shared machine's disk (cProfile: 131 closes, 2.4 s). Processes the tests start (gunicorn, the
    worker command) keep the app's setting; a SIGKILL (the crash test) loses nothing either way."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


# The app's listeners first (attached once per process), so this one runs after its pragmas.
register_listeners()
event.listen(Engine, "connect", sqlite_without_fsync)


#: KI_ALL_ENGINES=1 runs every database test on both engines (`make test-all-engines` runs the
#: PostgreSQL half that `make test` leaves out; CI runs both targets)
ALL_ENGINES = os.environ.get("KI_ALL_ENGINES", "").lower() in ("1", "true", "yes")
ENGINES = ("sqlite", "postgresql")


def pytest_configure(config):
    # The suite's heap (the reused apps, their compiled templates and SQL, the collected tests) is
    # large and lives all run; at the collector's default thresholds each test's short-lived objects
    # set off collections that scan it again and again: 15-18 % of a worker's CPU, measured with
    # gc.callbacks on four integration files. Collected much less often (and the long-lived part
    # frozen, below), the same files spend about a quarter of that time collecting, for about 16 MB
    # more memory per process.
    gc.set_threshold(50_000, 20, 100)


def pytest_sessionstart(session):
    # Every app of the run, in every xdist worker, compiles a template once (tests/databases.py).
    use_template_cache(run_builds(session.config._tmp_path_factory, session.config).compiled_templates)


def freeze_long_lived() -> None:
    """Move everything alive now out of the collector's sight (it lives all run anyway)."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    start_postgres_demo(session)
    freeze_long_lived()


def pytest_generate_tests(metafunc):
    """Which engines a database test runs on: both when it is marked `both_engines` (its
    behaviour depends on the engine: locks, triggers, raw SQL, migrations, backups,
    concurrency, statement counts...) or KI_ALL_ENGINES is set; otherwise SQLite alone."""
    if "databases" in metafunc.fixturenames:
        both = ALL_ENGINES or metafunc.definition.get_closest_marker("both_engines") is not None
        metafunc.parametrize("databases", ENGINES if both else ENGINES[:1], indirect=True, scope="session")


def pytest_addoption(parser):
    parser.addoption("--engine", choices=ENGINES, default=None,
                     help="run only the database tests on this engine (`make test-all-engines`: "
                          "with KI_ALL_ENGINES=1 -m 'not both_engines' --engine postgresql, the "
                          "PostgreSQL half that `make test` leaves out)")


def pytest_collection_modifyitems(config, items):
    engine = config.getoption("engine")
    if engine:
        on_engine = [getattr(i, "callspec", None) is not None and i.callspec.params.get("databases") == engine
                     for i in items]
        config.hook.pytest_deselected(items=[i for i, keep in zip(items, on_engine) if not keep])
        items[:] = [i for i, keep in zip(items, on_engine) if keep]


#: the process building the run's PostgreSQL demo clinic, if this one started it
DEMO_BUILDER = pytest.StashKey["subprocess.Popen | None"]()


def start_postgres_demo(session) -> None:
    """The run's PostgreSQL demo clinic starts building now if a test selected to run needs it
    (build_demo_in_background: the first worker to get here starts it)."""
    config = session.config
    if config.option.collectonly or not any(needs_postgres_demo(item) for item in session.items):
        return
    if postgres_unavailable_reason() is None:
        config.stash[DEMO_BUILDER] = build_demo_in_background(run_builds(config._tmp_path_factory, config))


def needs_postgres_demo(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return (item.get_closest_marker("demo_clinic") is not None and callspec is not None
            and callspec.params.get("databases") == "postgresql")


def stop_postgres_demo(session) -> None:
    """Wait for the demo's builder this process started (a test of the run needed the demo: it is
    done by now unless the run was cut short, when there is no point finishing it)."""
    builder = session.config.stash.get(DEMO_BUILDER, None)
    if builder is not None:
        if session.shouldstop or session.shouldfail or session.exitstatus == pytest.ExitCode.INTERRUPTED:
            builder.terminate()
        builder.wait()


@pytest.fixture(scope="session")
def engine_databases(request, tmp_path_factory):
    """Each engine's databases, made on first use and kept for the whole run (one set per xdist
    worker; what is built once per run is in RunBuilds).

    Held here rather than in `databases`: pytest finalizes a parametrized session fixture each
    time the engine changes between two tests (xdist hands a worker tests in any order), and
    making the database and compiling its app again each time would cost more than the tests."""
    made, unavailable = {}, {}
    builds = run_builds(tmp_path_factory, request.config)

    def get(engine: str):
        if engine == "postgresql" and engine not in made:
            unavailable.setdefault(engine, postgres_unavailable_reason())
            if unavailable[engine]:
                if IN_CI:
                    pytest.fail(f"CI must run the PostgreSQL suite: {unavailable[engine]}")
                pytest.skip(unavailable[engine])
        if engine not in made:
            made[engine] = (SQLiteDatabases(tmp_path_factory.mktemp("sqlite"), builds) if engine == "sqlite"
                            else PostgresDatabases(postgres_admin_url(), builds))
            made[engine].reused_app = None
        return made[engine]
    yield get
    for dbs in made.values():
        if dbs.reused_app is not None:
            close_app(dbs.reused_app)
        dbs.close()


def run_builds(tmp_path_factory, config) -> RunBuilds:
    """The run's shared builds: in the run's base temporary directory, which holds each xdist
    worker's own (so the controller finds them too, see pytest_sessionfinish)."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    base = tmp_path_factory.getbasetemp()
    return RunBuilds(base.parent if worker else base, worker or "main")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Module dates taken relative to today (tests/clinic_day.py) made again once the run has crossed
    midnight in the clinic's zone: before any fixture of the test is set up (module- and session-scoped
    ones included), so the test and all its fixtures see the same day the app does."""
    clinic_day.catch_up()


#: numbers this process's test folders (tmp_path below)
_TEST_FOLDERS = itertools.count(1)


@pytest.fixture
def tmp_path(request, tmp_path_factory) -> Path:
    """A new empty folder for the test, in the run's base temporary directory (each xdist worker's
    own), named by a number and the test's name, as pytest's own tmp_path names it but for the number.

    pytest's numbers each test's folder by listing the whole base directory for the highest number
    so far: the app fixture asks for one in every test, so a worker lists up to 2,700 entries per test
    by the end of a run (1.8 ms a test then). A counter of the process's own does it in one mkdir.
    Folders are kept as pytest keeps them by default (the last three runs; the suite sets no
    tmp_path_retention_policy, whose "failed" this fixture would not apply)."""
    name = re.sub(r"\W", "_", request.node.name)[:30]
    path = tmp_path_factory.getbasetemp() / f"t{next(_TEST_FOLDERS):05d}-{name}"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="session")
def databases(request, engine_databases):
    """The engine under test (see pytest_generate_tests for which tests run on which)."""
    return engine_databases(request.param)


def close_app(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class SavedState:
    """What a test may change on the reused app (settings, per-app caches), put back after it."""

    def __init__(self, app):
        self.app = app
        self.config = dict(app.config)
        # Plain dicts (access rules, the protocol library cache) are copied; extension objects kept.
        self.extensions = {name: dict(value) if type(value) is dict else value
                           for name, value in app.extensions.items()}

    def restore(self) -> None:
        self.app.config.clear()
        self.app.config.update(self.config)
        self.app.extensions.clear()
        self.app.extensions.update(self.extensions)


@pytest.fixture
def app(request, databases, tmp_path):
    """The app on an emptied database of the engine under test.

    One app per engine is reused: its templates and SQL compile once, not per test. Its
    database is reset and its settings and caches restored around each test. A test marked
    `fresh_app` (it registers routes, which a used app refuses) gets an app of its own; one
    marked `demo_clinic` starts from a copy of the demo clinic, built once per engine per run.
    """
    demo = request.node.get_closest_marker("demo_clinic") is not None
    if request.node.get_closest_marker("fresh_app"):
        yield from own_app(databases.fresh(), tmp_path)
    else:
        if databases.reused_app is None:
            databases.reused_app = create_app(app_settings(databases.shared_url))
            read_data_files(databases.reused_app)
            freeze_long_lived()
        app = databases.reused_app
        if demo:
            databases.load_demo()
        else:
            databases.reset_shared()
        saved = SavedState(app)
        app.instance_path = str(tmp_path)
        app.extensions[WORLDS] = databases
        try:
            yield app
        finally:
            close_app(app)
            saved.restore()


def read_data_files(app) -> None:
    """Read the shipped data files (the protocols, the forms they name, the technique vocabulary) into
    a reused app's cache before the state each test gets back is saved: once, not in every test that
    uses them (the cache still re-reads a file that changed)."""
    with app.app_context():
        current_library()
        current_vocabulary()


#: where a test's reused app keeps its engine's databases, for reused_world
WORLDS = "ki_test_worlds"


def reused_world(app, name: str, build, *, engines: tuple[str, ...] = ENGINES):
    """build()'s result, and the database as build() left it. build() runs once per engine per
    xdist worker; the database it made is kept as a snapshot (databases.py), which later calls load
    in place of building again (a file copy on SQLite; on PostgreSQL its rows, written back into the
    emptied database by COPY). For worlds made from the empty database through the app's own forms,
    which cost seconds each: the suites that all start from the same one. The result must name rows by
    id and hold no ORM objects (the app's connections are closed around the snapshot). An app of its
    own (fresh_app) builds every time, as does an engine not in `engines`."""
    databases = app.extensions.get(WORLDS)
    if databases is None or databases.name not in engines:
        return build()
    worlds = databases.__dict__.setdefault("worlds", {})
    if name not in worlds:
        result = build()
        close_app(app)
        databases.save_snapshot(name)
        worlds[name] = result
    else:
        close_app(app)
        databases.load_snapshot(name)
    return worlds[name]


def todays_world(app, name: str, build, *, engines: tuple[str, ...] = ENGINES):
    """reused_world for a world built around today's clinic date (the process keeps the clinic's zone):
    named for the day, so a run that crosses midnight builds it again rather than loading yesterday's;
    returned as a deep copy, which the test may change without changing what the next test loads."""
    return deepcopy(reused_world(app, f"{name}-{date.today()}", build, engines=engines))


def downgraded_world(app, name: str, revision: str, build, *, by_day: bool = False):
    """build()'s result, with the database then downgraded to `revision` and the rows build() made in
    it: what a migration test starts from. Downgraded once per worker on SQLite (by day when `by_day`:
    todays_world) and loaded from its snapshot after, a file copy of the schema and rows as the
    downgrade left them; anew on PostgreSQL, whose snapshots write rows back into the current schema."""
    from flask_migrate import downgrade

    def built():
        result = build()
        with app.app_context():
            db.session.remove()  # its transaction would hold SQLite's write lock through the migration
            downgrade(revision=revision)
        return result
    return (todays_world if by_day else reused_world)(app, name, built, engines=("sqlite",))


def own_app(database_uri: str, tmp_path):
    app = create_app(app_settings(database_uri))
    app.instance_path = str(tmp_path)
    try:
        yield app
    finally:
        close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    return Factories(app, PASSWORD)


def csrf_token(app, client) -> str:
    """A CSRF token for the client's current session, issued by Flask-WTF itself.

    Read in a request carrying the client's session cookie; the session is written back to the
    client only when generate_csrf made its secret (the first form after a sign-in). Every form a
    test posts asks for one: opening and saving the client's session each time cost 0.77 ms a
    token, reading it 0.29 ms."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    with app.test_request_context(headers={"Cookie": f"{name}={cookie.value}"} if cookie is not None else {}):
        token = generate_csrf()
        if not session.modified:
            return token
        made = dict(session)
    with client.session_transaction() as client_session:
        client_session.update(made)  # keeps the secret generate_csrf created
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

    def sign_in(self, username: str) -> None:
        """Be signed in as `username` (enrolled, active) without driving the two sign-in forms:
        the app's own start_session opens the login session and its "login.success" row is
        audited, as at the end of a real sign-in; the cookie the client holds is that session's.

        For tests whose subject is what comes after sign-in: it skips the password check, the
        code step and the limits, which the sign-in tests (test_sessions, test_mfa,
        test_login_throttle, the guessing suites...) drive through `login`. A sign-in was a
        tenth of the suite's time."""
        with self.app.test_request_context("/login/code", method="POST"):  # the client's address and agent
            user = fetch_user_by_username(username)
            assert user is not None and user.active, f"no active user {username!r} to sign in"
            # a user still to enrol would be sent to enrolment: `login` drives that
            assert second_step.current().stage_for(user) != ENROL_DUE, f"{username} must enrol first: use login"
            start_session(user, SIGNED_IN)
            audit.record("login.success", obj=user, user_id=user.id)
            db.session.commit()
            signed_in = dict(session)
            db.session.remove()
        with self.client.session_transaction() as client_session:
            client_session.clear()
            client_session.update(signed_in)

    def portal_sign_in(self, account_id: int, client=None) -> None:
        """Be signed in to the patient portal as this account (accepted and enrolled) without driving
        the sign-in forms: the portal's own start_portal_session, signed in, as at the end of a real
        sign-in (tests/integration/test_portal_sign_in.py drives the forms). `client`: another test
        client than this Auth's (a patient beside a signed-in clinician)."""
        from ketamine_integration.portal.models import SIGNED_IN as PORTAL_SIGNED_IN, PortalAccount
        from ketamine_integration.portal.sessions import start_portal_session

        with self.app.test_request_context("/portal/code", method="POST"):
            account = db.session.get(PortalAccount, account_id)
            assert account is not None and account.active and account.second_factor, "an enrolled account"
            start_portal_session(account, PORTAL_SIGNED_IN)
            audit.record("portal.sign_in", obj=account, patient_id=account.patient_id, portal_account_id=account.id)
            db.session.commit()
            signed_in = dict(session)
            db.session.remove()
        with (client or self.client).session_transaction() as client_session:
            client_session.update(signed_in)

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

    def end_course(self, course_id: int, data: dict):
        """Complete or discontinue a course as a person would: post the phase form, read the page
        of what that cancels, confirm it (the confirmation carries the preview's fingerprint).
        Returns the confirmation's response (or the first one, when no preview came back)."""
        url = f"/courses/{course_id}/phase"
        preview = self.post(url, data)
        found = re.search(r'name="reviewed"[^>]*value="([0-9a-f]{16})"', preview.get_data(as_text=True))
        if preview.status_code != 200 or found is None:
            return preview
        return self.post(url, {**data, "reviewed": found.group(1)})


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


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist: a worker's figures join the controller's book, which prints them."""
    BOOK.figures.extend(Figure(**figure) for figure in getattr(node, "workeroutput", {}).get("figures", []))
    # Workers finish in any order: one suite's figures stay together, in the order recorded.
    BOOK.figures.sort(key=lambda figure: figure.suite)


@pytest.hookimpl(trylast=True)  # after the session fixtures closed their connections
def pytest_sessionfinish(session):
    stop_postgres_demo(session)
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the figures over
        session.config.workeroutput["figures"] = [asdict(figure) for figure in BOOK.figures]
    else:  # the controller, or the only process: the workers are done with the run's databases
        # xdist's controller reads the same private attribute to give each worker its basetemp
        drop_run_databases(run_builds(session.config._tmp_path_factory, session.config), postgres_admin_url())


def pytest_terminal_summary(terminalreporter):
    if BOOK.figures:
        terminalreporter.section(f"security and reliability figures (size: {SIZE})")
        for line in BOOK.lines():
            terminalreporter.write_line(line)
