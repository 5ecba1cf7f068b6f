"""Regression tests: what a dosing record must refuse, and who may see what."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_dosing import _record_data, _session, form_time, local

NY = ZoneInfo("America/New_York")


@pytest.fixture
def team(make):
    ids = {"therapist": make.user("therapist", username="ther"), "prescriber": make.user("prescriber", username="pres"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(family_name="Safety")
    return ids


def _course(make, team, phase="experience", protocol="iv-ketamine-induction"):
    """A course with the forms dosing needs signed, whatever its phase (the factory signs them past preparation)."""
    return make.course(team["patient"], team["therapist"], team["prescriber"], phase=phase, protocol=protocol,
                       signed=True)


def _plan(make, course_id, first=None, gap=2, count=1):
    return make.dosing_plan(course_id, first_start=first or local(3), days_between=gap, count=count)


def _post_record(make, auth, team, session_id, **overrides):
    return auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"], **overrides))


def test_dosing_cannot_be_recorded_while_the_course_is_in_preparation(team, make, auth):
    course = _course(make, team, phase="preparation")
    [session_id] = _plan(make, course)
    auth.sign_in("pres")
    response = _post_record(make, auth, team, session_id)
    assert response.status_code == 422 and "dosing is recorded in the experience phase" in page_text(response)
    assert _session(make, session_id).status == "planned"


@pytest.mark.parametrize("field, value, message", [
    ("ended_at", lambda: datetime.now(NY) + timedelta(days=365), "cannot be in the future"),
    ("ended_at", lambda: local(3, 9) + timedelta(hours=13), "longer than 12 hours"),
    ("discharged_at", lambda: local(3, 9) + timedelta(hours=30), "more than 24 hours after the start of dosing"),
    ("ended_at", lambda: "9999-12-30T10:00", "Use a year between 1900 and 2100"),
    ("dose_mg", lambda: "sNaN", "Enter a number, such as 35 or 35.5."),
    ("dose_mg", lambda: "0.001", "Number must be between 0.01 and 100000"),
    ("route", lambda: "intranasal", "gives ketamine by the iv route"),
    ("medication", lambda: "esketamine", "uses ketamine"),
    ("baseline-diastolic", lambda: "140", "Diastolic pressure must be below systolic."),
    ("adverse_events-0-event_type", lambda: "vomiting", "Choose the severity of this adverse event."),
])
def test_implausible_records_are_refused(team, make, auth, field, value, message):
    [session_id] = _plan(make, _course(make, team))
    auth.sign_in("pres")
    raw = value()
    response = _post_record(make, auth, team, session_id, **{field: form_time(raw) if isinstance(raw, datetime) else raw})
    assert response.status_code == 422 and message in page_text(response)
    assert _session(make, session_id).status == "planned"


@pytest.mark.parametrize("path, data", [
    ("/courses/{course}/dosing/plan", {"first_start": "9999-12-30T10:00", "days_between": "2", "count": "3"}),
    ("/courses/{course}/dosing/plan", {"first_start": "2100-12-01T10:00", "days_between": "7", "count": "20"}),
    ("/courses/{course}/sessions",
     {"starts_at": "9999-12-30T10:00", "minutes": "50", "clinician": "1", "modality": "in_person"}),
])
def test_far_future_dates_are_field_errors_not_500(team, make, auth, path, data):
    course = _course(make, team)
    auth.sign_in("pres")
    assert auth.post(path.format(course=course), data).status_code == 422


def test_recorded_dates_obey_the_spacing_rules(team, make, auth):
    course = _course(make, team)
    first, second = _plan(make, course, first=local(4), gap=2, count=2)
    auth.sign_in("pres")
    assert _post_record(make, auth, team, first, started_at=form_time(local(4, 9)),
                        ended_at=form_time(local(4, 10)), discharged_at=form_time(local(4, 11))).status_code == 302
    same_day = dict(started_at=form_time(local(4, 13)), ended_at=form_time(local(4, 14)),
                    discharged_at=form_time(local(4, 15)))
    refused = _post_record(make, auth, team, second, **same_day)
    assert refused.status_code == 422 and "never more than one a day" in page_text(refused)
    kept = _post_record(make, auth, team, second, spacing_reason="Second infusion the same day by prescriber order.",
                        **same_day)
    assert kept.status_code == 302
    assert _session(make, second).spacing_override_reason.startswith("Second infusion")


def test_rems_answers_must_be_given_to_sign(team, make, auth, client):
    course = _course(make, team, protocol="esketamine-trd-rems")
    [session_id] = _plan(make, course, gap=3)
    auth.sign_in("pres")
    start = local(3, 9)
    _post_record(make, auth, team, session_id, route="intranasal", medication="esketamine", dose_mg="56",
                 weight_kg="", ended_at=form_time(start + timedelta(minutes=15)),
                 discharged_at=form_time(start + timedelta(minutes=140)),
                 ready_to_leave_at=form_time(start + timedelta(minutes=90)))
    signed = auth.post(f"/dosing/{session_id}/sign", {"version": str(_session(make, session_id).version)},
                       follow_redirects=True)
    text = page_text(signed)
    assert "vital signs acceptable before dosing (yes or no)" in text
    assert "concomitant sedating medications (write 'none' if none)" in text
    assert _session(make, session_id).status == "draft"


@pytest.mark.parametrize("state", ["planned", "draft", "not a REMS protocol"])
def test_rems_pdf_exists_only_for_signed_rems_sessions(team, make, auth, client, state):
    protocol = "iv-ketamine-induction" if state == "not a REMS protocol" else "esketamine-trd-rems"
    [session_id] = _plan(make, _course(make, team, protocol=protocol), gap=3)
    auth.sign_in("pres")
    if state == "draft":
        _post_record(make, auth, team, session_id, route="intranasal", medication="esketamine", dose_mg="56",
                     weight_kg="")
    assert client.get(f"/dosing/{session_id}/rems.pdf").status_code == 404


def test_rems_list_is_the_users_caseload_even_for_an_admin(team, make, auth, client):
    make.user("admin", "prescriber", username="bossdoc")
    course = _course(make, team, protocol="esketamine-trd-rems")
    [session_id] = _plan(make, course, gap=3)
    make.run(lambda: db.session.execute(
        DosingSession.__table__.update().values(status="signed", ended_at=datetime.now(NY) - timedelta(days=2))))
    auth.sign_in("bossdoc")
    assert "No forms outstanding" in page_text(client.get("/rems/"))
    auth.logout()
    auth.sign_in("pres")
    assert "Safety" in page_text(client.get("/rems/"))
    assert session_id


def test_staff_do_not_see_clinicians_free_text_on_the_course_page(team, make, auth, client):
    course = _course(make, team)
    make.dosing_plan(course, first_start=local(-2), days_between=9, count=2,
                     reason="Patient disclosed a family crisis; spacing widened.")
    auth.sign_in("desk")
    text = page_text(client.get(f"/courses/{course}"))
    assert "Spacing exception" in text and "family crisis" not in text


@pytest.mark.both_engines  # SQL statement count
def test_patient_page_queries_do_not_grow_with_courses(team, make, auth, client, app):
    """The window summary beside each course is loaded in bulk, not per course."""
    auth.sign_in("desk")

    def statements_for(path):
        count = []
        listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(count)

    _course(make, team)
    one = statements_for(f"/patients/{team['patient']}")
    for _ in range(4):
        _course(make, team)
    assert statements_for(f"/patients/{team['patient']}") == one


def test_a_refused_change_to_a_dosing_session_is_audited_once(team, make, auth):
    [session_id] = _plan(make, _course(make, team))
    auth.sign_in("pres")
    assert auth.post(f"/dosing/{session_id}/cancel", {"reason": "ok"}).status_code == 302  # reason too short
    rows = [(r.action, r.outcome, r.detail) for r in make.audit_rows() if r.action.startswith("dosing.")]
    assert rows == [("dosing.cancel", "failure", "refused")]
    assert _session(make, session_id).status == "planned"
