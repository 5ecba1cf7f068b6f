"""Sign-in brute-force limits: per account and per address, counted in the shared database."""
import json
import re
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from sqlalchemy import func, select

from ketamine_integration import create_app
from ketamine_integration.accounts.models import LoginFailure, LoginSession
from ketamine_integration.extensions import db
from tests.conftest import PASSWORD, Auth, page_text
from tests.databases import app_settings

# The counting rules are the same SQL on both engines, and so is one count shared by two instances or
# processes taking turns (SQLite in `make test`, PostgreSQL in `make test-all-engines`); guesses at once
# are serialised by an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite: marked `both_engines`.

WRONG = "not the password at all"
PROJECT = Path(__file__).resolve().parents[2]


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _fail(auth, username: str, times: int, address: str = "10.0.0.1") -> list[int]:
    return [auth.login(username, WRONG, **_from(address)).status_code for _ in range(times)]


def _age_failures(make, delta: timedelta) -> None:
    """Move every counted failure back in time, as if `delta` had passed."""
    def shift():
        for row in db.session.scalars(select(LoginFailure)):
            row.failed_at -= delta
    make.run(shift)


def _sessions(make) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(LoginSession)))


def _password_checks(make, action="login.failure") -> int:
    return len(make.audit_rows(action=action))


def test_five_failures_pause_the_account_even_for_the_right_password(make, auth):
    make.user("staff", username="desk")
    # from five different addresses: the account's own count is what stops them
    assert [auth.login("desk", WRONG, **_from(f"10.0.0.{n}")).status_code for n in range(5)] == [422] * 5
    refused = auth.login("desk", PASSWORD, **_from("10.9.9.9"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert ("Too many failed sign-in attempts for this account. Sign-in is paused: try again in 1 minute."
            in page_text(refused))
    assert _sessions(make) == 0
    [row] = make.audit_rows(action="login.limited")
    assert (row.outcome, row.detail, row.ip) == ("denied", "too many failed sign-ins from this account", "10.9.9.9")
    assert row.user_id is not None
    # other accounts are untouched
    make.user("therapist", username="ther")
    assert auth.login("ther", **_from("10.0.0.1")).status_code == 302


def test_fifty_failures_from_one_address_pause_that_address(make, auth, client):
    make.user("staff", username="desk")
    statuses = [auth.login(f"guess{n}", WRONG, **_from("203.0.113.7")).status_code for n in range(50)]
    assert statuses == [422] * 50  # 50 different accounts: no account reached its own limit
    refused = auth.login("desk", PASSWORD, **_from("203.0.113.7"))
    assert refused.status_code == 429 and "for this network address" in page_text(refused)
    assert make.audit_rows(action="login.limited")[0].detail == "too many failed sign-ins from this address"
    # the same account from another address signs in
    assert auth.login("desk", PASSWORD, **_from("198.51.100.2")).status_code == 302


def test_unknown_usernames_are_counted_and_answered_like_real_ones(make, auth):
    make.user("staff", username="desk")
    real, unknown = _fail(auth, "desk", 5), _fail(auth, "nobody-here", 5)
    assert real == unknown == [422] * 5
    answers = [auth.login(name, WRONG, **_from("10.0.0.1")) for name in ("desk", "nobody-here")]
    assert [a.status_code for a in answers] == [429, 429]
    assert page_text(answers[0]) == page_text(answers[1])  # nothing tells which name exists
    assert answers[0].headers["Retry-After"] == answers[1].headers["Retry-After"]


def test_the_typed_username_is_not_stored(make, auth):
    auth.login("my-secret-passphrase", WRONG)
    keys = make.query(lambda: db.session.scalars(select(LoginFailure.key)).all())
    assert sorted(k.split(":")[0] for k in keys) == ["account", "address"]
    assert not any("my-secret" in k for k in keys)


def test_a_success_clears_the_account_count_but_not_the_address_count(make, auth, app):
    make.user("staff", username="desk")
    assert _fail(auth, "desk", 4) == [422] * 4
    assert auth.login("desk", **_from("10.0.0.1")).status_code == 302
    auth.logout()
    assert _fail(auth, "desk", 4) == [422] * 4  # four more: a fresh count
    assert auth.login("desk", WRONG, **_from("10.0.0.1")).status_code == 422  # the fifth: pauses next
    assert auth.login("desk", **_from("10.0.0.2")).status_code == 429
    address_rows = make.query(lambda: db.session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.key == "address:10.0.0.1")))
    assert address_rows == 9


def test_the_pause_doubles_with_each_further_failure(make, auth):
    make.user("staff", username="desk")
    _fail(auth, "desk", 5)
    waits = []
    for _ in range(3):
        refused = auth.login("desk", PASSWORD)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        _age_failures(make, timedelta(seconds=wait + 1))  # the pause has passed...
        assert _fail(auth, "desk", 1) == [422]            # ...one more guess, then a longer pause
    assert [round(w / 60) for w in waits] == [1, 2, 4]


@pytest.mark.both_engines  # the window's comparison of stored instants
def test_failures_older_than_the_window_no_longer_count(make, auth):
    make.user("staff", username="desk")
    assert _fail(auth, "desk", 4) == [422] * 4
    _age_failures(make, timedelta(minutes=15))
    assert _fail(auth, "desk", 4) == [422] * 4  # the first four have left the window
    assert auth.login("desk", **_from("10.0.0.3")).status_code == 302


def test_no_pause_outlasts_the_window(make, auth):
    make.user("staff", username="desk")
    _fail(auth, "desk", 5)
    _age_failures(make, timedelta(seconds=61))
    _fail(auth, "desk", 4)  # three refused (paused), but...
    refused = auth.login("desk", PASSWORD)
    assert refused.status_code == 429
    # ...when the first five age out only one failure is left in the window
    assert int(refused.headers["Retry-After"]) <= 15 * 60 - 61 + 1


@pytest.mark.both_engines  # FOR UPDATE SKIP LOCKED on PostgreSQL
def test_old_rows_are_pruned_when_new_failures_arrive(make, auth):
    _fail(auth, "someone", 3)
    _age_failures(make, timedelta(minutes=16))
    _fail(auth, "someone-else", 1, address="10.0.0.9")
    keys = make.query(lambda: db.session.scalars(select(LoginFailure.key)).all())
    assert len(keys) == 2 and "address:10.0.0.9" in keys


def _second_app(app, **settings):
    """Another application instance, with its own engine and pool, on the same database."""
    return create_app({**app_settings(app.config["SQLALCHEMY_DATABASE_URI"]), **settings})


def test_two_app_instances_share_one_count(make, app, auth):
    make.user("staff", username="desk")
    other = _second_app(app)
    other_auth = Auth(other, other.test_client())
    try:
        for n in range(5):  # alternating between the two servers
            who = auth if n % 2 else other_auth
            assert who.login("desk", WRONG, **_from(f"10.1.0.{n}")).status_code == 422
        assert auth.login("desk").status_code == 429
        assert other_auth.login("desk").status_code == 429
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.both_engines  # advisory lock (PostgreSQL) vs BEGIN IMMEDIATE (SQLite)
def test_parallel_guesses_on_two_instances_cannot_slip_past_the_limit(make, app, auth):
    """Twelve guesses at once, half through each instance: exactly five reach the password check."""
    make.user("staff", username="desk")
    other = _second_app(app)
    start, statuses = threading.Barrier(12), []

    def guess(target, n):
        client_auth = Auth(target, target.test_client())
        start.wait(30)
        statuses.append(client_auth.login("desk", WRONG, **_from(f"10.2.0.{n}")).status_code)
    threads = [threading.Thread(target=guess, args=(app if n % 2 else other, n)) for n in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
    assert sorted(statuses) == [422] * 5 + [429] * 7
    assert _password_checks(make) == 5 and len(make.audit_rows(action="login.limited")) == 7


ATTEMPTS_SCRIPT = textwrap.dedent("""
    import json, re, sys
    from ketamine_integration import create_app
    from ketamine_integration.extensions import db
    from tests.databases import app_settings

    app = create_app(app_settings(sys.argv[1]))
    client = app.test_client()

    def attempt(username, password):
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token}).status_code

    for line in sys.stdin:  # one JSON [username, password, count] per line; answers the statuses
        username, password, count = json.loads(line)
        print(json.dumps([attempt(username, password) for _ in range(count)]), flush=True)
    with app.app_context():
        db.engine.dispose()
""")


def test_separate_os_processes_share_one_count(make, app, auth):
    make.user("staff", username="desk")
    other = subprocess.Popen([sys.executable, "-c", ATTEMPTS_SCRIPT, app.config["SQLALCHEMY_DATABASE_URI"]],
                             cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)

    def in_other_process(username, password, count):
        other.stdin.write(json.dumps([username, password, count]) + "\n")
        other.stdin.flush()
        line = other.stdout.readline()
        assert line, other.stderr.read()[-2000:]
        return json.loads(line)
    try:
        assert in_other_process("desk", WRONG, 3) == [422] * 3
        assert _fail(auth, "desk", 2) == [422] * 2
        assert in_other_process("desk", PASSWORD, 1) == [429]
    finally:
        other.stdin.close()
        other.wait(60)
        other.stdout.close()
        other.stderr.close()
    assert other.returncode == 0


def test_retry_after_matches_the_message(make, auth):
    _fail(auth, "desk", 5)
    refused = auth.login("desk", WRONG)
    minutes = int(re.search(r"try again in (\d+) minute", page_text(refused)).group(1))
    assert minutes * 60 - 60 < int(refused.headers["Retry-After"]) <= minutes * 60


def _via_proxy(client_address: str) -> dict:
    """A request as the proxy (always 10.9.9.9) forwards it for `client_address`."""
    return {"environ_base": {"REMOTE_ADDR": "10.9.9.9"}, "headers": {"X-Forwarded-For": client_address}}


@pytest.mark.parametrize("hops, counted_as", [
    (1, "203.0.113.50"),   # one trusted proxy: its X-Forwarded-For names the client
    (0, "10.9.9.9"),       # no proxy configured: a client cannot choose its own address
])
def test_the_address_limit_counts_the_address_the_proxy_setting_trusts(make, app, hops, counted_as):
    make.user("staff", username="desk")
    proxied = _second_app(app, TRUSTED_PROXY_HOPS=hops)  # built as production builds it (ProxyFix)
    try:
        proxied_auth = Auth(proxied, proxied.test_client())
        assert proxied_auth.login("desk", WRONG, **_via_proxy("203.0.113.50")).status_code == 422
        [row] = make.audit_rows(action="login.failure")
        assert row.ip == counted_as
        keys = make.query(lambda: db.session.scalars(select(LoginFailure.key)).all())
        assert f"address:{counted_as}" in keys
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()
