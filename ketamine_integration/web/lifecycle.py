"""The request wrapper: one commit per successful request, rollback on any error, safe error pages.

It knows no feature: a page's own reaction to a refused upload is declared on its view
(upload_limit), and a refusal others record (the audit trail) is announced by a signal that
create_app connects (change_refused).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from blinker import Namespace
from flask import Flask, abort, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from .access_log import redacted_path
from .error_log import describe
from ..db.append_only import AppendOnlyViolation
from ..extensions import db

#: largest id a route accepts: PostgreSQL's integer column (larger numbers are simply 404)
MAX_ID = 2_147_483_647

_signals = Namespace()
#: sent (sender: the app, endpoint=...) when an append-only guard refused a request's change
#: and the request is answered 409; the audit trail records it (connected in create_app)
change_refused = _signals.signal("change-refused")

#: Pages with their own template; any other HTTP error uses errors/generic.html.
ERROR_TEMPLATES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html",
                   500: "errors/500.html"}


def keep_after_rollback(write: Callable[[], None]) -> None:
    """Run `write` again in a fresh transaction if this request's transaction is rolled back.

    For what must be recorded whatever becomes of the request: audit rows of denials and
    failures, a session's expiry, the activity that keeps a session alive.
    """
    g.setdefault("_after_rollback", []).append(write)


def commit_refusal(status: int) -> None:
    """This request answers `status`, an error, yet what it wrote is the record of the refusal
    itself and must be committed in the same transaction rather than rolled back and written
    again: a failed sign-in, whose count the next attempt for that account must see before the
    locks that make attempts take turns are released (accounts/throttle.py)."""
    g._commit_refusal = status


def finish_transaction(response):
    """Commit the request's work only when it succeeded; otherwise keep only what must stay."""
    if response.status_code < 400 or response.status_code == g.pop("_commit_refusal", None):
        db.session.commit()
    else:
        db.session.rollback()
        if response.status_code == BUSY_STATUS:
            # The kept writes would wait for the very lock that just timed out, and a second
            # failure here would drop the answer's headers; they are logged instead.
            kept = g.pop("_after_rollback", [])
            if kept:
                current_app.logger.warning("database busy: %d kept write(s) (audit rows of refusals, session "
                                           "activity) not written for %s %s", len(kept), request.method, request.path)
        else:
            _replay_kept()
    return response


def _replay_kept() -> None:
    writes = g.pop("_after_rollback", [])
    if writes:
        for write in writes:
            write()
        db.session.commit()


#: the attribute a view's before_transaction (check, step) pair is kept in
BEFORE_TRANSACTION_ATTR = "_before_transaction"


def before_transaction(step: Callable[[], Any], *, check: Callable[[], Any] | None = None):
    """Declare CPU-heavy work a view needs done while its request holds no database transaction.

    On SQLite a request's first statement, even the read that loads the signed-in user, begins an
    IMMEDIATE transaction, which holds the database's write lock until the request ends; work done
    inside the view (reading an uploaded calendar) would make every other request that writes an
    audit row wait for it, and give up with 503 after busy_timeout. So: after the access check has
    admitted the request (a fully signed-in user the endpoint allows: no one else's upload is worth
    reading), `check` asks the view's own question (whose calendar; it may read the database and
    abort), the request's transaction is committed, `step` runs, and the view's first statement
    begins a new transaction. `step` must not touch the database and must bound its own cost. The
    view reads its result with prepared().
    """
    def decorate(view):
        setattr(view, BEFORE_TRANSACTION_ATTR, (check, step))
        return view
    return decorate


def run_before_transaction():
    """before_request, after the access check: a view's before_transaction check and step."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    check, step = getattr(view, BEFORE_TRANSACTION_ATTR, (None, None))
    if step is None:
        return
    if check is not None:
        check()
    # What the access check wrote (a session's last activity, kept anyway if the request fails)
    # is committed now, so that no lock is held while `step` runs.
    db.session.commit()
    g._prepared = step()


def prepared():
    """What this request's before_transaction step returned (None if it had none)."""
    return g.get("_prepared")


def refuse_nul_bytes():
    """before_request: no clinic input contains NUL (PostgreSQL text cannot hold it), and form
    field names are ASCII."""
    for source in (request.args, request.form):
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                abort(400)
    if any(not key.isascii() for key in request.form):
        abort(400)  # every field name here is ASCII; WTForms reads row numbers out of them
    for key, upload in request.files.items(multi=True):
        if "\x00" in key or "\x00" in (upload.filename or ""):
            abort(400)


def refuse_unexpected_body():
    """before_request, after the access check: a form post carries form fields. A file sent to a
    page that takes no upload, or a JSON body (which Flask-WTF would read as the form), would
    reach text fields as objects no validator expects: a 500, and the refused save left no audit
    row. It is refused here (400), and the refusal is audited like any other."""
    if request.method != "POST" or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if request.files and getattr(view, UPLOAD_LIMIT_ATTR, None) is None:
        _refuse_body(f"{request.endpoint} takes no file upload")
    if request.is_json:
        _refuse_body(f"{request.endpoint} takes a form, not JSON")


def _refuse_body(detail: str):
    current_app.extensions["access"].record_denial(detail)
    abort(400)


class IdConverter(IntegerConverter):
    """<id:...> in routes: a positive id that fits the database's integer column."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)


#: no inline script anywhere, no plugins, no <base>, no framing; forms post only here
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
#: HSTS for a year, over HTTPS only (a plain-HTTP answer cannot set it)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def security_headers(response):
    # Pages carry patient data; browsers and proxies must not keep copies (ASVS 14.3).
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def render_error(error: HTTPException):
    if error.code == 413:
        return render_too_large(error)
    if error.code == 500 and database_busy(error):
        return render_busy(error)
    if error.code == 500 and append_only_refusal(error):
        return render_changed(error)
    template = ERROR_TEMPLATES.get(error.code, "errors/generic.html")
    return render_template(template, error=error), error.code


#: the attribute a view's UploadLimit is kept in
UPLOAD_LIMIT_ATTR = "_upload_limit"


@dataclass(frozen=True)
class UploadLimit:
    """What a page that takes uploads says and does when one is over MAX_CONTENT_LENGTH."""

    #: what the 413 page tells the user about this page's uploads
    hint: str
    #: called when an upload to this page is refused, before the 413 page is rendered (to audit it)
    on_refused: Callable[[], Any] | None = None


def upload_limit(hint: str, *, on_refused: Callable[[], Any] | None = None):
    """Declare a view's uploads: the 413 page's advice, and what to do when one is refused."""
    def decorate(view):
        setattr(view, UPLOAD_LIMIT_ATTR, UploadLimit(hint, on_refused))
        return view
    return decorate


def render_too_large(error: HTTPException):
    """An upload over MAX_CONTENT_LENGTH: say what the limits are; the page it was sent to may
    record the refusal (its upload_limit's on_refused)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    limit = getattr(view, UPLOAD_LIMIT_ATTR, None)
    if limit is not None and limit.on_refused is not None:
        limit.on_refused()
    hints = sorted({limit.hint for view in current_app.view_functions.values()
                    if (limit := getattr(view, UPLOAD_LIMIT_ATTR, None)) is not None})
    return render_template("errors/413.html", error=error, upload_hints=hints,
                           limit_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)), 413


def render_csrf_error(error: CSRFError):
    return render_template("errors/400.html", error=error, csrf=True), 400


def render_server_error(error: Exception):
    if database_busy(error):
        return render_busy(error)
    if append_only_refusal(error):
        return render_changed(error)
    # Nothing about the failure reaches the page; the traceback goes to the server log.
    # The path as the access log shows it (a feed's secret masked); the traceback is rendered
    # without database values by access_log.RedactingFilter, which app.logger carries.
    current_app.logger.exception("unhandled error on %s %s", request.method, redacted_path(request.path))
    return render_template("errors/500.html", error=InternalServerError()), 500


#: the answer when the database is too busy to serve the request in time, and its Retry-After (s)
BUSY_STATUS, BUSY_RETRY_AFTER = 503, 5
#: SQLite: another connection held the lock past busy_timeout (primary result code; SQLITE_LOCKED,
#: a conflict inside one connection, is a fault and stays a 500)
SQLITE_BUSY_CODES = {sqlite3.SQLITE_BUSY}
#: PostgreSQL: lock_timeout passed, statement cancelled (statement_timeout), deadlock victim
POSTGRESQL_BUSY_STATES = {"55P03", "57014", "40P01"}
DEADLOCK_STATE = "40P01"


def database_busy(error: BaseException | None) -> bool:
    """Whether `error` is the database being too busy to answer in time, rather than a fault:
    the request changed nothing and may simply be tried again."""
    if isinstance(error, InternalServerError):  # raised while finishing a response (the commit)
        error = error.original_exception
    if isinstance(error, SQLAlchemyTimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(error, DBAPIError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in SQLITE_BUSY_CODES
    return getattr(error.orig, "sqlstate", None) in POSTGRESQL_BUSY_STATES


def render_busy(error: BaseException):
    """503 with Retry-After: overload is not a fault, and the page says nothing was saved."""
    cause = getattr(error, "original_exception", None) or error
    # A deadlock is retried like any wait, but it is also a lock-order bug: its traceback is kept.
    deadlock = getattr(getattr(cause, "orig", None), "sqlstate", None) == DEADLOCK_STATE
    current_app.logger.warning("database busy on %s %s: %s", request.method, redacted_path(request.path),
                               describe(cause), exc_info=cause if deadlock else None)
    # Rendered without the context processors: they may read the database, which is busy.
    page = current_app.jinja_env.get_template("errors/503.html").render(
        retry_after=BUSY_RETRY_AFTER, resubmit=request.method == "POST")
    response = current_app.make_response((page, BUSY_STATUS))
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


#: what the append-only triggers of migrations 0015 and 0016 say when they refuse
APPEND_ONLY_REFUSAL = "rows are append-only"


def append_only_refusal(error: BaseException | None) -> bool:
    """Whether `error` is an append-only guard (the ORM's or a trigger) refusing a change: the
    record changed after this request read it, a race its service did not lock against. A
    conflict to reload, not a fault; the request changed nothing."""
    if isinstance(error, InternalServerError):
        error = error.original_exception
    if isinstance(error, AppendOnlyViolation):
        return True
    return isinstance(error, DBAPIError) and APPEND_ONLY_REFUSAL in str(error.orig)


def render_changed(error: BaseException):
    """409, audited: the page says the record changed and to reload it. The traceback is kept,
    since a path that reaches a guard is a missing lock or check."""
    current_app.logger.warning("append-only guard refused %s %s", request.method, redacted_path(request.path),
                               exc_info=getattr(error, "original_exception", None) or error)
    change_refused.send(current_app._get_current_object(), endpoint=request.endpoint)
    conflict = Conflict("This record has changed since you opened it; reload the page and try again.")
    return render_template("errors/409.html", error=conflict), 409


def register_converters(app: Flask) -> None:
    """Before blueprints: routes use <id:...> for every database id."""
    app.url_map.converters["id"] = IdConverter


def register(app: Flask) -> None:
    app.before_request(refuse_nul_bytes)
    app.after_request(security_headers)
    app.after_request(finish_transaction)
    app.register_error_handler(CSRFError, render_csrf_error)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_server_error)

    @app.teardown_request
    def _discard_unfinished(exc):
        # Anything not committed by finish_transaction (an exception escaped) is rolled back.
        if exc is not None:
            db.session.rollback()
