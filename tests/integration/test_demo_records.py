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


def _urgent_note():
    from ketamine_integration.coordination.models import CoordinationNote
    from ketamine_integration.notes.models import SafetyAlert
    note = db.session.scalars(select(CoordinationNote).where(CoordinationNote.priority == "urgent")).one()
    alert = db.session.scalars(select(SafetyAlert).where(SafetyAlert.course_id == note.course_id,
                                                         SafetyAlert.acknowledged_at.is_(None))).one()
    today = note.sent_at.astimezone(clinic_zone()).date()
    return note.body, (note.author.username, note.recipient.username), alert.observed_on, today


@pytest.mark.demo_clinic
def test_the_urgent_note_speaks_of_the_measure_as_dated_and_waits_on_the_readmes_prescriber(app, make):
    """Issue 21 review: the urgent note said "today's PHQ-9" of a PHQ-9 dated the day before, and the
    README's quick start named prescriber1 while the note waits on prescriber2."""
    body, (author, recipient), measured_on, sent_on = make.query(_urgent_note)
    said = {0: "today's", 1: "yesterday's"}.get((sent_on - measured_on).days, f"the {measured_on:%b} {measured_on.day}")
    assert body.startswith(f"Item 9 answered 1 on {said} PHQ-9")
    assert (author, recipient) == ("therapist2", "prescriber2")
    from pathlib import Path
    quick_start = Path(__file__).parents[2].joinpath("README.md").read_text().split("## What it looks like")[0]
    # the sentence naming the urgent note names the prescriber it waits on (the quick start names others for
    # other things)
    [urgent] = [s for s in " ".join(quick_start.split()).split(". ") if "urgent coordination note" in s]
    assert f"`{recipient}` has the urgent coordination note waiting" in urgent and "`prescriber1`" not in urgent


@pytest.mark.demo_clinic
def test_the_demo_journals_hold_shared_and_private_entries_written_after_their_doses(app, make):
    """Several demo patients keep a journal (issue 23, point 4): some entries shared, some private, each
    written after the dose it reflects on; the course with the open safety alert (the key pages' note
    form) has shared ones."""
    from ketamine_integration.journal.models import JournalEntry
    from ketamine_integration.notes.models import SafetyAlert

    def read():
        entries = db.session.scalars(select(JournalEntry)).all()
        alerted = db.session.scalar(select(SafetyAlert.course_id).where(SafetyAlert.acknowledged_at.is_(None)))
        return ([(e.patient_id, e.course_id, e.shared, e.written_at >= e.dosing_session.ended_at) for e in entries],
                alerted)
    entries, alerted = make.query(read)
    assert len({patient for patient, *_ in entries}) >= 3
    assert {shared for *_, shared, _after in entries} == {True, False}
    assert all(after for *_, after in entries)
    assert any(course == alerted and shared for _p, course, shared, _a in entries)
