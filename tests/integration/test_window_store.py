"""The stored integration windows (experience/window_store.py) always say what working the
windows out from the records says, after every kind of change, and lists fall back to
working them out when a row is missing or stale."""
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.experience.window_store import window_summaries
from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.services import fetch_signed_sessions_by_course
from ketamine_integration.experience.window_store import StoredWindow, open_windows
from ketamine_integration.experience.windows import course_windows
from ketamine_integration.extensions import db
from ketamine_integration.protocols.models import ProtocolVersion
from ketamine_integration.protocols.services import current_library, register_version
from ketamine_integration.bookings.models import Appointment
from ketamine_integration.domain.coverage import Coverage
from ketamine_integration.scheduling.worklist import worklist
from tests.conftest import Auth, page_text
from tests.stored_windows import assert_windows_current, stored_windows
from tests.integration.test_dosing import NY, _planned, _sign, form_time, local
from tests.integration import test_scheduling

# On SQLite and PostgreSQL: an upsert per engine, concurrent changes.
pytestmark = pytest.mark.both_engines

#: the scheduling tests' clinic: a therapist, a prescriber, a desk, a course in experience
team, signed_window = test_scheduling.team, test_scheduling.signed_window


def _integration_sessions(make) -> list[Appointment]:
    return make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration")
                                                 .order_by(Appointment.id)).all())


def in_window(days=1, hour=11):
    return (datetime.now(NY) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_clinic_stores_every_window_as_worked_out(app, make):
    stored = assert_windows_current(make)
    covered = [row for row in stored.values() if row[4] is Coverage.COVERED]
    assert len(stored) > 10 and 0 < len(covered) < len(stored)
    # the demo's one session left without an outcome keeps its window unconfirmed
    assert [row[4] for row in stored.values()].count(Coverage.UNCONFIRMED) == 1


def _move_behind_the_apps_back(make, appointment_id, starts_at):
    """Change a booking's time through the ORM, as no page does: the flush still rewrites."""
    def move():
        appointment = db.session.get(Appointment, appointment_id)
        appointment.starts_at, appointment.ends_at = starts_at, starts_at + timedelta(minutes=50)
    make.run(move)


def test_signing_booking_moving_cancelling_outcomes_each_rewrite_the_course_windows(team, make, auth, client):
    """Each step flips the window's coverage, so a step whose rewrite was missed would fail."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    _sign(make, auth, session_id, team["prescriber"])
    [(course_id, *_bounds, state, _sessions, _covered, _optimal)] = assert_windows_current(make).values()
    assert course_id == team["course"] and state is Coverage.UNCOVERED
    auth.logout()

    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert assert_windows_current(make)[session_id][4] is Coverage.PROVISIONAL
    # the windows' part of the worklist (the plans' part below names the patient, "Testa Scheduled")
    assert "Scheduled" not in page_text(client.get("/worklist")).split("Treatment plans missing")[0]

    [booked] = _integration_sessions(make)
    # after the window closes: outside it (still ahead: a booking whose time has come is given an
    # outcome, not moved)
    _move_behind_the_apps_back(make, booked.id, in_window(days=20))
    assert assert_windows_current(make)[session_id][4] is Coverage.UNCOVERED
    moved = auth.post(f"/appointments/{booked.id}/reschedule", {"starts_at": form_time(in_window(days=2)),
                                                                "reason": "back inside the window"})
    assert moved.status_code == 302
    assert assert_windows_current(make)[session_id][4] is Coverage.PROVISIONAL

    assert auth.post(f"/appointments/{booked.id}/cancel", {"reason": "patient unwell"}).status_code == 302
    assert assert_windows_current(make)[session_id][4] is Coverage.UNCOVERED
    assert "cancelled or missed" in page_text(client.get("/worklist"))

    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window(days=3)), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert assert_windows_current(make)[session_id][4] is Coverage.PROVISIONAL
    again = _integration_sessions(make)[-1]
    _move_behind_the_apps_back(make, again.id, utcnow() - timedelta(hours=2))  # its time has come
    assert assert_windows_current(make)[session_id][4] is Coverage.UNCONFIRMED
    assert auth.post(f"/appointments/{again.id}/outcome", {"outcome": "no_show"}).status_code == 302
    assert assert_windows_current(make)[session_id][4] is Coverage.UNCOVERED
    assert "cancelled or missed" in page_text(client.get("/worklist"))
    # a correction: the patient came after all (held sessions cover, and the row says so)
    assert auth.post(f"/appointments/{again.id}/outcome", {
        "outcome": "attended", "reason": "Arrived late; the front desk missed it"}).status_code == 302
    row = assert_windows_current(make)[session_id]
    assert row[4] is Coverage.COVERED and row[6] is True


def test_a_course_that_ends_uncovers_its_windows(team, make, auth, signed_window):
    """Discontinuing cancels the bookings still ahead: the window they covered is open again."""
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert assert_windows_current(make)[signed_window][4] is Coverage.PROVISIONAL
    auth.logout()
    auth.sign_in("pres")
    version = make.query(lambda: db.session.get(TreatmentCourse, team["course"]).version)
    assert auth.end_course(team["course"], {
        "target": "discontinued", "reason": "Patient chose another treatment.",
        "version": str(version)}).status_code == 302
    assert [a.status for a in _integration_sessions(make)] == ["cancelled"]
    assert assert_windows_current(make)[signed_window][4] is Coverage.UNCOVERED


def test_missing_or_stale_rows_are_worked_out_instead(app, team, make, auth, signed_window):
    second = make.dosing_plan(team["course"], first_start=local(1), days_between=2, count=1)[0]
    auth.sign_in("pres")
    assert _sign(make, auth, second, team["prescriber"], started_at=form_time(local(1)),
                 ended_at=form_time(local(1) + timedelta(minutes=40)),
                 discharged_at=form_time(local(1) + timedelta(minutes=130))).status_code == 302
    live = TreatmentCourse.id == team["course"]

    def listed():
        now = utcnow()
        return ([(w.dosing_session_id, w.window, w.status, w.covered) for w in open_windows(live, now)[team["course"]]],
                [(i.kind, i.due, i.detail) for i in worklist(now)],
                window_summaries([team["course"]], now))

    # A false row: were it trusted, every list would show it, so each check below discriminates.
    false_row = dict(opens=utcnow() - timedelta(days=100), covered=True)
    with app.test_request_context():
        from_table = listed()
        assert [covered for *_, covered in from_table[0]] == [False, False] and len(from_table[1]) == 2
        db.session.execute(update(StoredWindow).values(**false_row))
        assert listed() != from_table  # a current row is trusted as it stands
        db.session.rollback()
        db.session.execute(delete(StoredWindow).where(StoredWindow.dosing_session_id == second))
        db.session.execute(update(StoredWindow).values(**false_row))
        assert listed() == from_table  # a row missing: the course is worked out
        db.session.rollback()
        db.session.execute(update(StoredWindow).values(zone="Pacific/Auckland", **false_row))
        assert listed() == from_table  # written under another zone: not trusted
        db.session.rollback()
        db.session.execute(update(StoredWindow).values(protocol_version_id=_another_protocol_version(), **false_row))
        assert listed() == from_table  # written under another protocol version: not trusted
        db.session.rollback()
        db.session.execute(update(StoredWindow).values(rule_version=1, **false_row))
        assert listed() == from_table  # written by the rule that counted a booking as cover: not trusted
        db.session.rollback()

    # The clinic moves to London: the rows (falsified) say New York, so lists work the windows out
    # in London time, and the rebuild stores them so.
    make.run(lambda: db.session.execute(update(StoredWindow).values(**false_row)))
    app.config["CLINIC_TIMEZONE"] = "Europe/London"
    with app.test_request_context():
        course = db.session.get(TreatmentCourse, team["course"])
        sessions = fetch_signed_sessions_by_course([course.id])[course.id]
        expected = [(r.session.id, r.window, r.status, r.covered)
                    for r in course_windows(course, sessions, [], utcnow())]
        assert [(w.dosing_session_id, w.window, w.status, w.covered)
                for w in open_windows(live, utcnow())[course.id]] == expected
    result = app.test_cli_runner().invoke(args=["windows", "rebuild"])
    assert result.exit_code == 0 and "2 integration windows stored." in result.output
    with app.app_context():
        assert {w.zone for w in db.session.scalars(select(StoredWindow))} == {"Europe/London"}
    assert_windows_current(make)


def _another_protocol_version() -> int:
    """A registered protocol version that is not the course's (another shipped protocol)."""
    used = set(db.session.scalars(select(ProtocolVersion.id)))
    for entry in current_library().valid_entries():
        version = register_version(entry)
        if version.id not in used:
            return version.id
    raise AssertionError("the library has only one protocol")


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_rebuild_command_fills_an_emptied_table(app, make):
    full = make.query(stored_windows)
    make.run(lambda: db.session.execute(delete(StoredWindow)))
    result = app.test_cli_runner().invoke(args=["windows", "rebuild"])
    assert result.exit_code == 0 and f"{len(full)} integration windows stored." in result.output
    assert make.query(stored_windows) == full


def test_concurrent_changes_on_one_course_leave_its_windows_current(app, team, make, auth, signed_window):
    """One desk cancels the window's only session while another books a second one: whichever
    commits last, the stored row says what the records say."""
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    for _round in range(3):
        barrier, codes = threading.Barrier(2), []

        def act(path, data):
            desk = Auth(app, app.test_client())
            desk.login("desk")
            barrier.wait(timeout=30)
            codes.append(desk.post(path, data).status_code)

        latest = _integration_sessions(make)[-1]
        threads = [threading.Thread(target=act, args=(f"/appointments/{latest.id}/cancel", {"reason": "clash"})),
                   threading.Thread(target=act, args=(f"/courses/{team['course']}/sessions", {
                       "starts_at": form_time(in_window(days=2 + _round)), "minutes": "50",
                       "clinician": team["other_therapist"], "modality": "telehealth"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        assert codes == [302, 302]
        assert assert_windows_current(make)[signed_window][4] is Coverage.PROVISIONAL
    held = make.query(lambda: db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.kind == "integration", Appointment.status == "booked")))
    assert held == 1
