"""What the care-team rules look like on the forms (issue 17, point 2, after a new-user walkthrough).

A prescriber, who may not ask for a membership, is offered only the care team; a clinician still
booked with the patient cannot be removed from the team; enrolment says who joined it.
"""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.bookings.models import Appointment
from tests.conftest import page_text
from tests.integration.test_care_team_grants import WHY, _team, team  # noqa: F401 (a fixture)
from tests.page_html import read_forms

NY = ZoneInfo("America/New_York")


def _when(days: int, hour: int) -> str:
    return (datetime.now(NY) + timedelta(days=days)).replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def _book(auth, team, clinician: int, **extra):
    return auth.post(f"/courses/{team['course']}/sessions", {
        "kind": "preparation", "starts_at": _when(3, 11), "minutes": "50", "clinician": str(clinician),
        "modality": "telehealth", **extra})


def _plan(auth, team, clinician: int, **extra):
    return auth.post(f"/courses/{team['course']}/dosing/plan", {
        "first_start": _when(4, 9), "days_between": "3", "count": "2", "clinician": str(clinician),
        "room": str(team["room"]), **extra})


def _edit(auth, make, patient_id, therapists, prescribers, reason="rota change"):
    version = make.query(lambda: db.session.get(Patient, patient_id).version)
    return auth.post(f"/patients/{patient_id}/edit", {
        "given_name": "Testa", "family_name": "Guarded", "date_of_birth": "1980-05-17", "version": str(version),
        "therapists": [str(u) for u in therapists], "prescribers": [str(u) for u in prescribers],
        "team_reason": reason})


# -- 1. the clinician choices ------------------------------------------------------------------------

@pytest.mark.parametrize("who, outsiders_offered", [
    ("pres", False),   # a prescriber may not ask for a membership: only the team is offered
    ("desk", True),    # staff may ask for it (the form's "Add this clinician" box): every clinician
    ("ther", True),    # a therapist on the team may too
])
def test_the_course_forms_offer_outsiders_only_to_who_may_add_them(team, auth, client, who, outsiders_offered):
    auth.sign_in(who)
    forms = read_forms(client.get(f"/courses/{team['course']}").get_data(as_text=True))
    booking, plan = forms.options["book-clinician"], forms.options["clinician"]
    # dosing sessions are booked with a prescriber (dosing.lead), never a therapist
    assert "Hazel Quint" in booking and "Orrin Vale" in plan and "Hazel Quint" not in plan
    assert ("Cass Cover" in booking) is outsiders_offered
    assert ("Lou Locum" in plan) is outsiders_offered and "Cass Cover" not in plan


@pytest.mark.parametrize("post, outsider, name, role", [
    (_book, "cover", "Cass Cover", "therapist"),
    (_plan, "cover_prescriber", "Lou Locum", "prescriber"),
])
def test_a_prescriber_posting_an_outsider_anyway_is_refused_by_the_service(team, make, auth, post, outsider, name,
                                                                            role):
    auth.sign_in("pres")
    response = post(auth, team, team[outsider])
    assert response.status_code == 422
    assert f"{name} is not on this patient's care team" in page_text(response)
    assert (team[outsider], role) not in _team(make, team["patient"])


def test_a_therapist_is_never_booked_to_run_a_dosing_session(team, make, auth):
    """Review of issue 19: the plan form offered the course's therapist and saved the plan."""
    auth.sign_in("desk")
    response = _plan(auth, team, team["therapist"])
    assert response.status_code == 422      # not offered, and refused when posted anyway
    assert not make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "dosing")).all())


# -- 2. removing a clinician who is still booked -----------------------------------------------------

def test_a_clinician_still_booked_with_the_patient_cannot_leave_the_care_team(team, make, auth):
    auth.sign_in("desk")
    assert _book(auth, team, team["cover"], join_care_team="y", join_reason=WHY).status_code == 302
    assert _plan(auth, team, team["cover_prescriber"], join_care_team="y", join_reason="locum for the series").status_code == 302
    before, changes = _team(make, team["patient"]), len(make.audit_rows(action="care_team.change"))
    response = _edit(auth, make, team["patient"], [team["therapist"]], [team["prescriber"]])
    assert response.status_code == 422
    text, html = page_text(response), response.get_data(as_text=True)
    # each refusal sits on the field of the clinician's role and names their bookings
    assert 'id="therapists-error"' in html and 'id="prescribers-error"' in html
    assert "Cass Cover is still booked with this patient: Preparation session " in text
    assert "Lou Locum is still booked with this patient: Dosing session " in text
    assert "Cancel those bookings first (and book another clinician)" in text
    assert _team(make, team["patient"]) == before
    assert len(make.audit_rows(action="care_team.change")) == changes
    assert make.audit_rows(action="patient.update")[-1].outcome == "failure"


def test_a_clinician_leaves_once_their_bookings_are_cancelled(team, make, auth):
    auth.sign_in("desk")
    assert _book(auth, team, team["cover"], join_care_team="y", join_reason=WHY).status_code == 302
    appointment = make.query(lambda: db.session.scalar(select(Appointment).where(
        Appointment.clinician_id == team["cover"])))
    assert auth.post(f"/appointments/{appointment.id}/cancel", {"reason": "cover not needed"}).status_code == 302
    assert _edit(auth, make, team["patient"], [team["therapist"]], [team["prescriber"]]).status_code == 302
    assert (team["cover"], "therapist") not in _team(make, team["patient"])


def test_changing_a_booked_clinicians_role_on_the_team_is_not_a_departure(team, make, auth):
    """A clinician who stays on the team in another role can still open the course."""
    dual = make.user("therapist", "prescriber", username="dual", full_name="Dee Dual")
    auth.sign_in("desk")
    assert _book(auth, team, dual, join_care_team="y", join_reason=WHY).status_code == 302
    response = _edit(auth, make, team["patient"], [team["therapist"]], [team["prescriber"], dual])
    assert response.status_code == 302, page_text(response)
    assert (dual, "prescriber") in _team(make, team["patient"])


# -- 9. enrolment says who joined ------------------------------------------------------------------

def test_enrolment_says_who_joined_the_care_team(team, make, auth, client):
    newcomer = make.patient(family_name="Newcomer", therapists=[team["therapist"]])
    auth.sign_in("desk")
    response = auth.post(f"/patients/{newcomer}/courses/new", {
        "protocol": "iv-ketamine-induction@3", "start_date": date.today().isoformat(),
        "indication": "Treatment-resistant depression", "therapist": str(team["therapist"]),
        "prescriber": str(team["prescriber"])})
    assert response.status_code == 302
    message = page_text(client.get(response.headers["Location"]))
    assert "Enrolled Testa Newcomer in " in message
    assert "Orrin Vale (prescriber) joined the care team." in message
    assert "Hazel Quint (therapist) joined" not in message   # already on the team


def test_enrolling_the_current_team_says_no_one_joined(team, make, auth, client):
    auth.sign_in("ther")
    response = auth.post(f"/patients/{team['patient']}/courses/new", {
        "protocol": "im-ketamine-kap@4", "start_date": date.today().isoformat(), "indication": "PTSD",
        "therapist": str(team["therapist"]), "prescriber": str(team["prescriber"])})
    assert response.status_code == 302
    message = page_text(client.get(response.headers["Location"]))
    assert "Enrolled Testa Guarded in " in message and "joined the care team" not in message
    assert make.query(lambda: db.session.scalar(select(TreatmentCourse.id).where(
        TreatmentCourse.patient_id == team["patient"], TreatmentCourse.id != team["course"]))) is not None


# -- 3. a large team's audit row (README: the 200-character detail) --------------------------------

def test_a_large_teams_change_keeps_what_changed_and_counts_the_rest(team, make):
    from ketamine_integration.accounts.models import User
    from ketamine_integration.patients.care_team import add_to_care_team, change_care_team, team_of

    therapists = [make.user("therapist", username=f"t{n:02d}") for n in range(20)]

    def grow_then_add_one():
        patient, by = db.session.get(Patient, team["patient"]), db.session.get(User, team["staff"])
        change_care_team(patient, team_of(patient) | {(uid, "therapist") for uid in therapists}, by=by,
                         reason="twenty therapists join")
        add_to_care_team(patient, db.session.get(User, team["cover"]), "therapist", by=by, reason=WHY)
    make.run(grow_then_add_one)
    detail = make.audit_rows(action="care_team.change")[-1].detail
    assert len(detail) <= 200
    assert detail == f"added therapist cover (#{team['cover']}); before: 22 members; after: 23; reason: {WHY}"
