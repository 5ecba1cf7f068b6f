"""List pages run a fixed number of SQL statements, however many patients they show."""
from datetime import timedelta

import pytest
from sqlalchemy import event

from ketamine_integration.extensions import db
from tests.integration.test_dosing import _sign, form_time, local

# On SQLite and PostgreSQL: SQL statement counts.
pytestmark = pytest.mark.both_engines


def _statements(app, client, path) -> int:
    count = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(count)


def _add_course_with_open_window(make, auth, n):
    therapist = make.user("therapist", username=f"qt{n}")
    prescriber = make.user("prescriber", username=f"qp{n}")
    course = make.course(make.patient(family_name=f"Counted{n}"), therapist, prescriber, phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(3), days_between=2, count=1, room=f"Suite {n}")
    auth.login(f"qp{n}")
    _sign(make, auth, session_id, prescriber)
    auth.logout()


@pytest.mark.parametrize("path", ["/worklist", "/schedule/auto"])
def test_staff_pages_do_not_grow_with_the_clinic(make, auth, client, app, path):
    make.user("staff", username="desk")
    _add_course_with_open_window(make, auth, 0)
    auth.login("desk")
    one = _statements(app, client, path)
    auth.logout()
    for n in range(1, 5):
        _add_course_with_open_window(make, auth, n)
    auth.login("desk")
    assert _statements(app, client, path) == one


def test_the_clinicians_dashboard_does_not_grow_with_the_caseload(make, auth, client, app):
    """Home page: phase, next session, window status, alerts and drafts of every patient, in bulk."""
    therapist = make.user("therapist", username="dash")
    prescriber = make.user("prescriber", username="dashp")

    def add_patient(n):
        course = make.course(make.patient(family_name=f"Dash{n}"), therapist, prescriber, phase="experience")
        [session_id] = make.dosing_plan(course, first_start=local(3, 8 + 3 * n), days_between=2, count=1,
                                        room=f"Dash suite {n}")
        auth.login("dashp")
        _sign(make, auth, session_id, prescriber, started_at=form_time(local(3, 8 + 3 * n)),
              ended_at=form_time(local(3, 8 + 3 * n) + timedelta(minutes=40)),
              discharged_at=form_time(local(3, 8 + 3 * n) + timedelta(minutes=130)))
        auth.logout()
    add_patient(0)
    auth.login("dash")
    one = _statements(app, client, "/")
    auth.logout()
    for n in range(1, 4):
        add_patient(n)
    auth.login("dash")
    assert _statements(app, client, "/") == one


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
    auth.login("ahead")
    one = _statements(app, client, f"/courses/{course}")
    make.dosing_plan(course, first_start=local(-9), days_between=2, count=3)
    page = client.get(f"/courses/{course}").get_data(as_text=True)
    assert page.count("provisional window</summary>") == 4
    assert _statements(app, client, f"/courses/{course}") == one
