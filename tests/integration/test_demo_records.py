"""The demo clinic's records tell one story: a dose is given and signed by the prescriber it was
booked with, the day it was given; integration sessions are held in therapy rooms (or by telehealth),
one a day at most per course; and each signed integration note is dated the day of a session its
author held with the patient."""
from collections import Counter

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.db.clinic_time import clinic_zone
from ketamine_integration.demo.courses import DOSING_ROOMS
from ketamine_integration.experience.models import SIGNED, DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote


def _records():
    zone = clinic_zone()
    doses = [(s.course_id, s.sequence, s.appointment.clinician_id, s.administered_by_id, s.signed_by_id,
              s.ended_at.astimezone(zone).date(), s.signed_at.astimezone(zone).date(), s.signed_at >= s.ended_at)
             for s in db.session.scalars(select(DosingSession).where(DosingSession.status == SIGNED))
             if s.appointment is not None]
    sessions = [(a.course_id, a.clinician_id, a.starts_at.astimezone(zone).date(), a.room.name if a.room else None,
                 a.status, a.outcome)
                for a in db.session.scalars(select(Appointment).where(Appointment.kind == "integration"))]
    notes = [(n.course_id, n.author_id, n.session_date) for n in db.session.scalars(select(SessionNote).where(
        SessionNote.kind == "integration", SessionNote.status == SIGNED))]
    return doses, sessions, notes


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_records_agree_with_each_other(app, make):
    doses, sessions, notes = make.query(_records)
    assert doses and sessions and notes
    for course, sequence, booked_with, given_by, signed_by, given_on, signed_on, after in doses:
        assert booked_with == given_by == signed_by, f"course {course} dose {sequence}: booked, given, signed by"
        assert signed_on == given_on and after, f"course {course} dose {sequence} signed on {signed_on}"
    assert not [s for s in sessions if s[3] in DOSING_ROOMS], "an integration session booked in a dosing suite"
    live = Counter((course, day) for course, _who, day, _room, status, outcome in sessions
                   if status != "cancelled" or outcome is not None)
    assert [key for key, count in live.items() if count > 1] == [], "two integration sessions in a day"
    held = {(course, who, day) for course, who, day, _room, _status, outcome in sessions if outcome == "attended"}
    assert [n for n in notes if n not in held] == [], "signed notes dated on days with no session held"
