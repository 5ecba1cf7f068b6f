"""List pages run a fixed number of SQL statements, however many patients they show."""
from datetime import timedelta

import pytest

from ketamine_integration.extensions import db
from tests.integration.test_dosing import _sign, form_time, local
from tests.conftest import todays_world
from tests.statements import page_statements

# On SQLite and PostgreSQL: SQL statement counts.
pytestmark = pytest.mark.both_engines




def _add_course_with_open_window(make, auth, n):
    therapist = make.user("therapist", username=f"qt{n}")
    prescriber = make.user("prescriber", username=f"qp{n}")
    course = make.course(make.patient(family_name=f"Counted{n}"), therapist, prescriber, phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(3), days_between=2, count=1, room=f"Suite {n}")
    auth.sign_in(f"qp{n}")
    _sign(make, auth, session_id, prescriber)
    auth.logout()


def _staff_clinic(make, auth, courses: int) -> None:
    """The desk and `courses` courses with an open window: built once per engine, worker and clinic day (the
    windows are today's) for both pages (tests.conftest.todays_world; the larger from the smaller), loaded for
    each. The client is signed out."""
    def one():
        make.user("staff", username="desk")
        _add_course_with_open_window(make, auth, 0)

    def more():
        _staff_clinic(make, auth, 1)
        for n in range(1, courses):
            _add_course_with_open_window(make, auth, n)
    todays_world(make.app, f"staff_clinic_{courses}", one if courses == 1 else more)


@pytest.mark.parametrize("path", ["/worklist", "/schedule/auto"])
def test_staff_pages_do_not_grow_with_the_clinic(make, auth, client, app, path):
    _staff_clinic(make, auth, 1)
    auth.sign_in("desk")
    one = page_statements(app, client, path)
    _staff_clinic(make, auth, 5)
    auth.sign_in("desk")
    assert page_statements(app, client, path) == one


def test_the_clinicians_dashboard_does_not_grow_with_the_caseload(make, auth, client, app):
    """Home page: phase, next session, window status, alerts and drafts of every patient, in bulk."""
    therapist = make.user("therapist", username="dash")
    prescriber = make.user("prescriber", username="dashp")

    def add_patient(n):
        course = make.course(make.patient(family_name=f"Dash{n}"), therapist, prescriber, phase="experience")
        [session_id] = make.dosing_plan(course, first_start=local(3, 8 + 3 * n), days_between=2, count=1,
                                        room=f"Dash suite {n}")
        auth.sign_in("dashp")
        _sign(make, auth, session_id, prescriber, started_at=form_time(local(3, 8 + 3 * n)),
              ended_at=form_time(local(3, 8 + 3 * n) + timedelta(minutes=40)),
              discharged_at=form_time(local(3, 8 + 3 * n) + timedelta(minutes=130)))
        auth.logout()
    add_patient(0)
    auth.sign_in("dash")
    one = page_statements(app, client, "/")
    auth.logout()
    for n in range(1, 4):
        add_patient(n)
    auth.sign_in("dash")
    assert page_statements(app, client, "/") == one


def test_the_course_page_offers_times_for_every_planned_dose_in_the_same_statements(make, auth, client, app):
    """Each planned dose's provisional window (issue 20, point 1) is worked out from what the page
    reads already, and the times offered for all the windows come from one read of everyone's hours."""
    from datetime import time

    from ketamine_integration.bookings.models import WorkingHours

    therapist = make.user("therapist", username="ahead")
    prescriber = make.user("prescriber", username="aheadp")
    course = make.course(make.patient(family_name="Planned"), therapist, prescriber, phase="experience")
    make.run(lambda: db.session.add_all(WorkingHours(clinician_id=therapist, weekday=d, starts=time(9),
                                                     ends=time(17)) for d in range(7)))
    make.dosing_plan(course, first_start=local(-7), days_between=2, count=1)
    auth.sign_in("ahead")
    one = page_statements(app, client, f"/courses/{course}")
    make.dosing_plan(course, first_start=local(-9), days_between=2, count=3)
    page = client.get(f"/courses/{course}").get_data(as_text=True)
    assert page.count("provisional window</summary>") == 4
    assert page_statements(app, client, f"/courses/{course}") == one


def _add_course_after_its_series(make, auth, n):
    """An IM KAP course whose one-dose series ended ten days ago: its first session after the series is
    open and unbooked (on the staff worklist), its window closed."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.courses.services import change_phase
    from ketamine_integration.domain.phases import Phase

    therapist = make.user("therapist", username=f"at{n}")
    prescriber = make.user("prescriber", username=f"ap{n}")
    course = make.course(make.patient(family_name=f"After{n}"), therapist, prescriber, protocol="im-ketamine-kap",
                         phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(10), days_between=7, count=1, room=f"After suite {n}")
    auth.sign_in(f"ap{n}")
    _sign(make, auth, session_id, prescriber, route="im", started_at=form_time(local(10)),
          ended_at=form_time(local(10) + timedelta(minutes=40)),
          discharged_at=form_time(local(10) + timedelta(minutes=130)))
    auth.logout()

    def move():
        found = db.session.get(TreatmentCourse, course)
        change_phase(found, Phase.INTEGRATION, by=db.session.get(User, therapist), expected_version=found.version,
                     reason="Series cut short on purpose.", override=True)
    make.run(move)


def test_the_worklist_does_not_grow_with_sessions_after_the_series(make, auth, client, app):
    make.user("staff", username="desk")
    _add_course_after_its_series(make, auth, 0)
    auth.sign_in("desk")
    one = page_statements(app, client, "/worklist")
    assert "session 1 after the series" in client.get("/worklist").get_data(as_text=True)
    auth.logout()
    for n in range(1, 5):
        _add_course_after_its_series(make, auth, n)
    auth.sign_in("desk")
    assert client.get("/worklist").get_data(as_text=True).count("session 1 after the series") == 5
    assert page_statements(app, client, "/worklist") == one


def test_the_prescribers_worklist_does_not_grow_with_their_patients(make, auth, client, app):
    """Each patient: an esketamine dose signed (a REMS form due) and the next one planned and past
    its time without a record (overdue)."""
    therapist = make.user("therapist", username="pwt")
    prescriber = make.user("prescriber", username="pwp")

    def add_patient(n):
        course = make.course(make.patient(family_name=f"Rems{n}"), therapist, prescriber,
                             protocol="esketamine-trd-rems", phase="experience")
        first, _overdue = make.dosing_plan(course, first_start=local(9, 8 + 3 * n), days_between=4, count=2,
                                           room=f"Rems suite {n}")
        start = local(9, 8 + 3 * n)
        auth.sign_in("pwp")
        assert _sign(make, auth, first, prescriber, started_at=form_time(start), route="intranasal",
                     medication="esketamine", dose_mg="56", weight_kg="",
                     ended_at=form_time(start + timedelta(minutes=15)),
                     discharged_at=form_time(start + timedelta(minutes=140)),
                     ready_to_leave_at=form_time(start + timedelta(minutes=90)),
                     vitals_acceptable_before_dosing="yes", vitals_acceptable_before_discharge="yes",
                     concomitant_sedating_medications="none").status_code == 302
        auth.logout()
    add_patient(0)
    auth.sign_in("pwp")
    one = page_statements(app, client, "/prescriber/")
    auth.logout()
    for n in range(1, 4):
        add_patient(n)
    auth.sign_in("pwp")
    page = client.get("/prescriber/").get_data(as_text=True)
    assert page.count('<details class="rems-group">') == 4 and page.count("not recorded</strong>") == 4
    assert page_statements(app, client, "/prescriber/") == one


@pytest.mark.parametrize("username", ["desk", "ther", "pres", "nurse"])
def test_each_roles_home_page_does_not_grow_with_what_waits(make, auth, client, app, username):
    """Issue 21, point 1: the day, the counts and their lists, and the menu's badge in bulk: two more
    pairs of patients, each with a window closing, sessions today and tomorrow, a draft, notes waiting,
    an answer and a dose overdue, run the same statements. (Both clinics are built once per engine and
    worker, tests.home_world: the larger is loaded in place of the smaller, and the user signs in again.)"""
    from tests.home_world import grown_home_world, reused_home_world

    reused_home_world(make)
    auth.sign_in(username)
    client.get("/")  # the first request may fill caches (protocol snapshots)
    one = page_statements(app, client, "/")
    grown_home_world(make)
    auth.sign_in(username)
    page = client.get("/").get_data(as_text=True)
    assert page.count("Tate Today") >= 3 or username in ("desk", "nurse")
    assert page_statements(app, client, "/") == one


def test_the_menus_badge_does_not_grow_with_what_waits(make, auth, client, app):
    """Every page with the menu counts what waits on the user: a constant number of statements."""
    from tests.home_world import grown_home_world, reused_home_world

    ids = reused_home_world(make)
    for username in ("desk", "ther", "pres"):
        auth.sign_in(username)
        client.get("/protocols/")
        ids[f"{username}-statements"] = page_statements(app, client, "/protocols/")
        auth.logout()
    grown_home_world(make)
    for username in ("desk", "ther", "pres"):
        auth.sign_in(username)
        assert page_statements(app, client, "/protocols/") == ids[f"{username}-statements"], username
        auth.logout()


def test_the_course_page_reads_its_forms_packet_once_however_many_forms_are_signed(make, auth, client, app):
    """The packet's status (issue 26) is read once per course page and handed to the checklist and the
    preparation gate: reading it three times cost three reads of every signature (and a parse of each)."""
    from sqlalchemy import event

    therapist = make.user("therapist", username="packet")
    prescriber = make.user("prescriber", username="packetp")
    course = make.course(make.patient(family_name="Packet", given_name="Pia"), therapist, prescriber)
    make.sign_packet(course, only={"intake-questionnaire"})
    auth.sign_in("packet")
    one = page_statements(app, client, f"/courses/{course}")
    make.sign_packet(course)
    assert page_statements(app, client, f"/courses/{course}") == one
    read = []
    with app.app_context():
        engine = db.engine
    listener = lambda _conn, _cursor, statement, *args: read.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(f"/courses/{course}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # the menu badge's one statement of counts reads signed_forms too (the countersignatures owed the user,
    # home.waiting): the packet is the other statements' business
    packet_reads = [s for s in read if "FROM signed_forms" in s and " AS countersign" not in s]
    assert len(packet_reads) == 1, packet_reads
    assert sum("FROM form_packets" in s for s in read) == 1
