"""The clinic-wide auto-schedule: a proposal staff review, then book the rows they choose; a result page
says what was booked, what could not be (why) and what was left out."""
import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import Appointment, Room, WorkingHours
from tests.stored_windows import assert_windows_current
from tests.conftest import page_text, todays_world
from tests.integration.test_dosing import _planned, _sign, _therapist_sessions, form_time, local


@pytest.fixture
def clinic(make, auth):
    """Two patients, each with a signed dosing session whose window is open and uncovered; the client signed in
    as the front desk. Built once per day, worker and engine, then loaded from its snapshot (reused_world)."""
    ids = todays_world(make.app, "auto_schedule", lambda: _two_open_windows(make, auth))
    auth.sign_in("desk")
    return ids


def _two_open_windows(make, auth) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres"), "staff": make.user("staff", username="desk")}

    def hours():
        for weekday in range(7):
            db.session.add(WorkingHours(clinician_id=ids["therapist"], weekday=weekday, starts=time(9),
                                        ends=time(17)))
    make.run(hours)
    courses = []
    for hour, name in ((9, "Autoone"), (13, "Autotwo")):
        patient = make.patient(family_name=name)
        course = make.course(patient, ids["therapist"], ids["prescriber"], phase="experience")
        team = {"course": course, "prescriber": ids["prescriber"]}
        session_id = _planned(make, team, hour=hour)[0]
        auth.sign_in("pres")
        _sign(make, auth, session_id, ids["prescriber"])
        auth.logout()
        courses.append(course)
    return {**ids, "courses": tuple(courses)}


def _rows(html):
    return list(zip(re.findall(r'name="course" value="(\d+)"', html), re.findall(r'name="window" value="(\d+)"', html),
                    re.findall(r'name="therapist" value="(\d+)"', html),
                    re.findall(r'name="starts_at" value="([^"]+)"', html), re.findall(r'name="room" value="(\d*)"', html)))


def _confirm_data(rows, picked=None):
    """The confirm form as posted: every proposed row, the chosen ones (all by default) ticked."""
    rows = [r + ("",) * (5 - len(r)) for r in rows]
    return {"course": [r[0] for r in rows], "window": [r[1] for r in rows], "therapist": [r[2] for r in rows],
            "starts_at": [r[3] for r in rows], "room": [r[4] for r in rows],
            "pick": [str(i) for i in (range(len(rows)) if picked is None else picked)]}


def _appointments(make):
    return make.query(_therapist_sessions)


def test_proposal_covers_every_uncovered_window_and_confirm_books_them(clinic, make, auth, client):
    html = client.get("/schedule/auto").get_data(as_text=True)
    rows = _rows(html)
    assert {int(r[0]) for r in rows} == set(clinic["courses"])
    assert len({r[3] for r in rows}) == 2  # one therapist: two different hours
    result = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert result.status_code == 200 and "Booked 2 integration sessions." in page_text(result)
    assert len(_appointments(make)) == 2
    assert "No uncovered window can be given a session" in page_text(client.get("/schedule/auto"))
    stored = assert_windows_current(make)  # the confirmed bookings rewrote the stored windows
    assert stored and all(row[4] for row in stored.values())


def test_something_booked_meanwhile_is_reported_and_the_rest_is_booked(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, therapist, starts_at, _room = rows[0]
    # Someone books the first proposed slot by hand before the proposal is confirmed.
    from datetime import datetime
    from zoneinfo import ZoneInfo
    local = datetime.fromisoformat(starts_at).astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")
    assert auth.post(f"/courses/{course}/sessions", {
        "starts_at": local, "minutes": "50", "clinician": therapist, "modality": "telehealth"}).status_code == 302
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    text = page_text(response)
    assert response.status_code == 200 and "Booked 1 integration session; 1 could not be booked" in text
    # the stale row is named with its reason, never silently dropped
    assert re.search(r"Not booked: changed since the proposal \(1\) .* Testa Auto\w+ .* the window was covered "
                     r"meanwhile", text)
    assert len(_appointments(make)) == 2  # the one booked by hand, and the other patient's


ROW = {"course": ["1"], "window": ["1"], "therapist": ["1"], "starts_at": ["2026-01-01T10:00:00+00:00"],
       "room": [""], "pick": ["0"]}


@pytest.mark.parametrize("data", [
    dict(ROW, therapist=["x"]),
    dict(ROW, starts_at=["2026-01-01T10:00:00"]),                                  # no zone
    dict(ROW, starts_at=["9999-12-31T23:30:00+00:00"]),
    dict(ROW, course=["99999999999999999999"], therapist=["99999999999999999999"]),  # ids no column holds
    dict(ROW, room=["cedar"]),                                                    # a room is an id or empty
    dict(ROW, room=[]),                                                           # a column short
    dict(ROW, pick=["1"]),                                                        # no such row
    dict(ROW, pick=["x"]),
    {},
])
def test_forged_confirmations_are_400(clinic, auth, data):
    assert auth.post("/schedule/auto/confirm", data).status_code == 400


def test_only_staff_and_admin_auto_schedule(clinic, auth, client):
    auth.logout()
    auth.sign_in("ther")
    assert client.get("/schedule/auto").status_code == 403


def test_a_window_covered_meanwhile_at_another_hour_is_detected(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, therapist, starts_at, _room = rows[0]
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    # the same hour a day later: inside the window and the working hours, whatever the time of day now
    other_hour = (datetime.fromisoformat(starts_at) + timedelta(days=1)).astimezone(ZoneInfo("America/New_York"))
    assert auth.post(f"/courses/{course}/sessions", {
        "starts_at": other_hour.strftime("%Y-%m-%dT%H:%M"), "minutes": "50", "clinician": therapist,
        "modality": "telehealth"}).status_code == 302
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows, picked=[0]))
    assert response.status_code == 200 and "the window was covered meanwhile" in page_text(response)
    assert "Nothing was booked." in page_text(response)
    assert len(_appointments(make)) == 1
    # proposing again from what is really booked: the other patient (not chosen) is still offered
    assert len(_rows(client.get("/schedule/auto").get_data(as_text=True))) == 1


def test_a_forged_row_cannot_add_a_therapist_to_the_care_team(clinic, make, auth, client):
    outsider = make.user("therapist", username="outsider")
    rows = [(r[0], r[1], str(outsider), r[3], r[4]) for r in _rows(client.get("/schedule/auto").get_data(as_text=True))]
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert response.status_code == 200 and "not on the patient's care team" in page_text(response)
    assert _appointments(make) == []


def test_the_proposal_avoids_the_patients_other_appointments(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, _therapist, starts_at, _room = rows[0]
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
    auth.sign_in("pres")
    assert _sign(make, auth, second, clinic["prescriber"], started_at=form_time(start),
                 ended_at=form_time(start + timedelta(minutes=40)),
                 discharged_at=form_time(start + timedelta(minutes=130))).status_code == 302
    auth.logout()
    auth.sign_in("desk")
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    mine = [r for r in rows if int(r[0]) == first]
    assert len(mine) == 2 and len({r[1] for r in mine}) == 2   # both windows, one session each
    assert len({r[3] for r in mine}) == 2                        # never at the same time
    # Booking the first may already count for the overlapping second window (the protocol
    # allows it): that is this batch's own doing, not a change, and both are booked.
    assert auth.post("/schedule/auto/confirm", _confirm_data(rows)).status_code == 200
    assert len([a for a in _appointments(make) if a.course_id == first]) == 2


def _where(make):
    return [(a.course_id, a.modality, a.room.name if a.room else None) for a in make.query(
        lambda: [a for a in _therapist_sessions() if a.room is None or a.room.name])]


def test_only_the_ticked_rows_are_booked_and_the_result_lists_each_row(clinic, make, auth, client):
    """Issue 21, point 5: a choice per row; the result names what was booked (patient, time, therapist,
    in person or telehealth, room) and what was left out."""
    html = client.get("/schedule/auto").get_data(as_text=True)
    assert html.count('type="checkbox" id="pick-') == 2 and html.count(" checked>") == 2  # all ticked at first
    rows = _rows(html)
    first = next(r for r in rows if int(r[0]) == clinic["courses"][0])
    second = next(r for r in rows if int(r[0]) == clinic["courses"][1])
    result = auth.post("/schedule/auto/confirm", _confirm_data(rows, picked=[rows.index(second)]))
    text = page_text(result)
    assert result.status_code == 200 and "Booked 1 integration session; 1 not chosen." in text
    assert re.search(r"Booked \(1\) Sessions booked Patient Time Therapist Where Testa Autotwo \S+ \S+ \S+–\S+ "
                     r"Hazel Quint (In person, \w[\w ]*|Telehealth) Not chosen", text)
    assert re.search(r"Not chosen \(1\) Testa Autoone ?: .* with Hazel Quint \((In person, \w[\w ]*|Telehealth)\) — "
                     r"left unticked, not booked", text)
    assert [a.course_id for a in _appointments(make)] == [int(second[0])]
    # what was left out is proposed again
    assert [int(r[0]) for r in _rows(client.get("/schedule/auto").get_data(as_text=True))] == [int(first[0])]


def test_each_row_shows_in_person_with_its_room_or_telehealth_and_is_booked_so(clinic, make, auth, client):
    """Rooms free all through the session go to the rows in time order; a row with none left is telehealth."""
    rooms = {make.room(name): name for name in ("Cedar Room",)}
    make.run(lambda: [setattr(r, "active", r.id in rooms) for r in db.session.scalars(select(Room))])
    html = client.get("/schedule/auto").get_data(as_text=True)
    rows = _rows(html)
    assert [r[4] for r in rows] == [str(next(iter(rooms)))] * 2   # two hours apart: the same room
    assert page_text(client.get("/schedule/auto")).count("In person, Cedar Room") == 2
    result = auth.post("/schedule/auto/confirm", _confirm_data(rows))
    assert page_text(result).count("In person, Cedar Room") == 2
    assert sorted(_where(make)) == sorted((int(r[0]), "in_person", "Cedar Room") for r in rows)


def test_a_room_taken_meanwhile_refuses_that_row_naming_why_and_books_the_other(clinic, make, auth, client):
    cedar = make.room("Cedar Room")
    make.run(lambda: [setattr(r, "active", r.id == cedar) for r in db.session.scalars(select(Room))])
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    course, _window, _therapist, starts_at, room = rows[0]
    assert room == str(cedar)
    other = make.user("therapist", username="other", full_name="Olive Other")
    other_patient = make.patient(family_name="Elsewhere")

    def take_the_room():
        start = datetime.fromisoformat(starts_at)
        db.session.add(Appointment(patient_id=other_patient, clinician_id=other, kind="follow_up", starts_at=start,
                                   ends_at=start + timedelta(minutes=50), modality="in_person", room_id=cedar,
                                   created_by_id=other))
    make.run(take_the_room)
    text = page_text(auth.post("/schedule/auto/confirm", _confirm_data(rows)))
    assert "Booked 1 integration session; 1 could not be booked" in text
    assert re.search(r"Not booked: changed since the proposal \(1\) .*In person, Cedar Room .*Cedar Room", text)
    assert [a.course_id for a in _appointments(make) if a.kind == "integration"] == [int(rows[1][0])]


def test_confirming_with_no_row_ticked_books_nothing_and_says_so(clinic, make, auth, client):
    rows = _rows(client.get("/schedule/auto").get_data(as_text=True))
    response = auth.post("/schedule/auto/confirm", _confirm_data(rows, picked=[]))
    assert response.status_code == 422
    assert "Choose at least one proposed session to book (tick its box); nothing was booked." in page_text(response)
    assert _appointments(make) == [] and len(_rows(response.get_data(as_text=True))) == 2
