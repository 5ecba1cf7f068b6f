"""Session types: the admin sets each kind's default length; bookings, plans and suggestions use it."""
from datetime import timedelta

import pytest

from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import SessionType
from tests.conftest import page_text
from tests.integration.test_dosing_bookings import _bookings, soon
from tests.integration.test_dosing import _plan


@pytest.fixture
def clinic(make):
    ids = {"admin": make.user("admin", username="boss"), "staff": make.user("staff", username="desk"),
           "therapist": make.user("therapist", username="ther"),
           "prescriber": make.user("prescriber", username="pres")}
    ids["course"] = make.course(make.patient(family_name="Lengthy"), ids["therapist"], ids["prescriber"],
                                phase="experience")
    ids["room"] = make.room("Dosing Suite 1")
    return ids


def _rows(make):
    return make.query(lambda: {r.kind: r.default_minutes for r in db.session.query(SessionType)})


def test_the_admin_sets_a_length_that_new_bookings_take(clinic, make, auth, client):
    auth.sign_in("boss")
    page = page_text(client.get("/session-types/"))
    assert "Dosing session 120 minutes 120 minutes" in page
    assert auth.post("/session-types/", {"kind": "dosing", "default_minutes": "150"}).status_code == 302
    assert "Dosing session 150 minutes 120 minutes" in page_text(client.get("/session-types/"))
    [row] = make.audit_rows(action="settings.session_type")
    assert row.object_id == "dosing" and row.detail == "dosing: 150 min"
    auth.logout()
    auth.sign_in("desk")
    assert _plan(auth, clinic["course"], soon(2), count=1, clinician=clinic["prescriber"],
                 room=clinic["room"]).status_code == 302
    [booking] = _bookings(make)
    assert booking.ends_at - booking.starts_at == timedelta(minutes=150)
    # a length given on the plan wins over the default
    assert _plan(auth, clinic["course"], soon(4), count=1, clinician=clinic["prescriber"], room=clinic["room"],
                 minutes="90").status_code == 302
    assert [b.ends_at - b.starts_at for b in _bookings(make)] == [timedelta(minutes=150), timedelta(minutes=90)]


@pytest.mark.parametrize("data, message", [
    ({"kind": "integration", "default_minutes": "5"}, "Number must be between 10 and 480."),
    ({"kind": "integration", "default_minutes": "9999999999999"}, "Number must be between 10 and 480."),
    ({"kind": "integration", "default_minutes": "fifty"}, "Enter a whole number, such as 120."),
    ({"kind": "massage", "default_minutes": "50"}, "Not a valid choice."),
])
def test_bad_lengths_are_refused_on_their_field_and_change_nothing(clinic, make, auth, data, message):
    auth.sign_in("boss")
    response = auth.post("/session-types/", data)
    assert response.status_code == 422 and message in page_text(response)
    assert _rows(make) == {}


@pytest.mark.parametrize("who", ["desk", "ther", "pres"])
def test_only_the_admin_changes_session_types(clinic, make, auth, client, who):
    auth.sign_in(who)
    assert client.get("/session-types/").status_code == 403
    assert auth.post("/session-types/", {"kind": "integration", "default_minutes": "60"}).status_code == 403
    assert _rows(make) == {}
