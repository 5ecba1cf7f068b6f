"""The audit trail: exactly one row per audited action, no secrets in it, and no way to change it."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from ketamine_integration.audit.models import AuditEvent, AuditImmutableError
from ketamine_integration.web import forms as web
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text

AUDIT_COLUMNS = ("user_id", "action", "object_type", "object_id", "patient_id", "outcome", "detail")


@pytest.fixture
def setting(make):
    ids = {"staff": make.user("staff", username="desk"),
           "therapist": make.user("therapist", username="ther"),
           "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(family_name="Audited", therapists=[ids["therapist"]])
    ids["other"] = make.patient(family_name="Unrelated")
    return ids


def _new_rows(make, after_id: int):
    return [r for r in make.audit_rows() if r.id > after_id]


def _last_id(make) -> int:
    rows = make.audit_rows()
    return rows[-1].id if rows else 0


def test_login_success_and_failure_each_write_one_row(setting, make, auth, client):
    auth.login("desk", "a wrong password here")
    auth.login("no-such-person", "a wrong password here")
    auth.login("desk")
    rows = make.audit_rows()
    assert [(r.action, r.outcome, r.user_id, r.detail) for r in rows] == [
        ("login.failure", "failure", setting["staff"], "wrong password"),
        ("login.failure", "failure", None, "unknown username"),
        ("login.mfa_due", "success", setting["staff"], "authenticator code"),
        ("login.mfa_success", "success", setting["staff"], "authenticator code"),
        ("login.success", "success", setting["staff"], None),
    ]
    assert all(r.ip == "127.0.0.1" for r in rows)
    assert all(r.occurred_at.tzinfo is timezone.utc for r in rows)


def test_no_credentials_or_typed_usernames_are_stored(setting, make, auth):
    auth.login("no-such-person", "hunter2-secret-attempt")
    auth.login("desk", "another-secret-attempt")
    for row in make.audit_rows():
        values = " ".join(str(getattr(row, c)) for c in AUDIT_COLUMNS)
        assert "hunter2" not in values and "another-secret" not in values and "no-such-person" not in values


@pytest.mark.parametrize("who, method, path_template, data, expected", [
    # (user, HTTP method, URL, form, the single row expected: action, outcome, patient key)
    ("desk", "GET", "/patients/{patient}", None, ("patient.view", "success", "patient")),
    ("desk", "GET", "/patients/{patient}/edit", None, ("patient.view", "success", "patient")),
    ("desk", "POST", "/patients/{patient}/edit",   # the care team as it is: an edit of the details only
     {"given_name": "Testa", "family_name": "Renamed", "date_of_birth": "1980-05-17", "version": "1",
      "therapists": "{therapist}"},
     ("patient.update", "success", "patient")),
    ("desk", "POST", "/patients/{patient}/edit",
     {"given_name": "", "family_name": "Renamed", "date_of_birth": "1980-05-17", "version": "1"},
     ("patient.update", "failure", "patient")),
    ("desk", "POST", "/patients/{patient}/archive", {}, ("patient.archive", "success", "patient")),
    ("desk", "POST", "/patients/new",
     {"given_name": "Nova", "family_name": "Registered", "date_of_birth": "1991-02-03"},
     ("patient.create", "success", None)),
    ("desk", "GET", "/patients/?q=Audited", None, ("patient.list", "success", None)),
    ("ther", "GET", "/patients/{other}", None, ("access.denied", "denied", "other")),
    ("ther", "GET", "/patients/{patient}/edit", None, ("access.denied", "denied", "patient")),  # role denial names the patient
    ("ther", "GET", "/audit/", None, ("access.denied", "denied", None)),
    ("boss", "GET", "/audit/", None, ("audit.view", "success", None)),
])
def test_each_audited_request_writes_exactly_one_row(setting, make, auth, client,
                                                     who, method, path_template, data, expected):
    auth.login(who)
    before = _last_id(make)
    path = path_template.format(**setting)
    data = {k: v.format(**setting) for k, v in data.items()} if data else data
    response = auth.post(path, data) if method == "POST" else client.get(path)
    assert response.status_code < 500
    rows = _new_rows(make, before)
    assert len(rows) == 1, [(r.action, r.detail) for r in rows]
    [row] = rows
    action, outcome, patient_key = expected
    assert (row.action, row.outcome) == (action, outcome)
    assert row.user_id == setting[{"desk": "staff", "ther": "therapist", "boss": "admin"}[who]]
    if patient_key:
        assert row.patient_id == setting[patient_key]
    if action == "patient.create":
        assert row.patient_id is not None and row.object_type == "patient"


def test_search_terms_are_not_written_to_the_audit(setting, make, auth, client):
    auth.login("desk")
    client.get("/patients/?q=Audited")
    [row] = [r for r in make.audit_rows() if r.action == "patient.list"]
    assert "Audited" not in (row.detail or "") and row.detail == "search; 1 found"


def test_denial_survives_the_rollback_of_its_request(setting, make, auth, client):
    auth.login("ther")
    response = auth.post(f"/patients/{setting['other']}/archive", {})
    assert response.status_code == 403
    [row] = [r for r in make.audit_rows() if r.action == "access.denied"]
    assert row.detail.startswith("patients.patient_archive needs permission patients.register")


def test_audit_rows_cannot_be_changed_through_the_orm(setting, make, auth):
    auth.login("desk")

    def tamper():
        row = db.session.scalars(db.select(AuditEvent)).first()
        row.detail = "rewritten"
        db.session.flush()
    with pytest.raises(AuditImmutableError):
        make.run(tamper)

    def remove():
        db.session.delete(db.session.scalars(db.select(AuditEvent)).first())
        db.session.flush()
    with pytest.raises(AuditImmutableError):
        make.run(remove)


@pytest.mark.both_engines  # database triggers
@pytest.mark.parametrize("statement", [
    update(AuditEvent).values(detail="rewritten"),   # bulk UPDATE bypasses the ORM check
    delete(AuditEvent),                               # so does bulk DELETE
])
def test_the_database_refuses_audit_changes_too(setting, make, auth, statement):
    auth.login("desk")
    with pytest.raises(DBAPIError, match="append-only"):
        make.run(lambda: db.session.execute(statement))
    assert [r.detail for r in make.audit_rows()] == ["authenticator code", "authenticator code", None]


def test_audit_page_filters_by_user_action_patient_and_date(setting, make, auth, client):
    auth.login("desk")
    client.get(f"/patients/{setting['patient']}")
    client.get(f"/patients/{setting['other']}")
    auth.logout()
    auth.login("boss")
    page = lambda **q: page_text(client.get("/audit/", query_string=q))  # noqa: E731
    everything = page()
    assert "Viewed patient" in everything and "Signed in" in everything
    by_action = page(action="patient.view")
    assert by_action.count("Viewed patient") == 2 + 1  # two rows plus the option in the select
    patient_mrn = make.query(lambda: db.session.get(Patient, setting["patient"]).mrn)
    by_patient = page(patient=patient_mrn, action="patient.view")
    assert by_patient.count(patient_mrn) == 1 and by_patient.count("Viewed patient") == 1 + 1
    by_user = page(user=str(setting["admin"]), action="login.success")
    assert by_user.count("Signed in") == 1 + 1
    today = datetime.now(timezone.utc).date()
    assert "No audit events match" in page(date_to=(today - timedelta(days=3)).isoformat())
    assert "Viewed patient" in page(date_from=(today - timedelta(days=1)).isoformat())


def test_audit_page_rejects_a_bad_filter_without_error(setting, make, auth, client):
    auth.login("boss")
    response = client.get("/audit/", query_string={"user": "not-a-user", "date_from": "yesterday"})
    assert response.status_code == 200
    assert "No audit events match" in page_text(response)


def test_audit_page_is_paginated(setting, make, auth, client, app):
    app.config["PAGE_SIZE"] = 3
    auth.login("boss")
    for _ in range(5):
        client.get(f"/patients/{setting['patient']}")
    text = page_text(client.get("/audit/"))
    assert "Page 1 of" in text and "Next" in text


def test_audit_page_counts_only_so_far_ahead_of_the_page_it_shows(setting, auth, client, app, monkeypatch):
    """The count stops COUNT_AHEAD rows past the page (it would grow with the trail); the pager
    says "more than" and still offers the next page, up to the last one."""
    app.config["PAGE_SIZE"] = 2
    auth.login("boss")
    for _ in range(6):
        client.get(f"/patients/{setting['patient']}")

    def rows():  # every row so far (the page's own row is written after it is read)
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(AuditEvent))

    total = rows()
    exact = page_text(client.get("/audit/"))
    assert f"({total} in all)" in exact and "more than" not in exact
    total = rows()
    beyond = client.get("/audit/", query_string={"page": total})  # far past the last page
    with app.test_request_context("/audit/", query_string={"page": total}):
        pagination = web.paginate(select(AuditEvent).order_by(AuditEvent.id))
        assert pagination.items == [] and pagination.total == total + 1  # the page's own row came since
    assert beyond.status_code == 200 and "No audit events match" in page_text(beyond)

    monkeypatch.setattr(web, "COUNT_AHEAD", 3)
    first = page_text(client.get("/audit/"))
    assert "Page 1 of more than 2 (more than 3)" in first and "Next" in first
    total = rows()
    last_page = (total + 1) // 2
    last = page_text(client.get("/audit/", query_string={"page": last_page}))
    assert f"Page {last_page} of {last_page} ({total} in all)" in last and "Next" not in last


def test_only_admins_read_the_audit_log(setting, auth, client):
    auth.login("desk")
    assert client.get("/audit/").status_code == 403


TRIGGER_CATALOGUE = {
    "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass",
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'",
}


@pytest.mark.both_engines  # database triggers
def test_audit_table_carries_the_append_only_trigger(app):
    with app.app_context():
        names = db.session.execute(text(TRIGGER_CATALOGUE[db.engine.dialect.name])).scalars().all()
    assert "audit_events_no_update" in names
