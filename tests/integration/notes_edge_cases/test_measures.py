"""Measures: an entry made in error is voided with a reason and stays on the record."""
from sqlalchemy import select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse
from tests.integration.test_notes import _phq9


def test_a_measure_entered_in_error_can_be_voided(team, make, auth, client):
    auth.sign_in("ther")
    assert _phq9(auth, team["course"]).status_code == 302
    response_id = make.query(lambda: db.session.scalar(select(MeasureResponse.id)))
    voided = auth.post(f"/measures/{response_id}/void", {"reason": "Entered for the wrong patient"})
    assert voided.status_code == 302, voided.status_code
    assert make.query(lambda: db.session.get(MeasureResponse, response_id).voided_at) is not None


def test_a_therapist_outside_the_care_team_cannot_void_a_measure(team, make, auth):
    auth.sign_in("ther")
    assert _phq9(auth, team["course"]).status_code == 302
    response_id = make.query(lambda: db.session.scalar(select(MeasureResponse.id)))
    auth.logout()
    make.user("therapist", username="outsider")             # not on this patient's care team
    auth.sign_in("outsider")
    assert auth.post(f"/measures/{response_id}/void", {"reason": "Not mine to void"}).status_code == 403
