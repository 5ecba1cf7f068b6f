"""The audit trail: exactly one row per audited action, no secrets in it, and no way to change it."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from ketamine_integration.accounts.models import User
from ketamine_integration.audit import services as audit_services
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
    # one row: its object (the patient viewed) and its patient column both name the patient
    assert by_patient.count(patient_mrn) == 2 and by_patient.count("Viewed patient") == 1 + 1
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


# -- the audit page names what it lists, and exports it (issue 21, point 5) -------------------------

def _statements(app, client, path, **query) -> tuple[int, object]:
    from sqlalchemy import event
    count = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(path, query_string=query)
        body = response.get_data(as_text=True)   # a streamed body runs its statements as it is read
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(count), (response, body)


def test_the_audit_page_names_users_patients_and_courses_with_their_links(setting, make, auth, client):
    from ketamine_integration.courses.models import TreatmentCourse  # noqa: F401  (the model the row names)
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(setting["patient"], setting["therapist"], prescriber)
    auth.login("desk")
    client.get(f"/patients/{setting['patient']}")
    client.get(f"/courses/{course}")
    auth.logout()
    auth.login("boss")
    assert auth.post(f"/users/{setting['therapist']}/edit", {
        "username": "ther", "full_name": "Ada Stone", "credentials": "", "email": "", "roles": ["therapist"],
        "active": "y"}).status_code == 302
    html = client.get("/audit/").get_data(as_text=True)
    mrn = make.query(lambda: db.session.get(Patient, setting["patient"]).mrn)
    assert f'<a href="/users/{setting["therapist"]}/edit">user Ada Stone</a>' in html
    assert f'<a href="/patients/{setting["patient"]}">patient {mrn} T.A.</a>' in html     # Test Audited
    assert f'<a href="/courses/{course}">treatment course #{course}</a>' in html
    # the time on one line: a cell that does not wrap, date and time without the zone (the footer says it)
    import re
    assert re.search(r'<td class="nowrap"><time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">'
                     r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time></td>', html)


def test_the_audit_page_names_an_appointment_by_its_time_with_its_link(setting, make, auth, client):
    """Issue 21 review: the Object column said "appointment #242", no name, no link."""
    from zoneinfo import ZoneInfo

    from ketamine_integration.bookings.models import Appointment, AppointmentChange
    starts = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/New_York"))

    def add():
        a = Appointment(patient_id=setting["patient"], clinician_id=setting["therapist"], kind="follow_up",
                        starts_at=starts, ends_at=starts + timedelta(minutes=30), modality="telehealth",
                        created_by_id=setting["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=setting["staff"]))
        db.session.add(a)
        db.session.flush()
        return a.id
    appointment = make.run(add)
    auth.login("desk")
    assert client.get(f"/appointments/{appointment}").status_code == 200
    auth.logout()
    auth.login("boss")
    html = client.get("/audit/", query_string={"action": "appointment.view"}).get_data(as_text=True)
    assert f'<a href="/appointments/{appointment}">appointment of Mon Dec 07 2026 10:00 (follow-up)</a>' in html
    assert f"appointment #{appointment}" not in html
    assert client.get(f"/appointments/{appointment}").status_code == 200  # the link opens for its reader


def test_the_audit_page_reads_names_in_the_same_statements_however_many_it_names(setting, make, auth, client, app):
    def visit(n):
        patient = make.patient(family_name=f"Named{n}")
        make.user("therapist", username=f"named{n}")
        auth.login("desk")
        client.get(f"/patients/{patient}")
        auth.logout()
    visit(0)
    auth.login("boss")
    one, _ = _statements(app, client, "/audit/")
    auth.logout()
    for n in range(1, 6):
        visit(n)
    auth.login("boss")
    assert _statements(app, client, "/audit/")[0] == one


def _csv(body: str) -> list[list[str]]:
    import csv
    import io
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def test_the_filtered_log_exports_as_csv_audited_and_safe_from_formulas(setting, make, auth, client, app):
    for n, name in enumerate(("=HYPERLINK(\"http://evil.example\")", "+SUM(A1)", "-1+1", "@cmd")):
        make.user("staff", username=f"formula{n}", full_name=name)
    auth.login("desk")
    client.get(f"/patients/{setting['patient']}")
    auth.logout()
    auth.login("boss")
    response = client.get("/audit/export.csv", query_string={"action": "patient.view"})
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="audit-log-\d{4}-\d\d-\d\d\.csv"', response.headers["Content-Disposition"])
    rows = _csv(response.get_data(as_text=True))
    assert rows[0][:6] == ["When (clinic time)", "When (UTC)", "User", "Username", "Action", "Action code"]
    assert [r[5] for r in rows[1:]] == ["patient.view"]            # the same filter as the page
    mrn = make.query(lambda: db.session.get(Patient, setting["patient"]).mrn)
    assert rows[1][6] == f"patient {mrn} T.A." and rows[1][9] == f"{mrn} T.A."
    exported = [r for r in make.audit_rows() if r.action == "audit.export"]
    assert [(r.outcome, r.detail, r.patient_id) for r in exported] == \
        [("success", "1 rows; filters: action patient.view", None)]
    # one patient's trail: the row names the filters' values and lands on that patient's trail
    trail = _csv(client.get("/audit/export.csv", query_string={"patient": mrn, "date_from": "2026-01-01", "user": "1"})
                 .get_data(as_text=True))
    exported = [r for r in make.audit_rows() if r.action == "audit.export"][-1]
    assert (exported.detail, exported.patient_id) == \
        (f"{len(trail) - 1} rows; filters: user 1, patient {mrn}, from 2026-01-01", setting["patient"])
    # users named like formulas, as objects of the log: each written as text, none as a formula
    make.run(lambda: [audit_services.record("user.update", object_type="user", object_id=u.id)
                      for u in db.session.scalars(select(User).where(User.username.like("formula%")))])
    rows = _csv(client.get("/audit/export.csv", query_string={"action": "user.update"}).get_data(as_text=True))
    assert sorted(r[6] for r in rows[1:]) == ["user +SUM(A1)", "user -1+1", "user =HYPERLINK(\"http://evil.example\")",
                                              "user @cmd"]      # named inside "user …": no formula start
    assert not [c for row in rows[1:] for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # and as who acted: their name in a cell of its own, written as text behind an apostrophe
    auth.logout()
    for n in range(4):
        auth.login(f"formula{n}")
        auth.logout()
    auth.login("boss")
    rows = _csv(client.get("/audit/export.csv", query_string={"action": "login.success"}).get_data(as_text=True))
    assert sorted(r[2] for r in rows[1:] if r[3].startswith("formula")) == [
        "'+SUM(A1)", "'-1+1", "'=HYPERLINK(\"http://evil.example\")", "'@cmd"]


def test_a_formula_in_any_cell_is_written_as_text():
    from ketamine_integration.audit.export import csv_safe
    assert [csv_safe(v) for v in ("=1+1", "+1", "-1", "@x", "\tx", "\rx", "a=1", "", None, 7)] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "a=1", "", "", "7"]


def test_the_export_streams_every_row_once_in_chunks_up_to_its_limit(setting, make, auth, client, app, monkeypatch):
    from ketamine_integration.audit import export, views
    auth.login("boss")
    for _ in range(6):
        client.get(f"/patients/{setting['patient']}")
    monkeypatch.setattr(export, "CHUNK", 2)
    expected = make.query(lambda: [str(e.chain_position) for e in db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()))])
    statements, (response, body) = _statements(app, client, "/audit/export.csv")
    rows = _csv(body)
    # its own row (written before the file) comes first: newest first, each row once
    assert [r[13] for r in rows[1:]] == [str(int(expected[0]) + 1)] + expected
    monkeypatch.setattr(views, "EXPORT_LIMIT", 3)
    monkeypatch.setattr(export, "EXPORT_LIMIT", 3)
    rows = _csv(client.get("/audit/export.csv").get_data(as_text=True))
    assert len(rows) == 1 + 3
    detail = [r.detail for r in make.audit_rows() if r.action == "audit.export"][-1]
    assert detail.startswith("3 rows (more matched: cut at 3)")


def test_only_the_audit_reader_exports_and_bad_filters_export_nothing(setting, make, auth, client):
    auth.login("desk")
    assert client.get("/audit/export.csv").status_code == 403
    auth.logout()
    auth.login("boss")
    refused = client.get("/audit/export.csv", query_string={"date_from": "1900-01-01"})
    assert refused.status_code == 422 and refused.mimetype == "text/html"
    assert [(r.outcome, r.detail) for r in make.audit_rows() if r.action == "audit.export"] == \
        [("failure", "refused: filters not valid")]


def test_an_export_left_unread_or_half_read_holds_nothing_the_next_request_needs(setting, make, auth, client,
                                                                                  monkeypatch):
    """A download abandoned half-way keeps no request context and no database transaction open (each
    chunk is read in a context of its own): the admin's next page opens as usual."""
    from ketamine_integration.audit import export
    monkeypatch.setattr(export, "CHUNK", 1)
    auth.login("boss")
    unread = client.get("/audit/export.csv")
    assert unread.status_code == 200 and client.get("/audit/").status_code == 200
    half = client.get("/audit/export.csv")
    chunks = iter(half.response)
    assert next(chunks).decode().startswith("\ufeffWhen (clinic time)") and next(chunks).count(b"\n") == 1
    assert client.get("/audit/").status_code == 200
    half.close()


def test_the_date_filters_are_date_inputs_whose_hints_name_no_digit_order(setting, auth, client):
    auth.login("boss")
    html = client.get("/audit/").get_data(as_text=True)
    assert re.search(r'<input aria-describedby="date_from-hint" id="date_from" name="date_from" type="date"', html)
    assert "From the start of that day, clinic time" in html and "YYYY" not in html
    refused = client.get("/audit/", query_string={"date_from": "12/03/2026"})
    assert "Enter a real date, for example 3 December 2026." in page_text(refused)
    # typed in words where no date picker shows: read as the day it names
    assert "Enter a real date" not in page_text(client.get("/audit/", query_string={"date_from": "3 December 2026"}))
