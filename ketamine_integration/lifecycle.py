"""The request wrapper: one commit per successful request, rollback on any error, safe error pages."""
from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .audit import services as audit
from .extensions import db

#: Pages with their own template; any other HTTP error uses errors/generic.html.
ERROR_TEMPLATES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html",
                   500: "errors/500.html"}


def finish_transaction(response):
    """Commit the request's work only when it succeeded; otherwise keep only audit failures."""
    if response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
        audit.replay_durable()
    return response


def no_store(response):
    # Pages carry patient data; browsers and proxies must not keep copies (ASVS 14.3).
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def render_error(error: HTTPException):
    template = ERROR_TEMPLATES.get(error.code, "errors/generic.html")
    return render_template(template, error=error), error.code


def render_csrf_error(error: CSRFError):
    return render_template("errors/400.html", error=error, csrf=True), 400


def render_server_error(error: Exception):
    # Nothing about the failure reaches the page; the traceback goes to the server log.
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return render_template("errors/500.html", error=InternalServerError()), 500


def register(app: Flask) -> None:
    app.after_request(no_store)
    app.after_request(finish_transaction)
    app.register_error_handler(CSRFError, render_csrf_error)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_server_error)

    @app.teardown_request
    def _discard_unfinished(exc):
        # Anything not committed by finish_transaction (an exception escaped) is rolled back.
        if exc is not None:
            db.session.rollback()
