"""Sign-in brute-force limits (ASVS 5.0 V6.3.1): failures counted per account and per address.

The counts live in the database (login_failures), so every server process and every server
shares them; an in-memory counter would give each gunicorn worker its own allowance.

- The account key is counted whether or not the account exists, so refusals reveal nothing
  about which usernames are real. It is a keyed hash of the typed name: people sometimes type
  their password into the username field, and it must not be stored.
- The address is `request.remote_addr`. Behind a reverse proxy that is the proxy's address
  (one count for the whole clinic) unless ProxyFix is configured: set TRUSTED_PROXY_HOPS to
  the number of proxies (wsgi.py), never more, or clients could forge X-Forwarded-For.
- Attempts for one key take turns: on PostgreSQL a transaction-scoped advisory lock per key,
  held until the attempt's failure is committed (the login view commits its refusal, see
  lifecycle.commit_refusal), so N parallel guesses cannot all read the same count. SQLite
  serialises writers already (BEGIN IMMEDIATE).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from ..domain.throttling import Policy, refused_until
from ..extensions import db
from .models import LoginFailure

ACCOUNT, ADDRESS = "account", "address"
#: the answer to a sign-in step refused by these limits (with Retry-After)
TOO_MANY_REQUESTS = 429
#: old rows deleted per failed attempt (bounded, so pruning never slows a sign-in much)
PRUNE_BATCH = 500


class SignInLimited(Exception):
    """Sign-in refused without checking the password: too many recent failures."""

    def __init__(self, scope: str, until: datetime):
        super().__init__(f"sign-in limited ({scope}) until {until.isoformat()}")
        #: ACCOUNT or ADDRESS: which count is over its limit (the later one if both are)
        self.scope, self.until = scope, until

    def seconds_left(self, now: datetime) -> float:
        return max((self.until - now).total_seconds(), 1.0)


def keys_for(username: str, address: str | None) -> dict[str, str]:
    """The two keys one attempt counts against."""
    name = (username or "").strip().lower()  # the same normalisation as the user lookup
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), name.encode(), hashlib.sha256).hexdigest()
    return {ACCOUNT: f"account:{digest}", ADDRESS: f"address:{address or 'unknown'}"}


def policies() -> dict[str, Policy]:
    cfg = current_app.config
    window, backoff = timedelta(minutes=cfg["LOGIN_WINDOW_MINUTES"]), timedelta(seconds=cfg["LOGIN_BACKOFF_SECONDS"])
    return {ACCOUNT: Policy(cfg["LOGIN_ACCOUNT_LIMIT"], window, backoff),
            ADDRESS: Policy(cfg["LOGIN_ADDRESS_LIMIT"], window, backoff)}


def admit(keys: dict[str, str], now: datetime) -> None:
    """Take this attempt's turn for its keys, then raise SignInLimited if either is refused."""
    _take_turns(keys.values())
    rules = policies()
    refusals = []
    for scope, key in keys.items():
        times = db.session.scalars(select(LoginFailure.failed_at).where(
            LoginFailure.key == key, LoginFailure.failed_at > now - rules[scope].window)).all()
        until = refused_until(times, rules[scope], now)
        if until is not None:
            refusals.append(SignInLimited(scope, until))
    if refusals:
        raise max(refusals, key=lambda r: r.until)


def record_failure(keys: dict[str, str], now: datetime) -> None:
    db.session.add_all(LoginFailure(key=key, failed_at=now) for key in keys.values())
    window = max(p.window for p in policies().values())
    _delete_rows(LoginFailure.failed_at <= now - window)
    db.session.flush()


def forget_account(keys: dict[str, str]) -> None:
    """A successful sign-in clears the account's count (not the address's: one good password
    must not buy an address a fresh allowance against other accounts)."""
    _delete_rows(LoginFailure.key == keys[ACCOUNT])


def _take_turns(keys) -> None:
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):  # one order everywhere, so two attempts never wait on each other
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        db.session.execute(select(func.pg_advisory_xact_lock(lock_id)))


def _delete_rows(condition) -> None:
    # SKIP LOCKED: rows another transaction is deleting are theirs to delete; never wait for
    # them (two prunes locking rows in different orders could otherwise deadlock).
    ids = db.session.scalars(select(LoginFailure.id).where(condition).order_by(LoginFailure.id)
                             .limit(PRUNE_BATCH).with_for_update(skip_locked=True)).all()
    if ids:
        db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
