"""Two-step sign-in under attack: guessing codes, replaying one, and walking the app half-signed-in.

Figures (printed after the run): wrong codes each pending session answered before it ended,
codes accepted by guessing, how many of N racing tabs one code let in, and how many pages a
half-signed-in session reached.
"""
import re
import threading

import pytest

from ketamine_integration.web import access
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.mfa import totp
from tests.conftest import Auth
from tests.factories import TOTP_SECRET
from tests.figures import sized

# On SQLite and PostgreSQL: racing requests for one code: row locks per engine.
pytestmark = pytest.mark.both_engines

SUITE = "MFA guessing and replay"


def _engine(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def _surely_wrong_codes(count: int) -> list[str]:
    """Codes that are wrong for every step the server could accept while the test runs."""
    now = totp.step_at(utcnow())
    valid = {totp.code_for_step(TOTP_SECRET, s) for s in range(now - 2, now + 40)}
    return [c for c in (f"{n:06d}" for n in range(0, 999_999, 7919)) if c not in valid][:count]


def test_guessing_codes_ends_the_session_after_five_and_limits_the_account(make, app, figures):
    """Wrong codes count twice: against the sign-in (5 end it) and as failed sign-ins of the
    account, and the code step is refused (429, no code checked) once the account is over its
    limit. So sign-ins opened beforehand, all with the right password, buy no fresh guesses
    between them: the account's limit bounds the codes checked, however many are open."""
    make.user("therapist", username="ther")
    attempts, per_session, accepted, checked, refused = sized(8, 80), 8, 0, 0, 0
    guesses = iter(_surely_wrong_codes(attempts * per_session))
    tabs = []
    for _ in range(attempts):  # every sign-in opened first, while the account's count is still 0
        tab = Auth(app, app.test_client())
        assert tab.post("/login", {"username": "ther", "password": "correct horse battery staple"}
                        ).headers["Location"] == "/login/code"
        tabs.append(tab)
    for tab in tabs:
        for _ in range(per_session):
            answer = tab.post("/login/code", {"code": next(guesses)})
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) > 0 and "Sign-in is paused" in answer.get_data(as_text=True)
                refused += 1
                break
            checked += 1
            if answer.headers["Location"] == "/":
                accepted += 1
            if answer.headers["Location"] != "/login/code":
                break  # the session ended (5 wrong codes)
    again = Auth(app, app.test_client()).post("/login", {"username": "ther", "password": "correct horse battery staple"})
    limit = app.config["LOGIN_ACCOUNT_LIMIT"]
    assert accepted == 0 and checked == limit and refused == attempts - 1 and again.status_code == 429
    figures.record(SUITE, "wrong codes checked before the account was limited",
                   f"{checked} over {attempts} sign-ins opened beforehand (account limit {limit}; then every code "
                   f"step and the password step refused with 429; {accepted} accepted)", engine=_engine(app))


def test_a_passed_code_step_clears_the_accounts_count(make, app):
    """Someone who fumbles a code and then types the right one is not held to those failures
    at the next sign-in: passing both steps ends the account's count, as a password alone did."""
    make.user("therapist", username="ther")
    wrong = iter(_surely_wrong_codes(9))
    for _ in range(3):
        tab = Auth(app, app.test_client())
        assert tab.post("/login", {"username": "ther", "password": "correct horse battery staple"}
                        ).headers["Location"] == "/login/code"
        for _ in range(3):  # 3 + 3 wrong codes: the third password would be refused had they all counted
            assert tab.post("/login/code", {"code": next(wrong)}).headers["Location"] == "/login/code"
        assert tab.post("/login/code", {"code": make.totp_code("ther")}).headers["Location"] == "/"


def test_one_code_sent_by_racing_tabs_lets_exactly_one_in(make, app, figures):
    make.user("staff", username="desk")
    tabs_count = sized(4, 12)
    tabs = [Auth(app, app.test_client()) for _ in range(tabs_count)]
    for tab in tabs:
        tab.post("/login", {"username": "desk", "password": "correct horse battery staple"})
    code = totp.code_for_step(TOTP_SECRET, totp.step_at(utcnow()) + 1)
    results, barrier = [], threading.Barrier(tabs_count)

    def send(tab):
        barrier.wait(30)
        results.append(tab.post("/login/code", {"code": code}).headers["Location"])
    threads = [threading.Thread(target=send, args=(tab,)) for tab in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # exactly one tab signed in; every other was sent back to the code step (the code was used)
    assert sorted(results) == ["/"] + ["/login/code"] * (tabs_count - 1)
    figures.record(SUITE, "tabs racing one code / signed in", f"{tabs_count} / {results.count('/')}",
                   engine=_engine(app))


def test_a_half_signed_in_session_reaches_no_page(make, app, auth, client, figures):
    make.user("admin", username="boss")
    patient = make.patient(family_name="Unreachable")
    auth.post("/login", {"username": "boss", "password": "correct horse battery staple"})
    requested, reached = 0, []
    for rule in app.url_map.iter_rules():
        found = access.rule_for(app, rule.endpoint)
        # the patient portal's pages answer to portal sessions only (a staff session, whole or half,
        # is sent to the portal's sign-in: tests/security/test_portal_matrix.py); the clinic tablet's to a live
        # in-clinic signing only (any other browser is refused: test_a_tablet_page_without_a_signing_is_refused)
        if ("GET" not in rule.methods or found.public or found.during_sign_in or found.portal is not None
                or found.tablet):
            continue
        numeric = {name for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule)
                   if converter in ("id", "int")}
        url = rule.build({arg: patient if arg in numeric else "x" for arg in rule.arguments})[1]
        response = client.get(url)
        requested += 1
        if response.status_code != 302 or response.headers["Location"] != "/login/code":
            reached.append((url, response.status_code))
    assert reached == [] and requested >= 30
    figures.record(SUITE, "pages requested half-signed-in / reached", f"{requested} / {len(reached)}",
                   engine=_engine(app))
