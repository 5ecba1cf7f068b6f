"""Server-side login sessions: start at login, end at logout, idle or absolute timeout.

A session starts at the password. When a second step is due (an authenticator code, or
enrolling one) it is *pending*: it signs no one in, and only the second step's pages and
sign-out are reachable until the step is done (ASVS 6.3, HIPAA 164.312(d)).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, select, update

from ..audit import services as audit
from ..web.lifecycle import keep_after_rollback
from ..db.types import utcnow
from ..extensions import db
from .models import LoginSession, User

SESSION_KEY = "sid"
#: LoginSession.stage values: signed in, or waiting for the code, or for an authenticator's enrolment
SIGNED_IN, CODE_DUE, ENROL_DUE = "signed_in", "code", "enrol"
#: how long a pending sign-in waits: long enough to open an app and type a code
SECOND_STEP_LIMITS = {CODE_DUE: timedelta(minutes=5),
                      # installing an app and scanning a QR code takes longer than typing a code
                      ENROL_DUE: timedelta(minutes=15)}
#: (in the cookie session) the page to open once the second step is done
AFTER_SIGN_IN_KEY = "after_sign_in"
#: wrong codes one login session may send before it is ended (ASVS 6.3.1 attempt limits)
MAX_CODE_FAILURES = 5
#: last_seen_at is written at most this often, so ordinary reads do not all become writes
TOUCH_INTERVAL = timedelta(seconds=30)

END_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its time limit; please sign in again.",
    "disabled": "This account has been disabled.",
    "logout": "You have been signed out.",
    "password_reset": "Your password was changed; please sign in with the new one.",
    "second_step_timeout": "Signing in was not finished in time; please sign in again.",
    "code_failures": "Too many wrong codes; please sign in again.",
    "mfa_reset": "Your authenticator was reset; sign in again to set up a new one.",
}


def end_reason(*, created_at: datetime, last_seen_at: datetime, ended_at: datetime | None,
               user_active: bool, now: datetime, idle: timedelta,
               absolute: timedelta) -> str | None:
    """Why a session may no longer be used at `now`, or None if it still may."""
    if ended_at is not None:
        return "logout"  # whatever ended it; the stored end_reason says which
    if not user_active:
        return "disabled"
    if now - created_at >= absolute:
        return "absolute"
    if now - last_seen_at >= idle:
        return "idle"
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return (timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]),
            timedelta(hours=cfg["SESSION_MAX_HOURS"]))


def start_session(user: User, stage: str = SIGNED_IN) -> None:
    """Start a session for `user` with a fresh identifier (rotated at every login); it signs
    them in at once only when no second step is due."""
    session.clear()  # nothing from before login survives, including the old CSRF secret
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(
        user=user, token_hash=_token_hash(token), ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:200], stage=stage,
    ))
    session[SESSION_KEY] = token
    if stage == SIGNED_IN:
        login_user(user)


@dataclass(frozen=True)
class PendingSignIn:
    """A session whose password was right and whose second step is still due."""

    login_session: LoginSession
    user: User

    @property
    def stage(self) -> str:
        return self.login_session.stage


def current_login_session() -> LoginSession | None:
    """The open login session this request's cookie names, pending or signed in."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    return db.session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token),
                                                        LoginSession.ended_at.is_(None)))


def pending_sign_in() -> PendingSignIn | None:
    """This request's pending sign-in, if it has one still in time (once per request)."""
    if "_pending_sign_in" in g:
        return g._pending_sign_in
    pending = None
    row = current_login_session()
    if row is not None and row.stage != SIGNED_IN:
        reason = "disabled" if not row.user.active else None
        if reason is None and utcnow() - row.created_at >= SECOND_STEP_LIMITS[row.stage]:
            reason = "second_step_timeout"
        if reason is None:
            pending = PendingSignIn(row, row.user)
        else:
            _write_session(row.id, ended_at=utcnow(), end_reason=reason)
            audit.record("session.expired", object_type="login_session", object_id=row.id,
                         user_id=row.user_id, detail=reason, durable=True)
            g.session_end_message = END_MESSAGES[reason]
    g._pending_sign_in = pending
    return pending


def complete_sign_in(pending: PendingSignIn) -> None:
    """The second step is done: the pending session becomes a signed-in one, under a new
    identifier (a token seen before the second step never signs anyone in: ASVS 7.2.4)."""
    token = secrets.token_urlsafe(32)
    row = pending.login_session
    row.token_hash, row.stage, row.last_seen_at = _token_hash(token), SIGNED_IN, utcnow()
    db.session.flush()
    session.clear()
    session[SESSION_KEY] = token
    login_user(pending.user)
    g._pending_sign_in = None


def require_code_instead(pending: PendingSignIn) -> None:
    """A sign-in waiting for enrolment whose user has enrolled meanwhile (in another tab or
    sign-in): it now waits for a code from that authenticator instead, with the code step's own
    time limit from now (the stage's limits count from created_at, and enrolment's is longer)."""
    row = pending.login_session
    row.stage, row.created_at = CODE_DUE, utcnow()
    db.session.flush()


def count_code_failure(login_session: LoginSession) -> int:
    """Count one wrong code against this session (the caller holds its row lock); at the limit
    the session ends. Returns the tries left (0: the session has ended)."""
    login_session.code_failures += 1
    left = max(0, MAX_CODE_FAILURES - login_session.code_failures)
    if left == 0:
        login_session.ended_at, login_session.end_reason = utcnow(), "code_failures"
        logout_user()
        session.clear()
    db.session.flush()
    return left


def end_current_session(reason: str = "logout") -> None:
    token = session.get(SESSION_KEY)
    if token:
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == _token_hash(token), LoginSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )
    logout_user()
    session.clear()


def end_all_sessions(user: User, reason: str) -> None:
    """End every open session of a user (account disabled, password reset)."""
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


#: the login session a cookie's token names, with its user: every signed-in request reads it (load_user),
#: so it is built once and the token's hash bound when it runs (building and keying it anew was half its CPU)
SESSION_WITH_USER = (select(LoginSession, User).join(User, LoginSession.user_id == User.id)
                     .where(LoginSession.token_hash == bindparam("token_hash")))


def load_user(user_id: str) -> User | None:
    """Flask-Login hook: the user behind this request's session, if it is still valid."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    row = db.session.execute(SESSION_WITH_USER, {"token_hash": _token_hash(token)}).first()
    if row is None or str(row.User.id) != user_id:
        return None
    login_session, user = row
    if login_session.stage != SIGNED_IN:
        return None  # half-way through signing in is not signed in (see pending_sign_in)
    now = utcnow()
    idle, absolute = _limits()
    reason = end_reason(created_at=login_session.created_at,
                        last_seen_at=login_session.last_seen_at,
                        ended_at=login_session.ended_at, user_active=user.active,
                        now=now, idle=idle, absolute=absolute)
    if reason is not None:
        if login_session.ended_at is None:
            # Kept even if this request fails (e.g. the expired session asked for a 404 page).
            _write_session(login_session.id, ended_at=now, end_reason=reason)
            audit.record("session.expired", object_type="login_session", object_id=login_session.id,
                         user_id=user.id, detail=reason, durable=True)
        g.session_end_message = END_MESSAGES[login_session.end_reason or reason]
        if reason in ("idle", "absolute") or login_session.end_reason in ("idle", "absolute"):
            g.timed_out_user_id = user.id  # lets a timed-out form submission be kept (notes.recovery)
        return None
    if now - login_session.last_seen_at >= TOUCH_INTERVAL and not is_background(request):
        # A rejected form is activity too: the clinician is working, not idle.
        _write_session(login_session.id, last_seen_at=now)
    return user


#: Request headers that mark a request the person did not make (HIPAA 164.312(a)(2)(iii):
#: automatic logoff must follow the person's inactivity, not the browser's). Browsers send
#: Sec-Purpose/Purpose on prefetches; any script that polls must send X-KI-Background.
BACKGROUND_HEADERS = {"Sec-Purpose": "prefetch", "Purpose": "prefetch", "X-KI-Background": "1"}


def is_background(req) -> bool:
    """Whether a request was made by the browser or a script rather than by the person."""
    return any(value in req.headers.get(name, "").lower() for name, value in BACKGROUND_HEADERS.items())


def _write_session(session_id: int, **values) -> None:
    """Update a login session now, and again after a rollback if the request fails."""
    def write():
        db.session.execute(update(LoginSession).where(LoginSession.id == session_id).values(**values))
    write()
    keep_after_rollback(write)
