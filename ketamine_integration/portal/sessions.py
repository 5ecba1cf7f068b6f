"""Portal sessions: server-side rows apart from staff logins, their own cookie key, shorter limits
(KI_PORTAL_IDLE_MINUTES, KI_PORTAL_MAX_HOURS), and the check behind @portal_page / @portal_sign_in.

A session starts at the password (or at accepting an invitation). Until its second step is done
(a code, or enrolling a factor) it is *pending*: only the step's pages and sign-out open. The id
of the patient a portal page shows comes from this session, never from the URL.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts.sessions import TOUCH_INTERVAL, is_background
from ..audit import services as audit
from ..db.types import utcnow
from ..extensions import db
from ..patients.models import Patient
from ..web.access import PORTAL_PAGE
from ..web.lifecycle import keep_after_rollback
from .models import CODE_DUE, ENROL_DUE, SIGNED_IN, PortalAccount, PortalSession
from .recovery import keep_if_timed_out

#: the cookie-session key of the portal's token (staff sessions use "sid": the two never mix)
SESSION_KEY = "portal_sid"
#: (cookie session) the portal page to open once signed in
AFTER_SIGN_IN_KEY = "portal_after_sign_in"
#: (cookie session) a new authenticator secret offered to an account that already confirms sign-ins with
#: one: sealed, with the id of the portal session it was offered in; it replaces the account's secret
#: only once a code of it is accepted (portal/factors.py), so an abandoned switch changes nothing
NEW_SECRET_KEY = "portal_new_totp"
#: every cookie-session key of the portal: a new portal session starts without them, an ended one drops
#: them, and a staff page refused to the browser keeps them (create_app's register_access)
COOKIE_KEYS = (SESSION_KEY, AFTER_SIGN_IN_KEY, NEW_SECRET_KEY)
#: how long a pending portal sign-in waits for its second step
SECOND_STEP_LIMITS = {CODE_DUE: timedelta(minutes=10), ENROL_DUE: timedelta(minutes=20)}

END_MESSAGES = {
    "idle": "You were signed out after a period of inactivity.",
    "absolute": "Your session reached its time limit; please sign in again.",
    "inactive": "This account is not active. Please contact the clinic.",
    "second_step_timeout": "Signing in was not finished in time; please sign in again.",
    "code_failures": "Too many wrong codes; please sign in again.",
    "password_failures": "Too many wrong passwords; please sign in again.",
    "sign_out": "You have been signed out.",
    "password_change": "Your password was changed; please sign in with the new one.",
    "turned_off": "The clinic turned this account off. Please call the clinic.",
    "archived": "This account is not active. Please contact the clinic.",
    "access_reset": "Your sign-in was reset; please sign in with your new password.",
}
#: sessions ended this way kept what their patient submitted afterwards (portal/recovery.py)
TIMED_OUT = ("idle", "absolute")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PortalVisit:
    """This request's portal session and its account (signed in, or pending its second step)."""

    row: PortalSession
    account: PortalAccount

    @property
    def stage(self) -> str:
        return self.row.stage

    @property
    def signed_in(self) -> bool:
        return self.row.stage == SIGNED_IN


def start_portal_session(account: PortalAccount, stage: str, *, enrolling: str | None = None) -> PortalSession:
    """A new portal session (a fresh token) for `account` at `stage`. The portal session this
    browser had open (another patient's, or this one's half-way sign-in) ends: one browser holds
    one portal session, and none is left open on the server behind a cookie that forgot it. Staff
    keys in the cookie are left alone (a staff login and a portal session are each other's strangers)."""
    _end_replaced()
    for key in COOKIE_KEYS:
        session.pop(key, None)
    token = secrets.token_urlsafe(32)
    row = PortalSession(account=account, token_hash=_hash(token), stage=stage, enrolling=enrolling,
                        ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:200])
    db.session.add(row)
    db.session.flush()
    session[SESSION_KEY] = token
    g.portal_visit = PortalVisit(row, account)
    return row


def _end_replaced() -> None:
    """End (and audit) the open portal session this request's cookie names, if any."""
    token = session.get(SESSION_KEY)
    if not token:
        return
    found = db.session.execute(select(PortalSession.id, PortalAccount.id, PortalAccount.patient_id)
                               .join(PortalAccount, PortalAccount.id == PortalSession.account_id)
                               .where(PortalSession.token_hash == _hash(token),
                                      PortalSession.ended_at.is_(None))).first()
    if found is None:
        return
    session_id, account_id, patient_id = found
    db.session.execute(update(PortalSession).where(PortalSession.id == session_id)
                       .values(ended_at=utcnow(), end_reason="replaced")
                       .execution_options(synchronize_session="fetch"))
    audit.record("portal.session_expired", object_type="portal_session", object_id=session_id,
                 patient_id=patient_id, portal_account_id=account_id, detail="replaced by a new sign-in in this browser")


def complete_portal_sign_in(visit: PortalVisit) -> None:
    """The second step is done: the session is signed in under a new token (one seen before the
    second step never signs anyone in), its count of wrong codes and passwords starting again."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    visit.row.token_hash, visit.row.stage, visit.row.last_seen_at = _hash(token), SIGNED_IN, now
    visit.row.code_failures = 0
    visit.row.enrolling, visit.row.email_code_hash, visit.row.email_code_expires_at = None, None, None
    db.session.flush()
    session[SESSION_KEY] = token
    audit.act_as_portal_account(visit.account.id)


def end_portal_session(visit: PortalVisit | None, reason: str = "sign_out") -> None:
    if visit is not None and visit.row.ended_at is None:
        visit.row.ended_at, visit.row.end_reason = utcnow(), reason
        db.session.flush()
    for key in COOKIE_KEYS:
        session.pop(key, None)
    g.portal_visit = None


def end_all_portal_sessions(account: PortalAccount, reason: str) -> None:
    db.session.execute(update(PortalSession).where(PortalSession.account_id == account.id,
                                                   PortalSession.ended_at.is_(None))
                       .values(ended_at=utcnow(), end_reason=reason))


def _limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return timedelta(minutes=cfg["KI_PORTAL_IDLE_MINUTES"]), timedelta(hours=cfg["KI_PORTAL_MAX_HOURS"])


def end_reason(row: PortalSession, account: PortalAccount, now) -> str | None:
    """Why a portal session may no longer be used at `now`, or None."""
    if not account.active or account.password_hash is None:
        return "inactive"
    idle, absolute = _limits()
    if row.stage != SIGNED_IN:
        return "second_step_timeout" if now - row.created_at >= SECOND_STEP_LIMITS[row.stage] else None
    if now - row.created_at >= absolute:
        return "absolute"
    if now - row.last_seen_at >= idle:
        return "idle"
    return None


def seconds_left(row: PortalSession, now) -> int:
    """How long the session has before it ends, if nothing happens: its idle limit from its last
    activity, or its absolute limit, whichever comes first (the page's idle timer starts from it)."""
    idle, absolute = _limits()
    left = min(row.last_seen_at + idle, row.created_at + absolute) - now
    return max(0, int(left.total_seconds()))


def touch(visit: PortalVisit) -> int:
    """The patient asked to stay signed in: the session's activity is now; the seconds it has left."""
    now = utcnow()
    visit.row.last_seen_at = now
    db.session.flush()
    return seconds_left(visit.row, now)


#: the portal session a cookie's token names, with its account: every portal request reads it (current_visit),
#: so it is built once and the token's hash bound when it runs, as the staff sessions' SESSION_WITH_USER is
SESSION_WITH_ACCOUNT = (select(PortalSession, PortalAccount)
                        .join(PortalAccount, PortalAccount.id == PortalSession.account_id)
                        .where(PortalSession.token_hash == bindparam("token_hash")))


def current_visit() -> PortalVisit | None:
    """This request's portal session, checked against its limits once per request (an ended one
    is recorded, with why, and its message kept for the sign-in page)."""
    if "portal_visit" in g:
        return g.portal_visit
    g.portal_visit = None
    token = session.get(SESSION_KEY)
    if not token:
        return None
    found = db.session.execute(SESSION_WITH_ACCOUNT, {"token_hash": _hash(token)}).first()
    now = utcnow()
    if found is None or _ended(*found, now):
        session.pop(SESSION_KEY, None)
        return None
    row, account = found
    if row.stage == SIGNED_IN and now - row.last_seen_at >= TOUCH_INTERVAL and not is_background(request):
        _write(row.id, last_seen_at=now)
        set_committed_value(row, "last_seen_at", now)  # as written: the page's seconds left count from it
    g.portal_visit = PortalVisit(row, account)
    if row.stage == SIGNED_IN:
        audit.act_as_portal_account(account.id)
    return g.portal_visit


def _ended(row: PortalSession, account: PortalAccount, now) -> bool:
    """Whether the session is over: ended now (recorded, audited) or earlier (by another tab, a sign-out
    or password change elsewhere, the clinic). Its message is kept for the sign-in page, and the account
    of one that timed out, whose submitted text is kept (recovery.keep_if_timed_out)."""
    reason = (row.end_reason or "sign_out") if row.ended_at else end_reason(row, account, now)
    if reason is None:
        return False
    if row.ended_at is None:
        _write(row.id, ended_at=now, end_reason=reason)
        audit.record("portal.session_expired", object_type="portal_session", object_id=row.id,
                     patient_id=account.patient_id, portal_account_id=account.id, detail=reason, durable=True)
    g.portal_end_message = END_MESSAGES.get(reason)
    g.portal_timed_out_account = account.id if reason in TIMED_OUT else None
    return True


def _write(session_id: int, **values) -> None:
    """Update a portal session now, and again after a rollback if the request fails."""
    def write():
        db.session.execute(update(PortalSession).where(PortalSession.id == session_id).values(**values))
    write()
    keep_after_rollback(write)


def current_portal_patient() -> Patient:
    """The patient signed in to the portal in this request: the only patient a portal page may
    show. Call it from @portal_page views (elsewhere there is none: 404)."""
    visit = current_visit()
    if visit is None or not visit.signed_in:
        abort(404)
    return visit.account.patient


def current_portal_account() -> PortalAccount:
    visit = current_visit()
    if visit is None or not visit.signed_in:
        abort(404)
    return visit.account


#: where a pending portal sign-in is sent, by its stage
STEP_PAGES = {CODE_DUE: "portal_sign_in.code", ENROL_DUE: "portal_sign_in.enrol"}


def check_portal_request(kind: str):
    """The access check of a portal rule (web/access.py asks it): None lets the request through;
    otherwise the answer (the sign-in page, or the step still due). A staff login counts for
    nothing here."""
    visit = current_visit()
    if visit is not None and (visit.signed_in or kind != PORTAL_PAGE):
        return None
    if visit is not None:  # pending: only the step's pages and sign-out
        return redirect(url_for(STEP_PAGES[visit.stage]))
    reason = g.pop("portal_end_message", None)
    kept = keep_if_timed_out(g.get("portal_timed_out_account"))
    flash(reason or "Please sign in to continue.", "info")
    if kept:
        flash("What you wrote is kept: sign in and it will be offered back on the same page.", "info")
    target = request.path if (request.method == "GET" or kept) else None
    return redirect(url_for("portal_sign_in.sign_in", next=target))
