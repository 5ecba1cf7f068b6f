"""Edge cases of dosing bookings found in review: lock order, early sessions, upgrades, first saves."""
import threading
import time
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.bookings import booking
from ketamine_integration.bookings.models import Appointment, SessionType
from tests.conftest import Auth, page_text
from tests.integration.test_dosing import _plan, _sign, form_time, local
from tests.integration.test_dosing_bookings import JOIN, _bookings, _sessions, clinic_world, soon


@pytest.fixture
def clinic(make):
    return clinic_world(make)


@pytest.mark.both_engines  # parallel writers
def test_a_plan_and_a_booking_for_one_course_at_once_both_succeed(clinic, make, app, monkeypatch):
    """The plan locks the course (NO KEY UPDATE) before the parties; the booking locks the
    parties, then inserts a row referencing the course (KEY SHARE). They must not deadlock on
    PostgreSQL; on SQLite the second simply waits for the first's write transaction."""
    course = clinic["One"]
    [past] = make.dosing_plan(course, first_start=local(3), days_between=2, count=1)
    signer = Auth(app, app.test_client())
    signer.login("pres")
    _sign(make, signer, past, clinic["prescriber"])
    original = booking.lock_parties

    def slow_for_plan(**kwargs):
        if threading.current_thread().name == "plan":
            time.sleep(1.0)  # widen the gap between the course lock and the party locks
        return original(**kwargs)
    monkeypatch.setattr(booking, "lock_parties", slow_for_plan)
    results, desks = {}, {n: Auth(app, app.test_client()) for n in ("plan", "book")}
    for desk in desks.values():
        desk.login("desk")

    def plan():
        results["plan"] = desks["plan"].post(f"/courses/{course}/dosing/plan", {
            # tomorrow afternoon: four days after the last infusion, as the IV protocol's 2-4 days allow
            "first_start": form_time(soon(1, 14)), "days_between": "2", "count": "1", "reason": "",
            "clinician": clinic["prescriber2"], "room": clinic["suite1"], **JOIN}).status_code

    def book():
        time.sleep(0.4)  # the plan holds the course row by now
        results["book"] = desks["book"].post(f"/courses/{course}/sessions", {
            "kind": "integration", "starts_at": form_time(soon(1, 11)), "clinician": clinic["therapist"],
            "modality": "telehealth"}).status_code
    threads = [threading.Thread(target=plan, name="plan"), threading.Thread(target=book, name="book")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {"plan": 302, "book": 302}


def test_a_session_held_early_moves_its_booking_to_what_happened(clinic, make, auth):
    auth.sign_in("desk")
    assert _plan(auth, clinic["One"], soon(3), count=1, clinician=clinic["prescriber"],
                 room=clinic["suite1"]).status_code == 302
    [session] = _sessions(make, clinic["One"])
    auth.logout()
    auth.sign_in("pres")
    held = local(1, 9)  # the patient came in yesterday instead
    assert _sign(make, auth, session.id, clinic["prescriber"], started_at=form_time(held),
                 ended_at=form_time(held + timedelta(minutes=40)),
                 discharged_at=form_time(held + timedelta(minutes=130))).status_code == 302
    [held_booking] = _bookings(make, clinic["One"])
    assert (held_booking.starts_at, held_booking.ends_at) == (held, held + timedelta(minutes=130))
    assert [c.change for c in held_booking.changes] == ["booked", "rescheduled", "attended"]
    assert held_booking.status == "attended"
    # the planned time is free again for someone else
    auth.logout()
    auth.sign_in("desk")
    assert _plan(auth, clinic["Two"], soon(3), count=1, clinician=clinic["prescriber"],
                 room=clinic["suite1"]).status_code == 302


@pytest.mark.both_engines  # a migration
def test_sessions_planned_before_dosing_bookings_get_one_on_upgrade(clinic, make, app, auth, client):
    auth.sign_in("desk")
    assert _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber"],
                 room=clinic["suite1"]).status_code == 302
    with app.app_context():
        downgrade(revision="0004_availability")   # a clinic database from before dosing bookings
        upgrade()
        db.session.remove()
        db.engine.dispose()
    make.sign_packet(clinic["Two"])  # the round trip emptied the signed forms, without which no dose is planned
    planned = make.query(lambda: db.session.scalar(select(func.count()).select_from(DosingSession)
                                                   .where(DosingSession.status == "planned")))
    [migrated] = _bookings(make)
    assert planned == 1 and migrated.clinician_id == clinic["prescriber"] and migrated.starts_at == soon(2)
    assert "Dosing session 1" in page_text(client.get(f"/calendar?date={soon(2).date().isoformat()}&view=day"))
    clash = _plan(auth, clinic["Two"], soon(2), count=1, clinician=clinic["prescriber"], room=clinic["suite2"])
    assert clash.status_code == 422 and "Dosing session with Orrin Vale" in page_text(clash)


@pytest.mark.both_engines  # parallel writers
def test_two_admins_setting_a_length_at_once_both_succeed(make, app):
    make.user("admin", username="adm1")
    make.user("admin", username="adm2")

    def slow(session, _context, _instances):
        if any(isinstance(o, SessionType) for o in session.new):
            time.sleep(0.5)  # both requests have found no row by now
    event.listen(Session, "before_flush", slow)
    results, barrier = [], threading.Barrier(2)
    try:
        def save(name, minutes):
            admin = Auth(app, app.test_client())
            admin.login(name)
            barrier.wait(10)
            results.append(admin.post("/session-types/", {"kind": "integration", "default_minutes": minutes})
                           .status_code)
        threads = [threading.Thread(target=save, args=("adm1", "45")),
                   threading.Thread(target=save, args=("adm2", "55"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        event.remove(Session, "before_flush", slow)
    assert results == [302, 302]
    assert make.query(lambda: db.session.get(SessionType, "integration").default_minutes) in (45, 55)


def test_the_clinician_running_a_dosing_session_can_open_its_record(clinic, make, auth, client):
    """Once staff added them to the care team with the plan (the only way they get access)."""
    auth.sign_in("desk")
    assert _plan(auth, clinic["One"], soon(2), count=1, clinician=clinic["prescriber2"],
                 room=clinic["suite1"], **JOIN).status_code == 302
    [session] = _sessions(make, clinic["One"])
    auth.logout()
    auth.sign_in("pres2")
    assert client.get(f"/dosing/{session.id}").status_code == 200


def test_a_forged_confirmation_cannot_book_a_window_twice_or_outside_it(clinic, make, auth, client):
    [past] = make.dosing_plan(clinic["One"], first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    _sign(make, auth, past, clinic["prescriber"])
    auth.logout()
    auth.sign_in("desk")
    day = soon(2, 10).isoformat()
    twice = auth.post("/schedule/auto/confirm", {"course": [clinic["One"]] * 2, "window": [past] * 2,
                                                 "therapist": [clinic["therapist"]] * 2,
                                                 "starts_at": [day, soon(2, 13).isoformat()], "room": [""] * 2,
                                                 "pick": ["0", "1"]})
    # the first row may be booked (its window is open then); the second is refused, never a second booking
    assert twice.status_code == 200 and "the proposal lists this window twice" in page_text(twice)
    outside = auth.post("/schedule/auto/confirm", {"course": [clinic["One"]], "window": [past],
                                                   "therapist": [clinic["therapist"]],
                                                   "starts_at": [soon(40, 10).isoformat()], "room": [""],
                                                   "pick": ["0"]})
    assert outside.status_code == 200 and "is outside that window" in page_text(outside)
    assert len(make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration"))
                          .all())) <= 1
