"""The caseload dashboard runs a fixed number of statements, whatever the caseload holds
(courses in any phase, open safety alerts, drafts, booked sessions)."""
from datetime import date

import pytest

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.notes import services
from tests.statements import page_statements


def _patient_with_everything(make, therapist, prescriber, n, phase):
    course = make.course(make.patient(family_name=f"Dash{n}"), therapist, prescriber, phase=phase)

    def arrange():
        c, by = db.session.get(TreatmentCourse, course), db.session.get(User, therapist)
        services.record_measure(c, measure="phq9", answers=[1] * 8 + [1], difficulty=None,
                                administered_on=date.today(), by=by, today=date.today())
        services.create_note(c, kind="integration", session_date=date.today(), by=by, today=date.today())
    make.run(arrange)


@pytest.mark.both_engines  # SQL statement count
def test_dashboard_statement_count_does_not_grow(make, auth, client, app):
    therapist, prescriber = make.user("therapist", username="dash"), make.user("prescriber", username="dashp")
    _patient_with_everything(make, therapist, prescriber, 0, "integration")
    auth.sign_in("dash")
    one = page_statements(app, client, "/")
    auth.logout()
    for n, phase in enumerate(["integration", "maintenance", "preparation", "completed"], 1):
        _patient_with_everything(make, therapist, prescriber, n, phase)
    auth.sign_in("dash")
    assert page_statements(app, client, "/") == one
