"""Password guessing against the sign-in page: how many guesses ever reach a password check.

The count of password checks is measured by wrapping the two functions that do one (argon2
verification of a known account, and the equal-cost hash for an unknown one), not read from
the app's own bookkeeping; the audit rows are then checked to agree with it.
"""
import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts import passwords
from ketamine_integration.accounts.models import LoginSession
from ketamine_integration.extensions import db
from tests.conftest import PASSWORD
from tests.figures import sized

# On SQLite and PostgreSQL: advisory locks (PostgreSQL) vs BEGIN IMMEDIATE (SQLite).
pytestmark = pytest.mark.both_engines

WRONG = "a guessed password {n}"


@pytest.fixture
def password_checks(monkeypatch):
    counted = []
    verify, burn = passwords.verify_password, passwords.burn_time

    def counting_verify(stored, password):
        counted.append(password)
        return verify(stored, password)

    def counting_burn(password):
        counted.append(password)
        return burn(password)
    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    monkeypatch.setattr(passwords, "burn_time", counting_burn)
    return counted


def _signed_in(make) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(LoginSession)))


def test_guesses_at_one_account_from_many_addresses(make, auth, password_checks, figures, databases):
    """N guesses at one account, spread over many addresses; every tenth is the right password."""
    make.user("therapist", username="target")
    guesses = sized(60, 1000)
    statuses = []
    for n in range(guesses):
        password = PASSWORD if n % 10 == 9 else WRONG.format(n=n)
        address = f"198.51.100.{n % 40 + 1}"  # 40 addresses: no address reaches its own limit
        statuses.append(auth.login("target", password, environ_base={"REMOTE_ADDR": address}).status_code)
    accepted = statuses.count(302)
    assert accepted == 0 and _signed_in(make) == 0
    assert len(password_checks) == 5  # the account limit; no time passes in this run
    assert statuses == [422] * 5 + [429] * (guesses - 5)
    assert len(make.audit_rows(action="login.failure")) == 5
    assert len(make.audit_rows(action="login.limited")) == guesses - 5
    figures.record("Sign-in guessing", "one account, 40 addresses",
                   f"{guesses} guesses ({guesses // 10} with the right password), "
                   f"{len(password_checks)} reached the password check, {accepted} accepted",
                   engine=databases.name)


def test_guesses_at_many_accounts_from_one_address(make, auth, password_checks, figures, databases):
    """Password spraying: one guess each at many usernames from one address."""
    make.user("therapist", username="real-one")
    guesses = sized(80, 1000)
    statuses = [auth.login("real-one" if n == guesses - 1 else f"user{n}", WRONG.format(n=n),
                           environ_base={"REMOTE_ADDR": "203.0.113.50"}).status_code for n in range(guesses)]
    checks = len(password_checks)
    assert statuses == [422] * 50 + [429] * (guesses - 50)
    assert checks == 50  # the address limit
    # the right password from that address is refused too; from another it works
    assert auth.login("real-one", environ_base={"REMOTE_ADDR": "203.0.113.50"}).status_code == 429
    assert auth.login("real-one", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 302
    figures.record("Sign-in guessing", "many accounts, 1 address",
                   f"{guesses} guesses at {guesses} usernames, {checks} reached the password "
                   f"check, 0 accepted", engine=databases.name)
