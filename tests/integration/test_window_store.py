"""The stored integration windows (experience/window_store.py) always say what working the
windows out from the records says, after every kind of change, and lists fall back to
working them out when a row is missing or stale."""
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import window_summaries
from ketamine_integration.db_types import utcnow
from ketamine_integration.experience.services import fetch_signed_sessions_by_course
from ketamine_integration.experience.window_store import StoredWindow, open_windows
from ketamine_integration.experience.windows import course_windows
from ketamine_integration.extensions import db
from ketamine_integration.scheduling import services as scheduling
from ketamine_integration.scheduling.models import Appointment
from ketamine_integration.scheduling.services import fetch_integration_starts_by_course
from ketamine_integration.scheduling.worklist import worklist
from tests.conftest import Auth, page_text
from tests.integration.test_dosing import NY, _planned, _sign, form_time, local
from tests.integration import test_scheduling

#: the scheduling tests' clinic: a therapist, a prescriber, a desk, a course in experience
team, signed_window = test_scheduling.team, test_scheduling.signed_window


def stored_windows() -> dict[int, tuple]:
    return {w.dosing_session_id: (w.course_id, w.opens, w.optimal_until, w.closes, w.covered, w.covered_optimally)
            for w in db.session.scalars(select(StoredWindow))}


def worked_out_windows() -> dict[int, tuple]:
    """Every course's windows as course_windows works them out from the records."""
    courses = db.session.scalars(select(TreatmentCourse)).all()
    ids = [c.id for c in courses]
    sessions, starts = fetch_signed_sessions_by_course(ids), fetch_integration_starts_by_course(ids)
    return {r.session.id: (c.id, r.window.opens, r.window.optimal_until, r.window.closes, r.covered,
                           r.covered_optimally)
            for c in courses for r in course_windows(c, sessions.get(c.id, []), starts.get(c.id, []), utcnow())}


def assert_current(make) -> dict[int, tuple]:
    stored, worked_out = make.query(stored_windows), make.query(worked_out_windows)
    assert stored == worked_out
    return stored


def _integration_sessions(make) -> list[Appointment]:
    return make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration")
                                                 .order_by(Appointment.id)).all())


def in_window(days=1, hour=11):
    return (datetime.now(NY) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_the_demo_clinic_stores_every_window_as_worked_out(app, make):
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    stored = assert_current(make)
    covered = [row for row in stored.values() if row[4]]
    assert len(stored) > 10 and 0 < len(covered) < len(stored)


def test_signing_booking_cancelling_and_no_shows_each_rewrite_the_course_windows(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.login("pres")
    _sign(make, auth, session_id, team["prescriber"])
    [(course_id, *_bounds, covered, _optimal)] = assert_current(make).values()
    assert course_id == team["course"] and not covered
    auth.logout()

    auth.login("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert assert_current(make)[session_id][4] is True
    assert "Scheduled" not in page_text(client.get("/worklist"))

    [booked] = _integration_sessions(make)
    moved = auth.post(f"/appointments/{booked.id}/reschedule", {"starts_at": form_time(in_window(days=2)),
                                                                "reason": "patient asked"})
    assert moved.status_code == 302
    assert assert_current(make)[session_id][4] is True

    assert auth.post(f"/appointments/{booked.id}/cancel", {"reason": "patient unwell"}).status_code == 302
    assert assert_current(make)[session_id][4] is False
    assert "cancelled or missed" in page_text(client.get("/worklist"))

    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window(days=3)), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert assert_current(make)[session_id][4] is True
    again = _integration_sessions(make)[-1]
    # Its time comes (moved into the past behind the app's back: the flush still rewrites).
    make.run(lambda: db.session.get(Appointment, again.id).__setattr__("starts_at", utcnow() - timedelta(hours=2)))
    assert assert_current(make)[session_id][4] is True
    assert auth.post(f"/appointments/{again.id}/outcome", {"outcome": "no_show"}).status_code == 302
    assert assert_current(make)[session_id][4] is False
    assert "cancelled or missed" in page_text(client.get("/worklist"))


def test_a_refused_or_rolled_back_change_leaves_the_stored_windows_alone(team, make, auth, signed_window):
    before = assert_current(make)
    auth.login("desk")
    outside = auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window(days=40)), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"})
    assert outside.status_code == 422 and "outside every open integration window" in page_text(outside)
    assert make.query(stored_windows) == before

    def book_then_roll_back():
        course = db.session.get(TreatmentCourse, team["course"])
        staff = db.session.get(User, team["staff"])
        scheduling.book_integration_session(course, clinician_id=team["therapist"], starts_at=in_window(),
                                            minutes=50, modality="telehealth", by=staff, now=utcnow())
        db.session.rollback()
    make.query(book_then_roll_back)
    assert make.query(stored_windows) == before and not before[signed_window][4]


def test_missing_or_stale_rows_are_worked_out_instead(app, team, make, auth, signed_window):
    second = make.dosing_plan(team["course"], first_start=local(1), days_between=2, count=1)[0]
    auth.login("pres")
    assert _sign(make, auth, second, team["prescriber"], started_at=form_time(local(1)),
                 ended_at=form_time(local(1) + timedelta(minutes=40)),
                 discharged_at=form_time(local(1) + timedelta(minutes=130))).status_code == 302
    live = TreatmentCourse.id == team["course"]

    def listed():
        now = utcnow()
        return ([(w.dosing_session_id, w.window, w.status, w.covered) for w in open_windows(live, now)[team["course"]]],
                [(i.kind, i.due, i.detail) for i in worklist(now)],
                window_summaries([db.session.get(TreatmentCourse, team["course"])], now))

    with app.test_request_context():
        from_table = listed()
        assert [covered for *_, covered in from_table[0]] == [False, False] and len(from_table[1]) == 2
        db.session.execute(delete(StoredWindow).where(StoredWindow.dosing_session_id == second))
        assert listed() == from_table  # a row missing: the course is worked out
        db.session.execute(update(StoredWindow).values(opens=utcnow() - timedelta(days=100), covered=True,
                                                      zone="Pacific/Auckland"))
        assert listed() == from_table  # written under another zone: not trusted
        db.session.rollback()

    # The clinic moves: the rows say New York, so lists work the windows out in London time
    # (day spans end at another instant whenever a clock change falls between the two zones').
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
    assert_current(make)


def test_the_rebuild_command_fills_an_emptied_table(app, make):
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    full = make.query(stored_windows)
    make.run(lambda: db.session.execute(delete(StoredWindow)))
    result = app.test_cli_runner().invoke(args=["windows", "rebuild"])
    assert result.exit_code == 0 and f"{len(full)} integration windows stored." in result.output
    assert make.query(stored_windows) == full


def test_concurrent_changes_on_one_course_leave_its_windows_current(app, team, make, auth, signed_window):
    """One desk cancels the window's only session while another books a second one: whichever
    commits last, the stored row says what the records say."""
    auth.login("desk")
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
        assert assert_current(make)[signed_window][4] is True
    held = make.query(lambda: db.session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.kind == "integration", Appointment.status == "booked")))
    assert held == 1
