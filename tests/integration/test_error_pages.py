"""Error pages say what happened in plain words and leak nothing about the system or patients."""
from datetime import date

import pytest

from sqlalchemy import func, select

from ketamine_integration import extensions
from ketamine_integration.web import access
from ketamine_integration.web import lifecycle
from ketamine_integration.audit.models import AuditChainHead, AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.patients.services import register_patient
from tests.conftest import page_text


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in page_text(response)


@pytest.mark.fresh_app  # registers a route: a used app refuses that
def test_server_error_shows_nothing_of_the_failure(make, auth, client, app):
    @access.public
    def explode():
        raise RuntimeError("internal detail: /srv/secret.py line 42")
    app.add_url_rule("/explode", "explode", explode)
    response = client.get("/explode")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text
    assert "internal detail" not in text and "Traceback" not in text and "secret.py" not in text


@pytest.mark.fresh_app  # registers a route: a used app refuses that
def test_a_failing_request_leaves_no_half_done_write(make, auth, client, app):
    # A view that writes, then fails: the request's transaction is rolled back whole.
    @access.permission("patients.register")
    def half_done():
        register_patient(given_name="Half", family_name="Written", date_of_birth=date(1990, 1, 1))
        raise RuntimeError("fails after the write")
    app.add_url_rule("/half-done", "half_done", half_done, methods=["POST"])
    make.user("staff", username="desk")
    auth.sign_in("desk")
    assert auth.post("/half-done", {}).status_code == 500
    assert "No patients to show" in page_text(client.get("/patients/"))


def test_forbidden_page_does_not_name_the_patient(make, auth, client):
    make.user("therapist", username="ther")
    patient = make.patient(family_name="Confidentialname")
    auth.sign_in("ther")
    response = client.get(f"/patients/{patient}")
    assert response.status_code == 403
    assert "Not permitted" in page_text(response) and "Confidentialname" not in page_text(response)


@pytest.mark.parametrize("header, value", [
    ("Cache-Control", "no-store"),            # pages with patient data are never cached
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
])
def test_pages_carry_protective_headers(make, auth, client, header, value):
    make.user("staff", username="desk")
    auth.sign_in("desk")
    assert client.get("/patients/").headers[header] == value


def test_every_page_carries_a_content_security_policy_without_inline_script(make, auth, client):
    make.user("staff", username="desk")
    auth.sign_in("desk")
    for path in ("/", "/patients/", "/worklist", "/calendar", "/no-such-page", "/login"):
        policy = client.get(path).headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
        assert directives["frame-ancestors"] == "'none'" and directives["script-src"] == "'self'", path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path


def test_hsts_is_sent_over_https_only(make, auth, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://clinic.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_template_has_inline_script_or_event_handlers():
    """What the CSP forbids, the templates must not need (the check the policy relies on)."""
    import re
    from pathlib import Path
    templates = Path(__file__).resolve().parents[2] / "templates"
    offenders = [str(p.relative_to(templates)) for p in templates.rglob("*.html")
                 if re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|javascript:", p.read_text(), re.I)]
    assert offenders == []


def test_health_check_answers_without_data(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def _busy_page(response) -> None:
    assert response.status_code == 503 and response.headers["Retry-After"] == str(lifecycle.BUSY_RETRY_AFTER)
    text = page_text(response)
    assert "The clinic system is busy" in text and "nothing was saved" in text and "Traceback" not in text
    assert response.headers["Cache-Control"] == "no-store" and "Content-Security-Policy" in response.headers


@pytest.mark.both_engines  # lock waits: busy_timeout vs lock_timeout
def test_a_request_that_waits_too_long_for_the_database_is_told_to_retry(make, auth, client, app, monkeypatch):
    """Overload is not a fault: a request that cannot get its lock in time gets 503 with
    Retry-After, changes nothing, and the next one after the lock is free succeeds. SQLite: the
    write lock every request takes at its start; PostgreSQL: the audit chain's head, locked at
    commit (so the refusal comes while the response is being finished)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page, not the exception
    make.user("staff", username="desk")
    patient = make.patient(given_name="Wren", family_name="Halloway")
    auth.sign_in("desk")
    monkeypatch.setattr(extensions, "SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(extensions, "POSTGRESQL_LOCK_TIMEOUT_MS", 200)
    with app.app_context():
        db.engine.dispose()  # new connections take the short wait
        holder = db.engine.connect()
        before = holder.scalar(select(func.count()).select_from(AuditEvent))
        if db.engine.dialect.name == "sqlite":
            holder.exec_driver_sql("COMMIT")  # the engine began a transaction of its own
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            holder.execute(select(AuditChainHead).with_for_update())
        try:
            _busy_page(client.get(f"/patients/{patient}"))
            _busy_page(auth.post(f"/patients/{patient}/edit", {"given_name": "Wrenna", "family_name": "Halloway",
                                                                "date_of_birth": "1980-02-03", "version": "1"}))
        finally:
            holder.rollback()
            holder.close()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
        assert db.session.get(Patient, patient).given_name == "Wren"
        db.session.remove()
    assert client.get(f"/patients/{patient}").status_code == 200
    assert auth.post(f"/patients/{patient}/edit", {"given_name": "Wrenna", "family_name": "Halloway",
                                                   "date_of_birth": "1980-02-03", "version": "1"}).status_code == 302
