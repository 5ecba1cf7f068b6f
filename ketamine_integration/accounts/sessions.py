"""Server-side login sessions: start at login, end at logout, idle or absolute timeout."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import select, update

from ..audit import services as audit
from ..lifecycle import keep_after_rollback
from ..db_types import utcnow
from ..extensions import db, login_manager
from .models import LoginSession, User

SESSION_KEY = "sid"
#: last_seen_at is written at most this often, so ordinary reads do not all become writes
TOUCH_INTERVAL = timedelta(seconds=30)

END_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its time limit; please sign in again.",
    "disabled": "This account has been disabled.",
    "logout": "You have been signed out.",
    "password_reset": "Your password was changed; please sign in with the new one.",
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


def start_session(user: User) -> None:
    """Sign `user` in with a fresh session identifier (rotated at every login)."""
    session.clear()  # nothing from before login survives, including the old CSRF secret
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(
        user=user, token_hash=_token_hash(token), ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:200],
    ))
    session[SESSION_KEY] = token
    login_user(user)


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


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login hook: the user behind this request's session, if it is still valid."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    row = db.session.execute(
        select(LoginSession, User).join(User, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if row is None or str(row.User.id) != user_id:
        return None
    login_session, user = row
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
