"""The demo clinic's worklist conflict (demo/courses.py, load_demo_conflict): a session booked from a
suggestion, then leave entered over its day. The demo's doses follow the clock, so whether its first
experience course still had a window to book, and whether the best suggestion fell on a day that course
already had a session, depended on the hour `flask demo` ran: from about 14:40 New York time it booked
a second session that afternoon in a window another session covered. Here both situations are made at
whatever hour the test runs."""
from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, Room, TimeOff, WorkingHours
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_zone
from ketamine_integration.db.types import utcnow
from ketamine_integration.demo.courses import load_demo_conflict
from ketamine_integration.extensions import db
from ketamine_integration.scheduling.attendance import record_held_session
from ketamine_integration.scheduling.services import book_integration_session
from tests.home_world import sign_dose


def _world(make) -> dict:
    """A therapist who works around the clock and two IV courses in their experience phase:
    - covered: doses three days and 28 hours ago, their overlapping windows both covered by the session
      held two hours ago (the protocol lets one session serve both), and one booked for tomorrow;
    - open: a dose 30 hours ago whose window (open since 24 hours after it ended) nothing covers, and a
      session held seven hours ago, before that window opened."""
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    covered = make.course(make.patient(therapists=[therapist], prescribers=[prescriber]), therapist, prescriber,
                          phase="experience")
    open_ = make.course(make.patient(therapists=[therapist], prescribers=[prescriber]), therapist, prescriber,
                        phase="experience")
    room = make.room()

    def build():
        now = utcnow()
        db.session.add_all(WorkingHours(clinician_id=therapist, weekday=d, starts=time(0), ends=time(23, 59))
                           for d in range(7))
        who, by = db.session.get(User, prescriber), db.session.get(User, therapist)
        suite = db.session.get(Room, room)
        first, second = db.session.get(TreatmentCourse, covered), db.session.get(TreatmentCourse, open_)
        sign_dose(first, who, now - timedelta(days=3), suite)
        sign_dose(first, who, now - timedelta(hours=28), suite)
        sign_dose(second, who, now - timedelta(hours=30), suite)
        for course, hours_ago in ((first, 2), (second, 7)):
            record_held_session(course, by=by, starts_at=now - timedelta(hours=hours_ago), minutes=50,
                                modality="telehealth", reason="Walk-in after a hard night", now=now)
        book_integration_session(first, clinician_id=therapist, starts_at=now + timedelta(days=1), minutes=50,
                                 modality="telehealth", by=by, now=now)
    make.run(build)
    return {"therapist": therapist, "covered": covered, "open": open_}


def test_the_conflict_is_booked_in_a_window_that_needs_one_on_a_day_its_course_and_clinician_have_free(app, make):
    world = _world(make)

    def conflict():
        before = set(db.session.scalars(select(Appointment.id)))
        load_demo_conflict(utcnow())
        made = [a for a in db.session.scalars(select(Appointment).order_by(Appointment.id)) if a.id not in before]
        leave = db.session.scalars(select(TimeOff)).all()
        zone = clinic_zone()
        return (utcnow().astimezone(zone).date(),
                [(a.course_id, a.clinician_id, a.starts_at.astimezone(zone).date()) for a in made],
                [(t.clinician_id, t.starts_at.astimezone(zone), t.ends_at.astimezone(zone)) for t in leave])
    today, made, leave = make.run(conflict)
    # not in the first course, whose windows are all covered, but in the second one's open window
    [(course, clinician, day)] = made
    assert (course, clinician) == (world["open"], world["therapist"])
    # not today (that course's session was held this morning) nor tomorrow (the therapist has a booking)
    assert day > today + timedelta(days=1)
    # and the day's leave over it, midnight to midnight in the clinic's zone (23 or 25 hours on the days the
    # clocks change), which leaves that one session to move
    [(on_leave, starts, ends)] = leave
    assert on_leave == world["therapist"]
    assert (starts.date(), starts.time(), ends.date(), ends.time()) == (day, time(0), day + timedelta(days=1), time(0))
