"""The flask commands: init-db, demo and create-user."""
import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.demo.clinic import DEMO_PASSWORD, DEMO_USERS, PATIENT_COUNT
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text


def _count(make, model):
    return make.run(lambda: db.session.scalar(select(func.count()).select_from(model)))


def test_init_db_is_idempotent(app):
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0 and "newest migration" in result.output


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_demo_loads_a_fictional_clinic_and_prints_working_logins(app, make, auth, client, databases):
    output = databases.demo_output()  # what that `flask demo` printed (it exits non-zero on failure)
    assert DEMO_PASSWORD in output
    roles = make.query(lambda: [sorted(u.roles) for u in db.session.scalars(select(User))])
    assert sum(r == ["admin"] for r in roles) == 1 and sum(r == ["staff"] for r in roles) == 2
    assert sum(r == ["therapist"] for r in roles) == 4 and sum(r == ["prescriber"] for r in roles) == 2
    assert _count(make, Patient) == PATIENT_COUNT
    # Every patient has a therapist and a prescriber on the care team (a prescriber who ran
    # a dosing session for a colleague joined that patient's team too).
    teams = make.query(lambda: [{m.role for m in p.care_team} for p in db.session.scalars(select(Patient))])
    assert len(teams) == PATIENT_COUNT and all({"therapist", "prescriber"} <= roles for roles in teams)
    # ...explicitly: every patient with a second prescriber has a care-team change adding them.
    covered = make.query(lambda: {p.id for p in db.session.scalars(select(Patient))
                                  if sum(m.role == "prescriber" for m in p.care_team) > 1})
    added = {r.patient_id for r in make.audit_rows(action="care_team.change") if r.detail.startswith("added prescriber")}
    assert covered <= added
    assert "first sign-in sets up an authenticator app" in output
    for username, *_ in DEMO_USERS:
        assert username in output
        # Demo users start without an authenticator: the first sign-in sets one up, then lands home.
        assert auth.login(username, DEMO_PASSWORD).headers["Location"] == "/account/two-step/enrol"
        enrolled = auth.enrol()
        assert enrolled.status_code == 200 and "Your recovery codes" in page_text(enrolled)
        assert client.get("/").status_code == 200
        auth.logout()
    again = app.test_cli_runner().invoke(args=["demo", "--if-empty"])
    assert "then the code from its authenticator app" in again.output
    assert "first sign-in sets up" not in again.output


def test_demo_if_empty_leaves_a_used_database_alone(app, make):
    make.user("admin", username="realadmin")
    result = app.test_cli_runner().invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0 and "not loaded" in result.output
    assert _count(make, Patient) == 0
    refused = app.test_cli_runner().invoke(args=["demo"])
    assert refused.exit_code != 0 and "empty" in refused.output


def test_create_user_makes_an_account_that_can_sign_in(app, auth):
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--username", "FirstAdmin", "--full-name", "Ada Firstly", "--role", "admin",
        "--role", "staff", "--password", "a long enough passphrase"])
    assert result.exit_code == 0, result.output
    assert "firstadmin (admin, staff)" in result.output
    response = auth.login("firstadmin", "a long enough passphrase")
    assert response.headers["Location"] == "/account/two-step/enrol"  # admins must use two-step sign-in


def test_create_user_records_the_roles_it_grants(app, make):
    """The command line grants access too: its account and roles are an audit row (by no user)."""
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--username", "cli-therapist", "--full-name", "Tam Console", "--role", "therapist",
        "--password", "a long enough passphrase"])
    assert result.exit_code == 0, result.output
    [row] = make.audit_rows(action="user.create")
    assert (row.user_id, row.detail) == (None, "roles none -> therapist")


def test_create_user_refuses_a_weak_password_and_creates_nothing(app, make):
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--username", "weak", "--full-name", "Weak Pass", "--role", "staff",
        "--password", "short"])
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    assert _count(make, User) == 0


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_demo_courses_cover_every_protocol_phase_and_window_status(app, make):
    from collections import Counter

    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.domain.phases import Phase
    from ketamine_integration.domain.windows import WindowStatus
    from ketamine_integration.experience.services import fetch_dosing_sessions, verify_signed_sessions
    from ketamine_integration.experience.windows import course_windows
    from ketamine_integration.scheduling.services import fetch_integration_sessions

    def inspect():
        courses = db.session.scalars(select(TreatmentCourse)).all()
        combos = {(c.protocol_version.protocol_id, c.phase) for c in courses}
        statuses = Counter()
        for c in courses:
            for w in course_windows(c, fetch_dosing_sessions(c.id), fetch_integration_sessions(c.id), utcnow()):
                statuses[w.status] += 1
                statuses[("covered", w.covered)] += 1
        return combos, statuses, verify_signed_sessions()
    combos, statuses, signatures = make.query(inspect)
    protocols = {"iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems"}
    assert combos == {(p, phase.value) for p in protocols for phase in Phase}
    assert all(statuses[s] > 0 for s in WindowStatus)
    assert statuses[("covered", True)] > 0 and statuses[("covered", False)] > 0
    assert signatures and all(ok for _, ok in signatures)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_demo_dosing_timetable_is_booked_and_clash_free(app, make):
    from itertools import combinations

    from ketamine_integration.experience.models import DosingSession
    from ketamine_integration.bookings.models import ACTIVE_STATUSES, Appointment

    def inspect():
        sessions = db.session.scalars(select(DosingSession).where(DosingSession.status != "cancelled")).all()
        unbooked = [s.id for s in sessions if s.appointment is None or s.appointment.status == "cancelled"]
        active = db.session.scalars(select(Appointment).where(Appointment.status.in_(ACTIVE_STATUSES))).all()
        clashes = [(a.id, b.id) for a, b in combinations(active, 2)
                   if a.starts_at < b.ends_at and b.starts_at < a.ends_at
                   and (a.clinician_id == b.clinician_id or a.patient_id == b.patient_id
                        or (a.room_id is not None and a.room_id == b.room_id))]
        return len(sessions), unbooked, clashes, {a.kind for a in active}
    count, unbooked, clashes, kinds = make.query(inspect)
    assert count > 100 and unbooked == [] and clashes == []
    assert {"dosing", "integration"} <= kinds


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_demo_documentation_has_recurring_themes_check_ins_responders_and_an_alert(app, make):
    from ketamine_integration.notes.models import ActionCheckIn, SafetyAlert, SessionNote
    from ketamine_integration.notes.baselines import course_measures, first_dose_of, trend
    from ketamine_integration.notes.services import verify_signed_notes
    from ketamine_integration.notes.views_data import theme_recurrence

    def inspect():
        notes = db.session.scalars(select(SessionNote)).all()
        patients = {n.patient_id for n in notes}
        recurring = sum(any(r.sessions > 1 for r in theme_recurrence(p)) for p in patients)
        outcomes = []
        for course_id in {n.course_id for n in notes if n.kind == "integration"}:
            rows = trend(course_measures(course_id), "phq9", first_dose_of(course_id))
            if len(rows) > 2:
                outcomes.append(rows[-1].change.response)
        return (len(notes), sum(n.status == "draft" for n in notes), recurring, outcomes,
                db.session.query(ActionCheckIn).count(),
                db.session.query(SafetyAlert).filter(SafetyAlert.acknowledged_at.is_(None)).count(),
                verify_signed_notes())
    count, drafts, recurring, outcomes, check_ins, alerts, verified = make.query(inspect)
    assert count > 30 and drafts >= 1 and recurring >= 5 and check_ins > 10 and alerts == 1
    assert True in outcomes and False in outcomes                # responders and non-responders
    assert verified and all(ok for _, ok in verified)


def test_reset_authenticator_from_the_command_line_for_a_lone_admin(app, make, auth):
    make.user("admin", username="onlyadmin")
    short = app.test_cli_runner().invoke(args=["reset-authenticator", "onlyadmin", "--reason", "lost"])
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    result = app.test_cli_runner().invoke(args=["reset-authenticator", "OnlyAdmin", "--reason",
                                                "phone and recovery codes lost in a flood"])
    assert result.exit_code == 0, result.output
    assert auth.login("onlyadmin").headers["Location"] == "/account/two-step/enrol"
    [row] = make.audit_rows(action="user.mfa_reset")
    assert row.detail == "command line: phone and recovery codes lost in a flood" and row.user_id is None
    unknown = app.test_cli_runner().invoke(args=["reset-authenticator", "nobody", "--reason", "a long reason"])
    assert unknown.exit_code != 0 and "No user" in unknown.output


def test_settings_table_prints_readmes_table(app):
    from ketamine_integration.config import settings_table

    result = app.test_cli_runner().invoke(args=["settings-table"])
    assert result.exit_code == 0 and result.output == settings_table() + "\n"
    assert result.output.splitlines()[2].startswith("| `KI_ENV` | `development` |")
