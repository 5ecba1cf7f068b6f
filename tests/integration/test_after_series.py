"""Sessions after the series (issue 20, point 7): planned from the protocol when the series ends,
counted from its last signed dose, shown on the course page with suggestions, covered by the one
coverage rule, flagged on the staff worklist when near and unbooked, listed when the course ends."""
import re
from datetime import datetime, time, timedelta

import pytest
import yaml
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import change_phase
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.coverage import Coverage
from ketamine_integration.domain.phases import Phase
from ketamine_integration.experience.services import fetch_dosing_sessions
from ketamine_integration.extensions import db
from ketamine_integration.scheduling.after_series import course_plan, fetch_after_series_sessions
from tests.conftest import page_text
from tests.integration import test_scheduling
from tests.integration.test_courses import protocol_dir  # noqa: F401 (a fixture)
from tests.integration.test_dosing import NY, _sign, form_time, local

team = test_scheduling.team

#: the IM KAP series of the tests: three doses a week apart, the last ten days ago
SERIES_DAYS_AGO = (24, 17, 10)


def sign_dose(make, auth, session_id, prescriber, days_ago):
    start = local(days_ago, 9)
    response = _sign(make, auth, session_id, prescriber, route="im", started_at=form_time(start),
                     ended_at=form_time(start + timedelta(minutes=40)),
                     discharged_at=form_time(start + timedelta(minutes=130)))
    assert response.status_code == 302


def series_done(make, auth, team, *, family="After", days_ago=SERIES_DAYS_AGO, enter_integration=True) -> int:
    """An IM KAP course whose series (one dose per `days_ago`, signed) has ended: in integration."""
    course = make.course(make.patient(family_name=family), team["therapist"], team["prescriber"],
                         protocol="im-ketamine-kap", phase="experience")
    ids = make.dosing_plan(course, first_start=local(days_ago[0], 9), days_between=days_ago[0] - days_ago[1],
                           count=len(days_ago), room=f"Suite {family}")
    auth.sign_in("pres")
    for session_id, ago in zip(ids, days_ago):
        sign_dose(make, auth, session_id, team["prescriber"], ago)
    auth.logout()
    if enter_integration:
        enter(make, course, Phase.INTEGRATION, team["therapist"])
    return course


def enter(make, course_id, phase, by_id):
    def move():
        course = db.session.get(TreatmentCourse, course_id)
        change_phase(course, phase, by=db.session.get(User, by_id), expected_version=course.version,
                     reason="Series complete; the team agreed.", override=True)
    make.run(move)


def plan_of(make, course_id):
    def read():
        course = db.session.get(TreatmentCourse, course_id)
        return course_plan(course, fetch_dosing_sessions(course_id), fetch_after_series_sessions(course_id), utcnow())
    return make.query(read)


def every_day_hours(make, clinician):
    test_scheduling._hours(make, clinician, starts=time(9), ends=time(17))


def test_planned_when_the_series_ends_counted_from_its_last_dose(team, make, auth, client):
    course = series_done(make, auth, team, enter_integration=False)
    auth.sign_in("desk")
    assert "Planned when the series ends" in page_text(client.get(f"/courses/{course}"))
    enter(make, course, Phase.INTEGRATION, team["therapist"])
    plan = plan_of(make, course)
    # counted from the third dose's end (ten days ago): due 14, 28 and 42 days after that day
    last_day = local(10).date()
    assert plan.last_dose.sequence == 3
    assert [r.session.due for r in plan.rows] == [last_day + timedelta(days=d) for d in (14, 28, 42)]
    assert [r.status.label for r in plan.rows][1:] == ["Not yet open", "Not yet open"]
    assert [r.coverage.state for r in plan.rows] == [Coverage.UNCOVERED] * 3
    text = page_text(client.get(f"/courses/{course}"))
    assert "Sessions after the series" in text and "Counted from dosing session #3" in text
    assert f"1 of 3 {(last_day + timedelta(days=14)).isoformat()}" in text
    assert (f"{(last_day + timedelta(days=7)).isoformat()} to {(last_day + timedelta(days=20)).isoformat()}"
            in text)


@pytest.mark.both_engines  # the worklist's query of series ends (subquery, GROUP BY ... HAVING)
def test_the_worklist_flags_the_open_one_until_a_booking_from_a_suggestion(team, make, auth, client):
    course = series_done(make, auth, team)
    every_day_hours(make, team["therapist"])
    auth.sign_in("desk")
    worklist = page_text(client.get("/worklist"))
    # the first is open and unbooked; the second opens in eleven days (more than a week): not yet
    assert "Session after the series due, nothing booked" in worklist
    assert "session 1 after the series" in worklist and "session 2 after the series" not in worklist
    html = client.get(f"/courses/{course}").get_data(as_text=True)
    assert "Suggested times for session 1 after the series" in page_text(client.get(f"/courses/{course}"))
    form = html.split('id="after-sugg-1"', 1)[1].split("</form>", 1)[0]
    starts_at = form.split('name="starts_at" value="', 1)[1].split('"', 1)[0]
    clinician = form.split('name="clinician" value="', 1)[1].split('"', 1)[0]
    assert clinician == str(team["therapist"])
    first = plan_of(make, course).rows[0].session
    assert first.contains(datetime.fromisoformat(starts_at).replace(tzinfo=NY))
    booked = auth.post(f"/courses/{course}/sessions", {"kind": "integration", "starts_at": starts_at,
                                                        "clinician": clinician, "room": "0",
                                                        "modality": "telehealth"})
    assert booked.status_code == 302
    assert [r.coverage.state for r in plan_of(make, course).rows][0] is Coverage.PROVISIONAL
    assert "session 1 after the series" not in page_text(client.get("/worklist"))
    text = page_text(client.get(f"/courses/{course}"))
    assert re.search(r"Booked, not yet held ?:", text) and "Suggested times for session 1 after the series" not in text


def test_a_follow_up_booked_in_the_period_is_the_session_after_the_series(team, make, auth, client):
    """Issue 21 review: the worklist said "nothing booked" beside a follow-up booked in the period. A
    follow-up counts after the series (never for a dose's window): the worklist, the course page and
    the therapist's caseload all say it is booked."""
    course = series_done(make, auth, team, days_ago=(30, 23, 16))  # the last dose's window has closed
    every_day_hours(make, team["therapist"])
    first = plan_of(make, course).rows[0].session
    when = datetime.combine(max(first.first_day, (datetime.now(NY) + timedelta(days=1)).date()), time(10), NY)
    auth.sign_in("desk")
    assert "session 1 after the series" in page_text(client.get("/worklist"))
    booked = auth.post(f"/courses/{course}/sessions", {
        "kind": "follow_up", "starts_at": form_time(when), "clinician": team["therapist"], "modality": "telehealth"})
    assert booked.status_code == 302
    assert plan_of(make, course).rows[0].coverage.state is Coverage.PROVISIONAL
    assert "session 1 after the series" not in page_text(client.get("/worklist"))
    after = page_text(client.get(f"/courses/{course}")).split("Sessions after the series", 1)[1]
    assert re.search(rf"Booked, not yet held ?: {when:%b %d %H:%M} \(follow-up, booked\)", after)
    # the caseload speaks of the sessions after the series once one is open or near: with the second
    # (opening within the week) booked too, nothing is missing
    auth.logout()
    auth.sign_in("ther")
    assert re.search(r"Testa After .*? After the series: not yet open, nothing booked",
                     page_text(client.get("/")).split("My patients", 1)[1])
    second = datetime.combine(plan_of(make, course).rows[1].session.first_day, time(10), NY)
    assert auth.post(f"/courses/{course}/sessions", {
        "kind": "follow_up", "starts_at": form_time(second), "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    assert re.search(r"Testa After .*? After the series: not yet open, booked",
                     page_text(client.get("/")).split("My patients", 1)[1])


def test_a_session_serving_the_last_window_does_not_count_again(team, make, auth):
    """Held two days ago, inside both the last dose's window (closing today) and the first period
    (open since three days ago): it covers the window; a second one covers the session after the series."""
    course = series_done(make, auth, team)
    auth.sign_in("ther")

    def held(days_ago):
        return auth.post(f"/courses/{course}/sessions/held", {
            "held-starts_at": form_time(local(days_ago, 11)), "held-minutes": "50", "held-modality": "telehealth",
            "held-attended": "y", "held-reason": "Walk-in after a hard week"})
    assert held(2).status_code == 302
    assert plan_of(make, course).rows[0].coverage.state is Coverage.UNCOVERED
    assert held(1).status_code == 302
    first = plan_of(make, course).rows[0]
    assert first.coverage.state is Coverage.COVERED
    assert [s.starts_at for s in first.coverage.sessions] == [local(1, 11)]


def test_ending_the_course_lists_the_sessions_still_ahead(team, make, auth):
    course = series_done(make, auth, team)
    auth.sign_in("pres")
    version = str(make.query(lambda: db.session.get(TreatmentCourse, course).version))
    preview = page_text(auth.post(f"/courses/{course}/phase", {
        "target": "completed", "reason": "Goals met; the patient chose to stop.", "version": version}))
    assert "Sessions after the series that will not be asked for" in preview
    for number in (1, 2, 3):
        assert f"Session {number} after the series, due" in preview
    assert "nothing booked" in preview
    done = auth.end_course(course, {"target": "completed", "reason": "Goals met; the patient chose to stop.",
                                    "version": version})
    assert done.status_code == 302
    [row] = make.audit_rows(action="course.phase_change", outcome="success")
    assert "3 session(s) after the series not held" in row.detail
    # the course page shows them closed with the course, asking for nothing
    page = page_text(auth.client.get(f"/courses/{course}"))
    after = page.split("Sessions after the series", 1)[1]
    assert after.count("Closed early: the course ended None held") == 3 and "Nothing booked" not in after
    assert "The course was completed" in page and "no session after that is asked for" in page
    # an ended course flags nothing
    auth.logout()
    auth.sign_in("desk")
    assert "Session after the series due" not in page_text(auth.client.get("/worklist"))


def test_no_session_after_the_series_when_the_protocol_asks_for_none(team, make, auth, client, protocol_dir):
    path = protocol_dir / "im-ketamine-kap.yaml"
    data = yaml.safe_load(path.read_text())
    data["integration"]["after_series"]["sessions"] = 0
    data["version"] += 1
    path.write_text(yaml.safe_dump(data))
    course = series_done(make, auth, team)
    assert plan_of(make, course).rows == ()
    auth.sign_in("desk")
    assert "asks for no integration sessions after the series" in page_text(client.get(f"/courses/{course}"))
    assert "Session after the series due" not in page_text(client.get("/worklist"))


def test_the_booked_session_is_the_appointment_made(team, make, auth):
    """Booking by hand in a period (the course's booking form) counts the same as a suggestion."""
    course = series_done(make, auth, team)
    auth.sign_in("desk")
    due = plan_of(make, course).rows[1].session.due
    when = datetime.combine(due, time(10), NY)
    assert test_scheduling._book(auth, course, team["therapist"], when).status_code == 302
    rows = plan_of(make, course).rows
    assert rows[1].coverage.state is Coverage.PROVISIONAL and rows[0].coverage.state is Coverage.UNCOVERED
    kinds = make.query(lambda: db.session.scalars(select(Appointment.kind).where(
        Appointment.course_id == course, Appointment.kind != "dosing")).all())
    assert kinds == ["integration"]
