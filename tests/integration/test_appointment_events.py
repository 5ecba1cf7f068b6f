"""bookings.events: the appointments a transaction booked, moved, cancelled or settled are
announced once, at commit, inside the transaction; a transaction rolled back announces nothing."""
from datetime import timedelta

import pytest

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings import booking
from ketamine_integration.bookings.events import appointments_changed
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.extensions import db
from tests.integration import test_scheduling
from tests.integration.test_dosing import local

team = test_scheduling.team


@pytest.fixture
def heard():
    calls = []

    def receiver(ids):
        calls.append((list(ids), db.session().in_transaction()))

    appointments_changed.connect(receiver)
    yield calls
    appointments_changed.disconnect(receiver)


def _book(team, starts_at):
    desk = db.session.get(User, team["staff"])
    appointment = Appointment(patient_id=team["patient"], course_id=team["course"], kind="integration",
                              clinician_id=team["therapist"], starts_at=starts_at,
                              ends_at=starts_at + timedelta(minutes=50), modality="telehealth", created_by_id=desk.id)
    appointment.changes.append(AppointmentChange(change="booked", by_user_id=desk.id))
    db.session.add(appointment)
    db.session.flush()
    return appointment


def test_each_change_is_announced_once_at_commit(team, make, heard):
    first = make.run(lambda: [_book(team, local(-3, 10)).id, _book(team, local(-4, 10)).id])
    assert heard == [(sorted(first), True)]  # both, once, with the transaction still open

    def move_and_cancel():
        desk = db.session.get(User, team["staff"])
        booking.move(db.session.get(Appointment, first[0]), local(-5, 11), by=desk, reason="asked")
        booking.cancel(db.session.get(Appointment, first[1]), reason="unwell", by=desk)
    heard.clear()
    make.run(move_and_cancel)
    assert heard == [(sorted(first), True)]

    heard.clear()
    make.run(lambda: db.session.get(Appointment, first[0]).patient_id)  # reading changes nothing
    assert heard == []


def test_a_rolled_back_transaction_announces_nothing(team, make, heard, app):
    with app.app_context():
        _book(team, local(-3, 10))
        db.session.rollback()
        db.session.commit()
    assert heard == []
