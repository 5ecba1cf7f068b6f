"""Dosing sessions are booked like any session: a room and a clinician, conflict-checked, kept in step."""
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import Appointment
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_dosing import NY, _plan, _sign, form_time, local

#: prescriber2 is not on the patients' care teams: staff ask for the membership with the plan
JOIN = {"join_care_team": "y", "join_reason": "second prescriber runs the series"}

@pytest.fixture
def clinic(make):
    return clinic_world(make)


def clinic_world(make) -> dict:
    """make_clinic's clinic, built once per day, worker and engine (reused_world) and loaded from its snapshot
    after: the fixture of this file and test_dosing_booking_edges.py."""
    return todays_world(make.app, "dosing_bookings_clinic", lambda: make_clinic(make))


def make_clinic(make):
    """A therapist, two prescribers, staff, two dosing suites and two patients in experience."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "prescriber2": make.user("prescriber", username="pres2", full_name="Petra Lune"),
           "staff": make.user("staff", username="desk")}
    ids["suite1"], ids["suite2"] = make.room("Dosing Suite 1"), make.room("Dosing Suite 2")
    for name in ("One", "Two"):
        patient = make.patient(family_name=f"Dosebook{name}")
        ids[name] = make.course(patient, ids["therapist"], ids["prescriber"], phase="experience")
    return ids


def _bookings(make, course_id=None):
    def load():
        stmt = select(Appointment).where(Appointment.kind == "dosing").order_by(Appointment.starts_at)
        if course_id is not None:
            stmt = stmt.where(Appointment.course_id == course_id)
        rows = db.session.scalars(stmt).all()
        for row in rows:
            _ = [c.change for c in row.changes], row.dosing_session.sequence
        return rows
    return make.query(load)


def _sessions(make, course_id):
    return make.query(lambda: db.session.scalars(select(DosingSession).where(
        DosingSession.course_id == course_id).order_by(DosingSession.sequence)).all())


def soon(days: int, hour: int = 10) -> datetime:
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def test_a_plan_books_each_session_with_its_room_clinician_and_default_length(clinic, make, auth, client):
    auth.sign_in("desk")
    response = _plan(auth, clinic["One"], soon(2), days_between=2, count=3, clinician=clinic["prescriber2"],
                     room=clinic["suite2"], **JOIN)
    assert response.status_code == 302
    bookings = _bookings(make, clinic["One"])
    sessions = _sessions(make, clinic["One"])
    assert [b.dosing_session_id for b in bookings] == [s.id for s in sessions]
    assert {(b.clinician_id, b.room_id, b.status, b.modality) for b in bookings} == {
        (clinic["prescriber2"], clinic["suite2"], "booked", "in_person")}
    assert [b.starts_at for b in bookings] == [s.planned_start for s in sessions]
    assert {b.ends_at - b.starts_at for b in bookings} == {timedelta(minutes=120)}  # the built-in dosing length
    assert all([c.change for c in b.changes] == ["booked"] for b in bookings)
    page = page_text(client.get(f"/courses/{clinic['One']}"))
    assert "Petra Lune, Dosing Suite 2, 10:00–12:00" in page
    # the room's day on the calendar shows it, numbered
    day = soon(2).date().isoformat()
    calendar = page_text(client.get(f"/calendar?date={day}&view=day&room={clinic['suite2']}"))
    assert "10:00–12:00 , Testa DosebookOne , ◆ Dosing session 1" in calendar


@pytest.mark.parametrize("who, room, named", [
    ("prescriber", "suite2", "Dosing session with Orrin Vale"),                     # the clinician is busy
    ("prescriber2", "suite1", "in Dosing Suite 1"),                                 # the room is taken
])
def test_a_plan_that_clashes_is_refused_naming_the_clash_and_plans_nothing(clinic, make, auth, who, room, named):
    auth.sign_in("desk")
    assert _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"],
                 room=clinic["suite1"]).status_code == 302
    # Patient Two's series would meet patient One's session at its second date.
    refused = _plan(auth, clinic["Two"], soon(0, 11), days_between=2, count=2, clinician=clinic[who],
                    room=clinic[room])
    text_ = page_text(refused)
    assert refused.status_code == 422
    assert "Session 2 of the plan" in text_ and "That time overlaps:" in text_ and named in text_
    assert _sessions(make, clinic["Two"]) == [] and len(_bookings(make)) == 1


def test_the_patient_cannot_be_booked_for_therapy_during_their_dosing(clinic, make, auth):
    [past] = make.dosing_plan(clinic["One"], first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    _sign(make, auth, past, clinic["prescriber"])  # its integration window is open for days
    auth.logout()
    auth.sign_in("desk")
    # tomorrow: four days after the last infusion, as the IV protocol's 2-4 days allow
    assert _plan(auth, clinic["One"], soon(1), count=1, clinician=clinic["prescriber2"],
                 room=clinic["suite1"], **JOIN).status_code == 302
    refused = auth.post(f"/courses/{clinic['One']}/sessions", {
        "kind": "integration", "starts_at": form_time(soon(1, 11)), "clinician": clinic["therapist"],
        "modality": "telehealth"})
    assert refused.status_code == 422
    assert "That time overlaps: Dosing session with Petra Lune" in page_text(refused)
    assert "(same patient)" in page_text(refused)


def test_a_plan_needs_a_clinician_who_may_run_it_and_a_room(clinic, make, auth):
    auth.sign_in("desk")
    as_staff = _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["staff"], room=clinic["suite1"])
    assert as_staff.status_code == 422 and "Not a valid choice" in page_text(as_staff)
    no_room = _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"], room="")
    assert no_room.status_code == 422
    assert _sessions(make, clinic["One"]) == [] and _bookings(make) == []


def test_moving_a_dosing_session_moves_its_booking_or_neither(clinic, make, auth):
    auth.sign_in("desk")
    _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"], room=clinic["suite1"])
    _plan(auth, clinic["Two"], soon(3), count=1, clinician=clinic["prescriber"], room=clinic["suite2"])
    [one] = _sessions(make, clinic["One"])
    moved = auth.post(f"/dosing/{one.id}/reschedule", {"planned_start": form_time(soon(2, 14))})
    assert moved.status_code == 302
    [booking] = _bookings(make, clinic["One"])
    assert booking.starts_at == soon(2, 14) and booking.ends_at == soon(2, 16)
    assert [c.change for c in booking.changes] == ["booked", "rescheduled"]
    # onto patient Two's session with the same prescriber: refused, nothing moves
    clash = auth.post(f"/dosing/{one.id}/reschedule", {"planned_start": form_time(soon(3, 11))},
                      follow_redirects=True)
    assert "That time overlaps: Dosing session with Orrin Vale" in page_text(clash)
    assert _sessions(make, clinic["One"])[0].planned_start == soon(2, 14)
    assert _bookings(make, clinic["One"])[0].starts_at == soon(2, 14)


def test_the_booking_changes_only_with_its_dosing_session(clinic, make, auth):
    auth.sign_in("desk")
    _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"], room=clinic["suite1"])
    [booking] = _bookings(make)
    for path, data in ((f"/appointments/{booking.id}/cancel", {"reason": "By hand"}),
                       (f"/appointments/{booking.id}/reschedule", {"starts_at": form_time(soon(4))})):
        response = auth.post(path, data, follow_redirects=True)
        assert "moves and is cancelled with its dosing session" in page_text(response)
    assert _bookings(make)[0].status == "booked" and _bookings(make)[0].starts_at == soon(2)


def test_cancelling_frees_the_room_and_signing_marks_it_attended(clinic, make, auth):
    auth.sign_in("desk")
    _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"], room=clinic["suite1"])
    [session] = _sessions(make, clinic["One"])
    assert auth.post(f"/dosing/{session.id}/cancel", {"reason": "Patient has a cold"}).status_code == 302
    [booking] = _bookings(make, clinic["One"])
    assert booking.status == "cancelled" and booking.cancel_reason == "Patient has a cold"
    # the room and the prescriber are free again
    assert _plan(auth, clinic["Two"], soon(2), count=1, clinician=clinic["prescriber"],
                 room=clinic["suite1"]).status_code == 302
    # a session that happened and is signed: its booking says attended
    [past] = make.dosing_plan(clinic["One"], first_start=local(3), days_between=2, count=1)
    auth.logout()
    auth.sign_in("pres")
    assert _sign(make, auth, past, clinic["prescriber"]).status_code == 302
    [held] = [b for b in _bookings(make, clinic["One"]) if b.dosing_session_id == past]
    assert held.status == "attended" and [c.change for c in held.changes][-1] == "attended"


def test_ending_a_course_releases_its_future_bookings(clinic, make, auth):
    auth.sign_in("desk")
    _plan(auth, clinic["One"], soon(2), days_between=2, count=2, clinician=clinic["prescriber"],
          room=clinic["suite1"])
    auth.logout()
    auth.sign_in("pres")
    course = make.query(lambda: db.session.get(TreatmentCourse, clinic["One"]))
    assert auth.end_course(clinic["One"], {
        "target": "discontinued", "reason": "Patient moved away; care transferred.", "version": course.version,
    }).status_code == 302
    assert {(b.status, b.cancel_reason) for b in _bookings(make, clinic["One"])} == {
        ("cancelled", "Course discontinued")}


@pytest.mark.both_engines  # a database constraint
def test_the_database_refuses_a_dosing_booking_without_its_session(clinic, make, app):
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(text(
                "INSERT INTO appointments (patient_id, course_id, clinician_id, kind, starts_at, ends_at, modality,"
                " status, created_at, created_by_id, version) SELECT patient_id, id, prescriber_id, 'dosing',"
                " :s, :e, 'in_person', 'booked', :s, prescriber_id, 1 FROM treatment_courses WHERE id = :c"),
                {"s": soon(5), "e": soon(5, 12), "c": clinic["One"]})
        db.session.rollback()


@pytest.mark.both_engines  # parallel writers
def test_parallel_plans_for_one_room_give_exactly_one_success(clinic, make, app):
    """Two desks plan different patients into the same suite at the same time: one plan, one clear refusal."""
    attempts, results, barrier = 4, [], threading.Barrier(4)
    courses = [clinic["One"], clinic["Two"]] + [
        make.course(make.patient(family_name=f"Dosebook{n}"), clinic["therapist"], clinic["prescriber"],
                    phase="experience") for n in ("Three", "Four")]
    clinicians = [clinic["prescriber"], clinic["prescriber2"]] * 2

    def attempt(n):
        auth = Auth(app, app.test_client())
        auth.sign_in("desk")
        barrier.wait(timeout=30)
        response = auth.post(f"/courses/{courses[n]}/dosing/plan", {
            "first_start": form_time(soon(2)), "days_between": "2", "count": "1", "reason": "",
            "clinician": clinicians[n], "room": clinic["suite1"], **JOIN})
        results.append((response.status_code, page_text(response) if response.status_code != 302 else ""))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(code for code, _ in results) == [302] + [422] * (attempts - 1), results
    assert all("That time overlaps: Dosing session with" in t for code, t in results if code == 422)
    assert len(_bookings(make)) == 1
    assert sum(len(_sessions(make, c)) for c in courses) == 1
