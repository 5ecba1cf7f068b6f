"""Issue 19, points 3-5: stage-aware spacing in every phase (a prescriber's override, audited),
dose plausibility with a confirmation, dosing supervised at home, and the demo clinic's fidelity."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_dosing import NY, _plan, _record_data, _session, _sessions, form_time, local

REASON = "Prescriber moved the booster: patient travelling next week."


@pytest.fixture
def team(make):
    ids = {"therapist": make.user("therapist", username="ther"), "prescriber": make.user("prescriber", username="pres"),
           "staff": make.user("staff", username="desk"), "nurse": make.user("nurse", username="nurse")}
    ids["patient"] = make.patient(family_name="Staged", nurses=[ids["nurse"]])
    return ids


def soon(days: int, hour: int = 10) -> datetime:
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


def test_two_doses_on_one_day_in_maintenance_need_a_prescribers_reason(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="maintenance")
    auth.sign_in("desk")
    assert _plan(auth, course, soon(3), count=1).status_code == 302     # a booster: fine
    refused = _plan(auth, course, soon(3, 15), count=1, reason=REASON)  # a second one that afternoon
    assert refused.status_code == 422
    assert "never more than one a day" in page_text(refused) and "Only a prescriber may keep it" in page_text(refused)
    too_soon = _plan(auth, course, soon(6), count=1)                     # IV boosters: at least 7 days apart
    assert too_soon.status_code == 422 and "maintenance boosters asks for at least 7" in page_text(too_soon)
    assert len(_sessions(make, course)) == 1
    auth.logout()
    auth.sign_in("pres")
    assert _plan(auth, course, soon(3, 15), count=1).status_code == 422   # no reason given
    assert _plan(auth, course, soon(3, 15), count=1, reason=REASON).status_code == 302
    assert [s.spacing_override_reason for s in _sessions(make, course)] == [None, REASON]
    rows = make.audit_rows(action="dosing.plan", outcome="success")
    assert "spacing override" not in rows[0].detail and "spacing override" in rows[-1].detail


def test_a_dose_outside_the_usual_doses_needs_a_prescribers_reason_and_a_typo_is_refused(team, make, auth, client):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    record = _record_data(_session(make, session_id), team["prescriber"])
    typo = auth.post(f"/dosing/{session_id}", dict(record, dose_mg="350"))   # 5 mg/kg IV
    assert typo.status_code == 422 and "the protocol's hard limit is 2 mg/kg IV (140 mg for 70 kg)" in page_text(typo)
    unusual = auth.post(f"/dosing/{session_id}", dict(record, dose_mg="105"))   # 1.5 mg/kg: not a typo, not usual
    assert unusual.status_code == 422
    assert "1.5 mg/kg is outside this protocol's usual doses here (0.5–1 mg/kg)" in page_text(unusual)
    assert "Reason for a dose outside the protocol's usual doses" in page_text(unusual)
    assert _session(make, session_id).status == "planned"   # nothing half-saved
    why = "Partial response at 0.5 and 1.0 mg/kg; stepped up after review."
    kept = auth.post(f"/dosing/{session_id}", dict(record, dose_mg="105", dose_reason=why))
    assert kept.status_code == 302 and _session(make, session_id).dose_confirmation_reason == why
    [row] = make.audit_rows(action="dosing.update", outcome="success")
    assert "dose outside the usual doses confirmed" in row.detail
    # saved again unchanged, the confirmation stands; signed, the record shows it
    again = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"], dose_mg="105"))
    assert again.status_code == 302
    assert auth.post(f"/dosing/{session_id}/sign", {"version": str(_session(make, session_id).version)}).status_code == 302
    assert f"Dose outside the usual doses, confirmed because {why}" in page_text(client.get(f"/dosing/{session_id}"))


def test_only_a_prescriber_confirms_an_unusual_dose(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(3), days_between=2, count=1)
    record = _record_data(_session(make, session_id), team["prescriber"])
    auth.sign_in("nurse")
    refused = auth.post(f"/dosing/{session_id}", dict(record, dose_mg="105", dose_reason="Nurse thinks it is fine."))
    # a nurse records no dose (dosing.record_dose is the prescriber's), nor confirms one
    assert refused.status_code == 422
    assert "Confirming an unusual dose is the prescribing clinician's decision." in page_text(refused)
    auth.logout()
    auth.sign_in("ther")   # a therapist saves no dosing record at all here
    assert auth.post(f"/dosing/{session_id}", dict(record, dose_mg="105", dose_reason="Fine.")).status_code == 403
    assert _session(make, session_id).dose_mg is None


def test_sublingual_dosing_supervised_at_home_is_planned_without_a_room_and_signed_with_reported_vitals(
        team, make, auth, client):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience",
                         protocol="sublingual-ketamine-kap")
    auth.sign_in("pres")
    assert _plan(auth, course, local(3), count=1, setting="supervised_at_home").status_code == 302
    [session] = _sessions(make, course)
    appointment = make.query(lambda: db.session.scalar(select(Appointment).where(
        Appointment.dosing_session_id == session.id)))
    assert session.setting == "supervised_at_home"
    assert (appointment.modality, appointment.room_id) == ("telehealth", None)
    home = dict(_record_data(session, team["prescriber"]), route="sublingual", dose_mg="150", weight_kg="")
    clinician_taken = auth.post(f"/dosing/{session.id}", dict(home, **{"baseline-source": "clinician"}))
    assert clinician_taken.status_code == 422   # no clinician took readings at home
    assert "At home, readings are the patient's own or their device's." in page_text(clinician_taken)
    home.update({"baseline-source": "patient_reported", "post_40-source": "device", "discharge-source": "device"})
    assert auth.post(f"/dosing/{session.id}", home).status_code == 302
    assert auth.post(f"/dosing/{session.id}/sign", {"version": str(_session(make, session.id).version)}).status_code == 302
    page = page_text(client.get(f"/dosing/{session.id}"))
    assert "Supervised at home (telehealth)" in page and "Reported by the patient" in page
    assert "Read from the patient's device" in page


def test_an_in_clinic_protocol_refuses_a_plan_at_home(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    auth.sign_in("pres")
    refused = _plan(auth, course, soon(3), count=1, setting="supervised_at_home")
    assert refused.status_code == 422 and "doses in the clinic only" in page_text(refused)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_every_demo_course_follows_its_protocol_or_says_why(app, make):
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.experience.fidelity import unexplained_deviations
    from ketamine_integration.experience.models import DosingSession

    def inspect():
        courses = db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)).all()
        deviations = {c.id: unexplained_deviations(c) for c in courses}
        esketamine = [c for c in courses if c.protocol_version.protocol_id == "esketamine-trd-rems"
                      and c.phase == "completed"]
        starts = sorted(s.started_at for s in db.session.scalars(select(DosingSession).where(
            DosingSession.course_id == esketamine[0].id, DosingSession.status == "signed")))
        at_home = db.session.scalars(select(DosingSession).where(DosingSession.setting == "supervised_at_home")).all()
        return (len(courses), deviations, [(b - a).days for a, b in zip(starts, starts[1:])],
                [(s.status, s.appointment.room_id, s.appointment.modality) for s in at_home])
    count, deviations, esketamine_gaps, at_home = make.query(inspect)
    assert count >= 24 and {course: found for course, found in deviations.items() if found} == {}
    # the label's schedule: twice weekly for weeks 1-4, then weekly (issue 19: not every 3 days for 12 doses)
    assert len(esketamine_gaps) == 11 and max(esketamine_gaps[:7]) <= 4 and min(esketamine_gaps[7:]) >= 6
    # the demo shows sublingual dosing supervised at home: signed, by telehealth, without a room
    assert at_home and {(status, room, modality) for status, room, modality in at_home} == {
        ("signed", None, "telehealth")}
