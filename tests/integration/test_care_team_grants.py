"""Care-team membership is granted only by an explicit, audited action (issue 17, point 2).

Booking, planning dosing or enrolling with a clinician outside the patient's care team used to
add them silently, for good. Now the form must ask for the membership with a reason, asked by
someone who may keep care teams; the grant is one "care_team.change" audit row saying who was
added, by whom, when and why. Every change on the patient edit page is recorded the same way.
"""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.bookings.models import Appointment
from tests.conftest import Auth, page_text, todays_world

NY = ZoneInfo("America/New_York")
SUITE = "Care-team grants"
WHY = "covering while Hazel is away"


@pytest.fixture
def team(make):
    """A patient whose care team is the therapist and prescriber, a course in preparation with its forms
    signed, two covering clinicians outside the team, staff and a room. Built once per day, worker and
    engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "care_team_grants", lambda: _team_world(make))


def _team_world(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"),
           "cover": make.user("therapist", username="cover", full_name="Cass Cover"),
           "cover_prescriber": make.user("prescriber", username="locum", full_name="Lou Locum")}
    ids["patient"] = make.patient(family_name="Guarded", therapists=[ids["therapist"]],
                                  prescribers=[ids["prescriber"]])
    # in preparation, with the forms signed without which no dose is planned
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], signed=True)
    ids["room"] = make.room()
    return ids


def _team(make, patient_id) -> set[tuple[int, str]]:
    return make.query(lambda: {(m.user_id, m.role) for m in db.session.get(Patient, patient_id).care_team})


def _rows_after(make, last_id: int) -> list:
    return [r for r in make.audit_rows() if r.id > last_id]


def _last_id(make) -> int:
    rows = make.audit_rows()
    return rows[-1].id if rows else 0


def _booking(clinician: int, **extra) -> dict:
    starts = (datetime.now(NY) + timedelta(days=3)).replace(hour=11, minute=0, second=0, microsecond=0)
    return {"kind": "preparation", "starts_at": starts.strftime("%Y-%m-%dT%H:%M"), "minutes": "50",
            "clinician": str(clinician), "modality": "telehealth", **extra}


def _appointments(make, course_id) -> list:
    return make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.course_id == course_id)).all())


def _can_open_patient(app, username: str, patient_id: int) -> int:
    client = app.test_client()
    Auth(app, client).login(username)
    return client.get(f"/patients/{patient_id}").status_code


# -- booking ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, extra, hint", [
    ("desk", {}, 'tick "Add this clinician to the care team" and say why'),          # staff, not asked
    ("ther", {}, 'tick "Add this clinician to the care team" and say why'),          # team therapist, not asked
    ("pres", {}, "ask clinic staff to add Cass Cover"),                               # a prescriber cannot add
    ("pres", {"join_care_team": "y", "join_reason": WHY}, "ask clinic staff to add Cass Cover"),  # ...even asking
])
def test_booking_an_outside_therapist_is_refused_and_grants_nothing(team, make, auth, app, who, extra, hint,
                                                                   databases, figures):
    auth.sign_in(who)
    last = _last_id(make)
    response = auth.post(f"/courses/{team['course']}/sessions", _booking(team["cover"], **extra))
    rows = [(r.action, r.outcome) for r in _rows_after(make, last)]
    granted = len(_team(make, team["patient"]) - {(team["therapist"], "therapist"), (team["prescriber"], "prescriber")})
    outsider = _can_open_patient(app, "cover", team["patient"])
    figures.record(SUITE, f"outside therapist booked by {who}{' asking' if extra else ''}",
                   f"answer {response.status_code}, {granted} memberships granted, outsider's patient page {outsider}",
                   engine=databases.name)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # the refusal sits on the clinician field, naming the clinician and what to do
    assert 'id="book-clinician-error"' in html
    assert "Cass Cover is not on this patient's care team" in page_text(response) and hint in page_text(response)
    assert _team(make, team["patient"]) == {(team["therapist"], "therapist"), (team["prescriber"], "prescriber")}
    assert _appointments(make, team["course"]) == []
    assert rows == [("appointment.create", "failure")]
    assert outsider == 403


def test_ticking_the_box_without_a_reason_is_refused(team, make, auth):
    auth.sign_in("desk")
    response = auth.post(f"/courses/{team['course']}/sessions", _booking(team["cover"], join_care_team="y"))
    assert response.status_code == 422 and "Say why this clinician joins the care team." in page_text(response)
    assert (team["cover"], "therapist") not in _team(make, team["patient"])
    assert _appointments(make, team["course"]) == []


@pytest.mark.parametrize("who, by", [("desk", "staff"), ("ther", "therapist")])
def test_an_explicit_request_grants_the_membership_and_records_who_when_and_why(team, make, auth, app, client,
                                                                                 who, by, databases, figures):
    auth.sign_in(who)
    last, started = _last_id(make), datetime.now(timezone.utc)
    response = auth.post(f"/courses/{team['course']}/sessions",
                         _booking(team["cover"], join_care_team="y", join_reason=f"  {WHY} "))
    assert response.status_code == 302, page_text(response)
    assert (team["cover"], "therapist") in _team(make, team["patient"])
    rows = _rows_after(make, last)
    assert [r.action for r in rows] == ["care_team.change", "appointment.create"]
    grant = rows[0]
    assert (grant.user_id, grant.patient_id, grant.object_type, grant.object_id, grant.outcome) == \
        (team[by], team["patient"], "patient", str(team["patient"]), "success")
    assert started <= grant.occurred_at <= datetime.now(timezone.utc)
    t, p, c = team["therapist"], team["prescriber"], team["cover"]
    assert grant.detail == (f"added therapist cover (#{c}); before: therapist #{t}, prescriber #{p}; "
                            f"after: therapist #{min(t, c)} #{max(t, c)}, prescriber #{p}; reason: {WHY}")
    assert _can_open_patient(app, "cover", team["patient"]) == 200
    figures.record(SUITE, f"explicit grant by {by}", f"{len(rows)} audit rows (care_team.change + appointment.create)",
                   engine=databases.name)


def test_a_cancelled_booking_leaves_no_access(team, make, auth, app):
    """The reviewer's sequence: book an outsider, cancel, then read the record as the outsider."""
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", _booking(team["cover"])).status_code == 422
    # the same session with a team therapist, then cancelled
    assert auth.post(f"/courses/{team['course']}/sessions", _booking(team["therapist"])).status_code == 302
    [appointment] = _appointments(make, team["course"])
    assert auth.post(f"/appointments/{appointment.id}/cancel", {"reason": "patient unwell"}).status_code == 302
    assert _can_open_patient(app, "cover", team["patient"]) == 403
    assert make.audit_rows(action="care_team.change") == []


def test_an_explicit_membership_ends_when_staff_remove_it_on_the_patient_page(team, make, auth, app):
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions",
                     _booking(team["cover"], join_care_team="y", join_reason=WHY)).status_code == 302
    # the covering session is cancelled first: a clinician still booked with the patient stays on the team
    # (test_care_team_choices.py)
    [appointment] = _appointments(make, team["course"])
    assert auth.post(f"/appointments/{appointment.id}/cancel", {"reason": "cover not needed"}).status_code == 302
    version = make.query(lambda: db.session.get(Patient, team["patient"]).version)
    assert auth.post(f"/patients/{team['patient']}/edit", {
        "given_name": "Testa", "family_name": "Guarded", "date_of_birth": "1980-05-17", "version": str(version),
        "therapists": [str(team["therapist"])], "prescribers": [str(team["prescriber"])],
        "team_reason": "cover no longer needed"}).status_code == 302
    assert _can_open_patient(app, "cover", team["patient"]) == 403
    removal = make.audit_rows(action="care_team.change")[-1]
    assert removal.detail.startswith(f"removed therapist cover (#{team['cover']});")
    assert removal.detail.endswith("reason: cover no longer needed")


# -- dosing plans ------------------------------------------------------------------------------------

def _plan(auth, team, clinician: int, **extra):
    first = (datetime.now(NY) + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    return auth.post(f"/courses/{team['course']}/dosing/plan", {
        "first_start": first.strftime("%Y-%m-%dT%H:%M"), "days_between": "3", "count": "2",
        "clinician": str(clinician), "room": str(team["room"]), **extra})


def _planned(make, course_id) -> list:
    return make.query(lambda: db.session.scalars(select(DosingSession).where(DosingSession.course_id == course_id)).all())


@pytest.mark.parametrize("who, extra, hint", [
    ("pres", {"join_care_team": "y", "join_reason": WHY}, "ask clinic staff to add Lou Locum"),  # prescriber planning
    ("desk", {}, 'tick "Add this clinician to the care team"'),                               # staff, not asked
])
def test_planning_dosing_with_an_outside_clinician_is_refused(team, make, auth, who, extra, hint):
    auth.sign_in(who)
    response = _plan(auth, team, team["cover_prescriber"], **extra)
    assert response.status_code == 422
    assert "Lou Locum is not on this patient's care team" in page_text(response) and hint in page_text(response)
    assert _planned(make, team["course"]) == [] and make.audit_rows(action="care_team.change") == []
    assert (team["cover_prescriber"], "prescriber") not in _team(make, team["patient"])


def test_staff_plan_dosing_with_a_locum_who_joins_explicitly(team, make, auth):
    auth.sign_in("desk")
    last = _last_id(make)
    response = _plan(auth, team, team["cover_prescriber"], join_care_team="y", join_reason="locum for the series")
    assert response.status_code == 302, page_text(response)
    assert len(_planned(make, team["course"])) == 2
    assert (team["cover_prescriber"], "prescriber") in _team(make, team["patient"])
    rows = _rows_after(make, last)
    assert [r.action for r in rows] == ["care_team.change", "dosing.plan"]
    assert rows[0].detail.startswith(f"added prescriber locum (#{team['cover_prescriber']});")
    assert rows[0].detail.endswith("reason: locum for the series") and rows[0].user_id == team["staff"]


# -- enrolment -------------------------------------------------------------------------------------

def test_enrolment_adds_the_course_clinicians_with_a_recorded_reason(team, make, auth, client):
    newcomer = make.patient(family_name="Newcomer")
    auth.sign_in("desk")
    page = page_text(client.get(f"/patients/{newcomer}/courses/new"))
    assert ("join Testa Newcomer's care team if they are not on it already, and can then read the patient's "
            "record") in page
    last = _last_id(make)
    response = auth.post(f"/patients/{newcomer}/courses/new", {
        "protocol": "iv-ketamine-induction@3", "start_date": date.today().isoformat(),
        "indication": "Treatment-resistant depression", "therapist": str(team["therapist"]),
        "prescriber": str(team["prescriber"])})
    assert response.status_code == 302, page_text(response)
    course_id = make.query(lambda: db.session.scalar(select(TreatmentCourse.id).where(
        TreatmentCourse.patient_id == newcomer)))
    rows = _rows_after(make, last)
    # the protocol's forms are asked for in the same enrolment (issue 26)
    assert [r.action for r in rows] == ["care_team.change", "forms.packet_create", "course.create"]
    assert rows[0].detail.endswith(f"reason: enrolled as treating therapist and prescriber of course {course_id}")
    assert rows[0].user_id == team["staff"] and rows[0].patient_id == newcomer
    assert _team(make, newcomer) == {(team["therapist"], "therapist"), (team["prescriber"], "prescriber")}


def test_enrolling_the_current_team_changes_no_membership(team, make, auth):
    auth.sign_in("ther")
    last = _last_id(make)
    response = auth.post(f"/patients/{team['patient']}/courses/new", {
        "protocol": "im-ketamine-kap@4", "start_date": date.today().isoformat(), "indication": "PTSD",
        "therapist": str(team["therapist"]), "prescriber": str(team["prescriber"])})
    assert response.status_code == 302
    assert [r.action for r in _rows_after(make, last)] == ["forms.packet_create", "course.create"]


def test_a_prescriber_cannot_enrol_with_clinicians_outside_the_team(team, make, auth, app):
    """Enrolment is not a side door: the prescriber, who may not keep care teams, names an outside
    therapist and prescriber; both fields are refused, no course, no membership, no access."""
    auth.sign_in("pres")
    last = _last_id(make)
    response = auth.post(f"/patients/{team['patient']}/courses/new", {
        "protocol": "im-ketamine-kap@4", "start_date": date.today().isoformat(), "indication": "PTSD",
        "therapist": str(team["cover"]), "prescriber": str(team["cover_prescriber"])})
    assert response.status_code == 422
    text = page_text(response)
    assert "Cass Cover is not on this patient's care team" in text
    assert "ask clinic staff to add Lou Locum" in text
    assert _team(make, team["patient"]) == {(team["therapist"], "therapist"), (team["prescriber"], "prescriber")}
    assert make.query(lambda: db.session.scalar(select(func.count(TreatmentCourse.id)).where(
        TreatmentCourse.patient_id == team["patient"]))) == 1
    assert "care_team.change" not in [r.action for r in _rows_after(make, last)]
    assert _can_open_patient(app, "cover", team["patient"]) == 403


# -- the patient edit page (staff keep care teams) -------------------------------------------------

def _edit(auth, make, patient_id, therapists, prescribers, reason=None):
    version = make.query(lambda: db.session.get(Patient, patient_id).version)
    data = {"given_name": "Testa", "family_name": "Guarded", "date_of_birth": "1980-05-17", "version": str(version),
            "therapists": [str(u) for u in therapists], "prescribers": [str(u) for u in prescribers]}
    if reason is not None:
        data["team_reason"] = reason
    return auth.post(f"/patients/{patient_id}/edit", data)


@pytest.mark.parametrize("change", ["add", "remove", "role"])
def test_every_change_on_the_patient_page_is_one_row_with_before_after_and_reason(team, make, auth, change):
    dual = make.user("therapist", "prescriber", username="dual")
    t, p = team["therapist"], team["prescriber"]
    auth.sign_in("desk")
    if change == "role":  # dual is on the team as a therapist first (an audited change itself)
        assert _edit(auth, make, team["patient"], [t, dual], [p], "joins as therapist").status_code == 302
    wanted = {"add": ([t, dual], [p]), "remove": ([t], []), "role": ([t], [p, dual])}[change]
    before = _team(make, team["patient"])
    # without a reason: refused, nothing changes
    refused = _edit(auth, make, team["patient"], *wanted)
    assert refused.status_code == 422 and "Say why the care team changes" in page_text(refused)
    assert _team(make, team["patient"]) == before
    last = _last_id(make)
    assert _edit(auth, make, team["patient"], *wanted, reason="rota change").status_code == 302
    rows = _rows_after(make, last)
    assert [r.action for r in rows] == ["care_team.change"]   # the details did not change: no patient.update
    detail = rows[0].detail
    expected_change = {"add": f"added therapist dual (#{dual})", "remove": f"removed prescriber pres (#{p})",
                       "role": f"added prescriber dual (#{dual}); removed therapist dual (#{dual})"}[change]
    assert detail.startswith(expected_change + "; before: ")
    after = _team(make, team["patient"])
    assert after == {(u, "therapist") for u in wanted[0]} | {(u, "prescriber") for u in wanted[1]}
    assert f"; after: {_listed(after)}; reason: rota change" in detail and f"before: {_listed(before)};" in detail


def _listed(team_set) -> str:
    """How the audit detail lists a team (written independently of the code under test)."""
    parts = []
    for role in ("therapist", "prescriber"):
        ids = sorted(u for u, r in team_set if r == role)
        if ids:
            parts.append(role + " " + " ".join(f"#{u}" for u in ids))
    return ", ".join(parts) or "none"
