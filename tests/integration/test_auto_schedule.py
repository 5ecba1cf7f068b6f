"""The clinic-wide auto-schedule: a proposal staff review, then book all at once or nothing."""
import re
from datetime import time, timedelta

import pytest

from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import WorkingHours
from tests.stored_windows import assert_windows_current
from tests.conftest import page_text
from tests.integration.test_dosing import _planned, _sign, _therapist_sessions, form_time, local


@pytest.fixture
def clinic(make, auth):
    """Two patients, each with a signed dosing session whose window is open and uncovered."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres"), "staff": make.user("staff", username="desk")}

    def hours():
        for weekday in range(7):
            db.session.add(WorkingHours(clinician_id=ids["therapist"], weekday=weekday, starts=time(9),
                                        ends=time(17)))
    make.run(hours)
    ids["courses"] = []
    for hour, name in ((9, "Autoone"), (13, "Autotwo")):
        patient = make.patient(family_name=name)
        course = make.course(patient, ids["therapist"], ids["prescriber"], phase="experience")
        team = {"course": course, "prescriber": ids["prescriber"]}
        session_id = _planned(make, team, hour=hour)[0]
        auth.login("pres")
        _sign(make, auth, session_id, ids["prescriber"])
        auth.logout()
        ids["courses"].append(course)
    auth.login("desk")
    return ids


def _rows(html):
    return list(zip(re.findall(r'name="course" value="(\d+)"', html), re.findall(r'name="window" value="(\d+)"', html),
                    re.findall(r'name="therapist" value="(\d+)"', html),
                    re.findall(r'name="starts_at" value="([^"]+)"', html)))


def _confirm_data(rows):
    return {"course": [r[0] for r in rows], "window": [r[1] for r in rows], "therapist": [r[2] for r in rows],
            "starts_at": [r[3] for r in rows]}


def _appointments(make):
    return make.query(_therapist_sessions)


def test_proposal_covers_every_uncovered_window_and_confirm_books_them(clinic, make, auth, client):
    html = client.get("/schedule/auto").get_data(as_text=True)
    rows = _rows(html)
    assert {int(r[0]) for r in rows} == set(clinic["courses"])
    assert len({r[3] for r in rows}) == 2  # one therapist: two different hours
    assert auth.post("/schedule/auto/confirm", _confirm_data(rows)).status_code == 302
    assert len(_appointments(make)) == 2
    assert "No uncovered window can be given a session" in page_text(client.get("/schedule/auto"))
    stored = assert_windows_current(make)  # the confirmed bookings rewrote the stored windows
    assert stored and all(row[4] for row in stored.values())


def test_something_booked_meanwhile_is_detected_and_nothing_is_booked(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, therapist, starts_at = rows[0]
    # Someone books the first proposed slot by hand before the proposal is confirmed.
    from datetime import datetime
    from zoneinfo import ZoneInfo
    local = datetime.fromisoformat(starts_at).astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")
    assert auth.post(f"/courses/{course}/sessions", {
        "starts_at": local, "minutes": "50", "clinician": therapist, "modality": "telehealth"}).status_code == 302
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert response.status_code == 409
    assert "Nothing was booked, because the schedule changed since the proposal" in page_text(response)
    assert len(_appointments(make)) == 1  # only the one booked by hand


@pytest.mark.parametrize("data", [
    {"course": ["1"], "window": ["1"], "therapist": ["x"], "starts_at": ["2026-01-01T10:00:00+00:00"]},
    {"course": ["1"], "window": ["1"], "therapist": ["1"], "starts_at": ["2026-01-01T10:00:00"]},   # no zone
    {"course": ["1"], "window": ["1"], "therapist": ["1"], "starts_at": ["9999-12-31T23:30:00+00:00"]},
    {"course": ["99999999999999999999"], "window": ["1"], "therapist": ["99999999999999999999"],
     "starts_at": ["2026-12-01T10:00:00+00:00"]},                                   # ids no column holds
    {},
])
def test_forged_confirmations_are_400(clinic, auth, data):
    assert auth.post("/schedule/auto/confirm", data).status_code == 400


def test_only_staff_and_admin_auto_schedule(clinic, auth, client):
    auth.logout()
    auth.login("ther")
    assert client.get("/schedule/auto").status_code == 403


def test_a_window_covered_meanwhile_at_another_hour_is_detected(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, therapist, starts_at = rows[0]
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    # the same hour a day later: inside the window and the working hours, whatever the time of day now
    other_hour = (datetime.fromisoformat(starts_at) + timedelta(days=1)).astimezone(ZoneInfo("America/New_York"))
    assert auth.post(f"/courses/{course}/sessions", {
        "starts_at": other_hour.strftime("%Y-%m-%dT%H:%M"), "minutes": "50", "clinician": therapist,
        "modality": "telehealth"}).status_code == 302
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert response.status_code == 409 and "the window was covered meanwhile" in page_text(response)
    assert len(_appointments(make)) == 1
    # the page proposes again from what is really booked: the other patient is still offered
    assert len(_rows(response.get_data(as_text=True))) == 1


def test_a_forged_row_cannot_add_a_therapist_to_the_care_team(clinic, make, auth, client):
    outsider = make.user("therapist", username="outsider")
    rows = [(r[0], r[1], str(outsider), r[3]) for r in _rows(client.get("/schedule/auto").get_data(as_text=True))]
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert response.status_code == 409 and "not on the patient's care team" in page_text(response)
    assert _appointments(make) == []


def test_the_proposal_avoids_the_patients_other_appointments(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, _therapist, starts_at = rows[0]
    other = make.user("therapist", username="other", full_name="Olive Other")
    from datetime import datetime
    from ketamine_integration.bookings.models import Appointment as A
    from ketamine_integration.courses.models import TreatmentCourse

    def busy():
        c = db.session.get(TreatmentCourse, int(course))
        start = datetime.fromisoformat(starts_at)
        db.session.add(A(patient_id=c.patient_id, course_id=None, clinician_id=other, kind="follow_up",
                         starts_at=start, ends_at=start.replace(minute=50), created_by_id=other))
    make.run(busy)
    again = dict((r[0], r[3]) for r in _rows(client.get("/schedule/auto").get_data(as_text=True)))
    assert again.get(course) != starts_at


def test_a_patient_with_two_open_windows_gets_a_session_for_each_in_one_run(clinic, make, auth, client):
    # A second signed infusion two days after the first (at a time the prescriber is free): the
    # patient now has two uncovered windows, which overlap (IV: open 24 h to 14 d after each).
    first, start = clinic["courses"][0], local(1, 15)
    [second] = make.dosing_plan(first, first_start=start, days_between=2, count=1)
    auth.logout()
    auth.login("pres")
    assert _sign(make, auth, second, clinic["prescriber"], started_at=form_time(start),
                 ended_at=form_time(start + timedelta(minutes=40)),
                 discharged_at=form_time(start + timedelta(minutes=130))).status_code == 302
    auth.logout()
    auth.login("desk")
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    mine = [r for r in rows if int(r[0]) == first]
    assert len(mine) == 2 and len({r[1] for r in mine}) == 2   # both windows, one session each
    assert len({r[3] for r in mine}) == 2                        # never at the same time
    # Booking the first may already count for the overlapping second window (the protocol
    # allows it): that is this batch's own doing, not a change, and both are booked.
    assert auth.post("/schedule/auto/confirm", _confirm_data(rows)).status_code == 302
    assert len([a for a in _appointments(make) if a.course_id == first]) == 2
