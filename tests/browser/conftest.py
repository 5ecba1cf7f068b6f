"""Fixtures for the browser suite: Debian's Chromium via Playwright, and the app served live per test."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from ketamine_integration import create_app
from ketamine_integration.extensions import db
from tests.conftest import IN_CI, PASSWORD, Auth, SavedState, close_app, read_data_files, run_builds
from tests.databases import SQLiteDatabases, app_settings
from tests.factories import Factories

BROWSER_DIR = Path(__file__).resolve().parent
#: Debian's Chromium, the browser (package chromium), in its headless mode: what `make screenshots` draws with
CHROMIUM = Path("/usr/bin/chromium")
#: Debian's Chromium headless shell (package chromium-headless-shell: the same source and version as the
#: browser, built as Chromium's headless shell, the one Playwright itself runs for headless tests), which
#: the suite drives when it is installed (`make browser-deps` installs both as root). The same Blink lays
#: out, scripts and checks the pages; it leaves out the browser's user interface, and its
#: processes cost less: the browser suite alone, two interleaved pairs of runs, 201 and 272 s of busy
#: CPU against 341 and 378 s with the browser (109 and 145 s of wall time against 179 and 198 s).
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")


def suite_chromium() -> Path:
    """The Chromium the browser suite drives: the headless shell when installed, else the browser."""
    return HEADLESS_SHELL if HEADLESS_SHELL.exists() else CHROMIUM


# The test machines have no network: without these Chromium keeps dialling Google services,
# and those refused connections only slow it down and clutter its logs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # V8's baseline compiler (Sparkplug) and no optimising tiers: the pages' scripts and axe-core run
    # once per page, so Maglev and TurboFan compile code that never runs long enough to pay back (the
    # accessibility pass over a role's first 25 key pages, four interleaved pairs of runs: 19.8 s of
    # Chromium CPU with them, 17.2 s without; axe.run alone 10.5 s against 8.1 s). JavaScript means
    # the same at every tier.
    "--js-flags=--max-opt=1",
]
DEFAULT_TIMEOUT_MS = 10_000
#: the window of a desktop screen, in which a tab opens
DESKTOP = {"width": 1280, "height": 800}
#: the live servers of running tests by origin, so sign_in(page, ...) can reach the app's database
_LIVE_SERVERS: dict[str, "LiveServer"] = {}


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected item, not only ours, so mark by location.
    for item in items:
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_browser():
    executable = suite_chromium()
    if not executable.exists():
        if IN_CI:
            pytest.fail(f"CI must run the browser suite, but Chromium is at neither {HEADLESS_SHELL} nor {CHROMIUM}")
        pytest.skip(f"Chromium not found at {HEADLESS_SHELL} nor {CHROMIUM}; install Debian's "
                    "chromium-headless-shell package (make test does this as root)")
    # Imported here so the rest of the suite does not need Playwright to be importable.
    from playwright.sync_api import expect, sync_playwright

    # One patience for everything: page actions (set per context below) and expect().
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def browser_databases(request, tmp_path_factory):
    """The run's migrated SQLite template; each test starts from a copy of it."""
    dbs = SQLiteDatabases(tmp_path_factory.mktemp("browser-sqlite"), run_builds(tmp_path_factory, request.config))
    yield dbs
    dbs.close()


@dataclass
class LiveServer:
    url: str
    app: Flask
    make: Factories


@contextmanager
def serving(app: Flask, port: int = 0):
    """The app over HTTP on `port` (a free one when 0, or when `port` is taken) until the block ends;
    yields the LiveServer."""
    # threaded: Chromium opens several connections at once (page, stylesheet, favicon).
    try:
        server = make_server("127.0.0.1", port, app, threaded=True)
    except OSError:  # the port another process took meanwhile: any free one (the tab follows, see SharedTab)
        server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits up to one interval, and every test pays it.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    live = LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, make=Factories(app, PASSWORD))
    _LIVE_SERVERS[live.url] = live
    try:
        yield live
    finally:
        _LIVE_SERVERS.pop(live.url, None)
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def live_app(browser_databases, tmp_path, **settings) -> Flask:
    """A fresh app on its own copy of the migrated database (settings override the test defaults)."""
    app = create_app({**app_settings(browser_databases.fresh()), **settings})
    app.instance_path = str(tmp_path)
    return app


@pytest.fixture(scope="session")
def browser_app(browser_databases):
    """One app for the live servers of the run (per xdist worker): templates compile once, the data
    files are read once."""
    app = create_app(app_settings(browser_databases.shared_url))
    read_data_files(app)
    yield app
    close_app(app)


@pytest.fixture(scope="session")
def live_port() -> list[int]:
    """The port this worker's live servers listen on, one after the other: the same one test after test,
    so that the shared tab (SharedTab) stays on one origin; it changes only when another process took it."""
    return [0]


@pytest.fixture
def live_server(browser_databases, browser_app, tmp_path, live_port):
    """The real app over HTTP on a local port, on an emptied database (the previous test's server
    closed its connections), its settings restored afterwards. The app is the worker's one
    browser_app, so a request arriving over a connection the previous test's server accepted is
    answered by the same app on this test's database."""
    browser_databases.reset_shared()
    saved = SavedState(browser_app)
    browser_app.instance_path = str(tmp_path)
    try:
        with serving(browser_app, live_port[0]) as live:
            live_port[0] = urlsplit(live.url).port
            yield live
    finally:
        saved.restore()


#: a document of the live servers' origin that runs no script (SharedTab.reset)
STYLESHEET = "/static/style.css"


class SharedTab:
    """One browser tab a worker's tests use one after the other, on the live servers' one origin.

    A new context per test cost Chromium a new renderer process each time: 1.1 s of its CPU for a test of
    three page loads, against 0.43 s in a tab kept open (ten such tests, four rounds, a small static
    page); the 72 browser tests outside the accessibility pass and the XSS crawl, one process: 107 s and
    119 s of Chromium CPU before, 59 s and 58 s after (before reset visited the stylesheet, a navigation
    more a test). What a test leaves behind is taken away after it (reset): the cookies (the session), the
    origin's local and session storage, granted permissions, routes, the listeners it added, extra pages,
    viewport, emulated media and timeouts; the tab then goes to about:blank, which stops the page's
    scripts, and the mouse to the corner (the HTTP cache stays: the static files, the same for every
    test). Anything else (the tab not on the origin at the end, a fake clock installed, which stays with
    the context, a reset that fails) closes the context: the next test gets a new one."""

    def __init__(self, browser):
        self.browser, self.origin, self.context, self.page = browser, None, None, None

    def on(self, origin: str):
        """The tab, in a context whose base URL is `origin` (a new context when the origin changed)."""
        if origin != self.origin:
            self.close()
            self.context = self.browser.new_context(viewport=DESKTOP, base_url=origin)
            self.context.set_default_timeout(DEFAULT_TIMEOUT_MS)
            self.page, self.origin = self.context.new_page(), origin
        return self.page

    def listeners(self) -> dict:
        """The listeners on the tab's page now (Playwright's event emitter under the sync API)."""
        emitter = self.page._impl_obj
        return {event: list(emitter.listeners(event)) for event in emitter.event_names()}

    def reset(self, kept_listeners: dict) -> None:
        page, context = self.page, self.context
        try:
            if page.is_closed() or not page.url.startswith(self.origin + "/"):
                raise RuntimeError("the tab left the origin")
            if page.evaluate("() => Date.isFake === true"):  # page.clock: its scripts stay with the context
                raise RuntimeError("the test installed a fake clock")
            for event, listeners in self.listeners().items():
                for listener in listeners:
                    if listener not in kept_listeners.get(event, ()):
                        page._impl_obj.remove_listener(event, listener)
            page.unroute_all(behavior="ignoreErrors")
            for other in context.pages:
                if other is not page:
                    other.close()
            # a document of the origin that runs no script (the test's page's deferred scripts could
            # write storage after it was cleared), where the origin's storage is cleared; then a blank tab
            page.goto(self.origin + STYLESHEET)
            page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
            page.goto("about:blank")
            page.mouse.move(0, 0)  # no hover left on what the next test's page draws there
            context.clear_cookies()
            context.clear_permissions()
            page.set_viewport_size(DESKTOP)
            page.emulate_media(media="null")
            page.set_default_timeout(DEFAULT_TIMEOUT_MS)
            page.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        except Exception:  # noqa: BLE001 - whatever went wrong, the next test gets a new context
            self.close()

    def close(self) -> None:
        if self.context is not None:
            try:
                self.context.close()
            finally:
                self.context, self.page, self.origin = None, None, None


@pytest.fixture(scope="session")
def shared_tab(chromium_browser):
    tab = SharedTab(chromium_browser)
    yield tab
    tab.close()


@pytest.fixture
def page(shared_tab, live_server):
    """A browser tab with no cookies, storage or permissions of an earlier test, on the live server's
    origin (SharedTab: the worker's tab, reset after each test).

    Depends on live_server so that the tab has left the server's pages before the server stops.
    """
    page = shared_tab.on(live_server.url)
    kept = shared_tab.listeners()
    try:
        yield page
    finally:
        shared_tab.reset(kept)


def sign_in(page, username: str, password: str = PASSWORD, *, at: str = "/") -> None:
    """Be signed in as `username` and on the home page, or on the page `at` names (a test whose
    first step is another page goes there directly, not through the home page first): the session
    is opened as Auth.sign_in opens it (the app's own start_session, audited) and its cookie handed
    to the browser, which then loads the page. For tests whose subject is what comes after sign-in;
    the sign-in pages themselves are driven by sign_in_with_forms (test_mfa_browser). `password` is
    not checked."""
    from playwright.sync_api import expect

    _session_to_browser(page, lambda auth: auth.sign_in(username))
    response = page.goto(at)
    # the page itself, signed in: not the sign-in form it would redirect to without the session
    assert response is not None and response.ok and urlsplit(page.url).path != "/login", \
        f"signed in as {username}, {at} answered {response and response.status} at {page.url}"
    if at == "/":
        expect(page.get_by_role("heading", level=1, name=re.compile(r"^Good to see you"))).to_be_visible()


def sign_in_patient(page, account_id: int) -> None:
    """Be signed in to the patient portal as this (enrolled) account and on its home page: the
    portal session opened as Auth.portal_sign_in opens it, its cookie handed to the browser."""
    from playwright.sync_api import expect

    _session_to_browser(page, lambda auth: auth.portal_sign_in(account_id))
    page.goto("/portal/")
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Hello, "))).to_be_visible()


def _session_to_browser(page, open_session) -> None:
    """Open a session with `open_session(auth)` on a test client of the page's live server (the
    app's own sign-in services, audited) and hand its cookie to the browser."""
    live = _live_server_of(page)
    auth = Auth(live.app, live.app.test_client())
    open_session(auth)
    cookie = auth.client.get_cookie(live.app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live.url, "httpOnly": True,
                               "sameSite": "Lax"}])


def _live_server_of(page) -> "LiveServer":
    """The live server the page is on (or, on a blank page, the only one running, else its base URL's)."""
    if not page.url.startswith("http"):
        if len(_LIVE_SERVERS) == 1:
            return next(iter(_LIVE_SERVERS.values()))
        page.goto("/login")
    parts = urlsplit(page.url)
    return _LIVE_SERVERS[f"{parts.scheme}://{parts.netloc}"]


def sign_in_with_forms(page, username: str, password: str = PASSWORD) -> None:
    """Use the real forms, as a person would: the password, then the authenticator code (computed
    from the test users' known secret), and wait for the home page."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^(Good to see you|Enter your code)"))).to_be_visible()
    if page.get_by_role("heading", level=1, name="Enter your code").is_visible():
        make = _live_server_of(page).make
        with make.code_step_lock:
            page.get_by_label("Code", exact=True).fill(make.totp_code(username))
            page.get_by_role("button", name="Continue").click()
            expect(page.get_by_role("heading", level=1, name=re.compile(r"^Good to see you"))).to_be_visible()


def main_menu(page):
    """The header's main menu, opened first where a narrow screen folds it behind "Menu" (as a
    person on a phone would); the deferred menu script has run once the page has loaded."""
    page.wait_for_load_state()
    button = page.get_by_role("button", name="Menu", exact=True)
    if button.is_visible() and button.get_attribute("aria-expanded") == "false":
        button.click()
    return page.get_by_role("navigation", name="Main")


def start_an_integration_note(live_server, page, family_name: str, *, session_date=None) -> int:
    """A therapist ("ther", Hazel Quint) and a prescriber on a patient's course in integration; the
    therapist signs in and starts an integration note from the course page (dated `session_date`
    when given). Returns the course's id."""
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name=family_name), therapist, prescriber, phase="integration")
    sign_in(page, "ther", at=f"/courses/{course}")
    page.get_by_label("Note", exact=True).select_option("integration")
    if session_date is not None:
        page.get_by_label("Session date").fill(session_date.isoformat())
    page.get_by_role("button", name="Start a note").click()
    return course
