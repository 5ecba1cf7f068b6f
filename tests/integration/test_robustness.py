"""Hostile or unusual input never produces a 500, and what must be recorded is recorded."""
import re
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from ketamine_integration.accounts.models import User
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import Auth, todays_world

HUGE = "99999999999999999999"


@pytest.fixture
def clinic(make):
    """Staff, admin, a therapist and one patient on the therapist's care team. Built once per day, worker and
    engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "robustness", lambda: _clinic_world(make))


def _clinic_world(make) -> dict:
    ids = {"staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss"),
           "therapist": make.user("therapist", username="ther")}
    ids["patient"] = make.patient(family_name="Robust", therapists=[ids["therapist"]])
    return ids


@pytest.mark.parametrize("who, path, expected", [
    ("desk", "/patients/?q=%00", 400),                 # NUL in a query string
    ("desk", "/patients/?q=" + "z" * 10_000, 200),     # a very long search
    ("desk", f"/patients/{HUGE}", 404),                # an id no integer column holds
    ("desk", f"/patients/{HUGE}/edit", 404),
    ("desk", "/patients/0", 404),
    ("desk", "/patients/-1", 404),
    ("desk", f"/patients/?page={HUGE}", 200),          # a page far past the end
    ("desk", f"/courses/{HUGE}", 404),
    ("desk", f"/protocols/iv-ketamine-induction/v{HUGE}", 404),
    ("boss", f"/users/{HUGE}/edit", 404),
    ("boss", f"/audit/?page={HUGE}", 200),
    ("boss", "/audit/?date_to=9999-12-31", 200),       # date arithmetic past year 9999
    ("boss", "/audit/?date_from=0001-01-01", 200),
    ("boss", "/audit/?patient=%00", 400),
    ("boss", "/audit/?user=%C3%A9", 200),              # not a user id
    ("boss", "/audit/?user=%09%0A", 200),              # whitespace passes Optional() unchecked (was a 500)
    ("desk", f"/calendar?therapist={HUGE}&room={HUGE}", 200),   # ids in a query string, too big
    ("desk", "/calendar?therapist=-3&room=abc", 200),
    ("desk", f"/patients/?clinician={HUGE}", 200),
])
def test_hostile_query_never_500(clinic, auth, client, who, path, expected):
    auth.sign_in(who)
    assert client.get(path).status_code == expected


@pytest.mark.parametrize("data", [
    {"given_name": "Nul\x00byte", "family_name": "X", "date_of_birth": "1990-01-01"},
    {"given_name": "A", "family_name": "B", "date_of_birth": "9999-12-31"},
    {"given_name": "A", "family_name": "B", "date_of_birth": "0001-01-01"},
    {"given_name": "😀" * 80, "family_name": "Ünïcødé", "date_of_birth": "1990-01-01"},
    {"given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "therapists": HUGE},
    {"given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "therapists": "x"},
])
def test_hostile_patient_form_never_500_and_never_half_saves(clinic, auth, make, data):
    auth.sign_in("desk")
    response = auth.post("/patients/new", data)
    assert response.status_code in (302, 400, 422)
    count = make.run(lambda: db.session.scalar(select(func.count()).select_from(Patient)))
    assert count == (2 if response.status_code == 302 else 1)


def test_nul_byte_in_login_is_refused_not_500(clinic, auth):
    assert auth.login("de\x00sk").status_code == 400


def test_idle_expiry_is_audited_even_when_the_next_page_is_a_404(clinic, auth, client, make):
    auth.sign_in("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=20))
    assert client.get("/no/such/page").status_code == 404
    client.get("/patients/")  # the login redirect itself is no longer an expiry
    [row] = make.audit_rows(action="session.expired")
    assert row.detail == "idle"


def test_a_rejected_form_counts_as_activity(clinic, auth, client, make):
    auth.sign_in("desk")
    make.age_login_sessions(last_seen_at=timedelta(minutes=10), created_at=timedelta(minutes=10))
    assert auth.post("/patients/new", {"given_name": ""}).status_code == 422
    make.age_login_sessions(last_seen_at=timedelta(minutes=6))
    # 16 minutes since the last successful page, 6 since the rejected form: still signed in.
    assert client.get("/patients/").status_code == 200


def test_archiving_twice_records_one_archive(clinic, auth, make):
    auth.sign_in("desk")
    for _ in range(2):
        assert auth.post(f"/patients/{clinic['patient']}/archive", {}).status_code == 302
    assert len(make.audit_rows(action="patient.archive")) == 1


def test_editing_keeps_a_disabled_clinician_on_the_care_team(clinic, auth, make):
    make.run(lambda: db.session.execute(update(User).where(User.id == clinic["therapist"]).values(active=False)))
    auth.sign_in("desk")
    form = auth.client.get(f"/patients/{clinic['patient']}/edit").get_data(as_text=True)
    assert "(inactive)" in form
    response = auth.post(f"/patients/{clinic['patient']}/edit", {
        "given_name": "Testa", "family_name": "Robust", "date_of_birth": "1980-05-17",
        "phone": "555-0100", "therapists": [clinic["therapist"]], "version": "1"})
    assert response.status_code == 302
    team = make.query(lambda: [m.user_id for m in db.session.get(Patient, clinic["patient"]).care_team])
    assert team == [clinic["therapist"]]


@pytest.mark.both_engines  # lower() is the app's on SQLite, the engine's on PostgreSQL
@pytest.mark.parametrize("query", ["émile", "ÉMILE", "Émile Øster", "øster"])
def test_search_is_case_insensitive_beyond_ascii(clinic, auth, client, make, query):
    make.patient(given_name="Émile", family_name="Øster")
    auth.sign_in("desk")
    html = client.get("/patients/", query_string={"q": query}).get_data(as_text=True)
    assert "<tbody" in html and "Øster" in re.split(r"<tbody[^>]*>", html, maxsplit=1)[1]


@pytest.mark.both_engines  # parallel writers, an advisory lock on PostgreSQL
def test_parallel_registrations_all_succeed_with_distinct_mrns(clinic, app, make):
    """Writers in parallel threads: no 'database is locked', no duplicate MRN, no 500."""
    workers, results = 6, []

    def register(n):
        client = app.test_client()
        auth = Auth(app, client)
        auth.sign_in("desk")
        response = auth.post("/patients/new", {"given_name": f"Parallel{n}", "family_name": "Writer",
                                               "date_of_birth": "1990-01-01"})
        results.append(response.status_code)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [302] * workers
    mrns = make.query(lambda: db.session.scalars(select(Patient.mrn)).all())
    assert len(mrns) == len(set(mrns)) == workers + 1


def test_date_of_birth_today_in_the_clinic_is_accepted(clinic, auth):
    from ketamine_integration.db.clinic_time import clinic_today
    auth.sign_in("desk")
    with auth.app.app_context():
        today = clinic_today()
    response = auth.post("/patients/new", {"given_name": "New", "family_name": "Born",
                                           "date_of_birth": today.isoformat()})
    assert response.status_code == 302
    assert date.fromisoformat(today.isoformat()) == today
