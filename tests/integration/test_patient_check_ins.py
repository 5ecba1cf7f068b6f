"""The patient's check-ins on action steps (issue 23, point 6), through the services the portal
calls: only steps agreed in the patient's own signed notes, seen without the note's other content;
bad input refused by field, nothing written; the therapist's next note shows the check-ins made
since the last note, beside each step's check-in row."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.db.clinic_time import clinic_today
from ketamine_integration.db.errors import DomainError
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionStep
from ketamine_integration.notes.patient_check_ins import (PatientStepCheckIn, StepNotThePatients, check_in_on_step,
                                                          patient_steps, visible_step)
from ketamine_integration.patients.models import Patient
from ketamine_integration.courses.models import TreatmentCourse
from tests.conftest import page_text
from tests.integration.test_notes import TODAY, _start, _write_and_sign, notes_team

D = timedelta(days=1)


@pytest.fixture
def team(make):
    return notes_team(make)


def _check_in(make, patient_id, step_id, progress, day, obstacles=None):
    def call():
        try:
            return check_in_on_step(db.session.get(Patient, patient_id), step_id, progress, day, obstacles, utcnow())
        except (DomainError, StepNotThePatients) as refusal:
            return refusal
    return make.run(call)


def _step_of(make, note_id) -> int:
    return make.query(lambda: db.session.scalar(select(ActionStep.id).where(ActionStep.note_id == note_id)))


def _count(make) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(PatientStepCheckIn)))


def test_patient_check_ins_appear_in_the_therapists_next_note(team, make, auth, client):
    auth.sign_in("ther")
    signed = _write_and_sign(make, auth, team)
    step = _step_of(make, signed)
    today = make.query(clinic_today)
    done = _check_in(make, team["patient"], step, "partly", today, "  Rain on two of the days  ")
    assert isinstance(done, PatientStepCheckIn)
    stored = make.query(lambda: db.session.scalars(select(PatientStepCheckIn)).one())
    assert (stored.progress, stored.obstacles, stored.for_date) == ("partly", "Rain on two of the days", today)
    rows = [r for r in make.audit_rows(patient_id=team["patient"]) if r.action == "step_check_in.record"]
    assert [(r.outcome, r.object_type) for r in rows] == [("success", "patientstepcheckin")]
    # the next note's check-in section: the step, and the patient's words beside it
    page = page_text(client.get(f"/notes/{_start(auth, team['course'])}"))
    assert "Walk by the river" in page
    assert f"The patient's check-ins since the last note, in their words: {today.isoformat()}: Partly — " \
           "“Rain on two of the days”" in page


def test_check_ins_before_the_last_signed_note_are_not_shown_again(team, make, auth, client):
    auth.sign_in("ther")
    first = _write_and_sign(make, auth, team)
    step = _step_of(make, first)
    today = make.query(clinic_today)
    _check_in(make, team["patient"], step, "not", today - D, "Busy week")
    _write_and_sign(make, auth, team, **{"check_ins-0-step_id": str(step), "check_ins-0-progress": "not",
                                         "check_ins-0-decision": "continue"})
    page = page_text(client.get(f"/notes/{_start(auth, team['course'])}"))
    assert "Walk by the river" in page and "Busy week" not in page


@pytest.mark.parametrize("progress, day, field, words", [
    ("maybe", 0, "progress", "Choose done, partly or not done."),
    ("done", 1, "for_date", "Choose today or an earlier day."),
    ("done", -1, "for_date", "This step starts on"),
    ("done", None, "for_date", "Choose the day this is about."),
])
def test_bad_check_ins_are_refused_by_field_and_write_nothing(team, make, auth, progress, day, field, words):
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    today = make.query(clinic_today)
    refusal = _check_in(make, team["patient"], step, progress, None if day is None else today + day * D)
    assert isinstance(refusal, DomainError) and refusal.reasons[field].startswith(words)
    assert _count(make) == 0
    assert make.audit_rows(action="step_check_in.record")[-1].outcome == "failure"


def test_one_check_in_per_step_and_day_and_a_long_text_is_refused(team, make, auth):
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    today = make.query(clinic_today)
    _check_in(make, team["patient"], step, "done", today)
    again = _check_in(make, team["patient"], step, "not", today)
    assert "already" in again.reasons["for_date"]
    assert "obstacles" in _check_in(make, team["patient"], step, "not", today - D * 0, "x" * 501).reasons
    assert _count(make) == 1


def test_a_step_of_a_draft_or_of_another_patient_is_out_of_reach(team, make, auth):
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    other = make.patient(family_name="Elsewhere")
    assert isinstance(_check_in(make, other, step, "done", make.query(clinic_today)), StepNotThePatients)
    assert make.audit_rows(action="access.denied")[-1].patient_id == other
    assert make.run(lambda: patient_steps(db.session.get(Patient, other), utcnow())) == []
    # a step typed in a draft is not agreed yet: not the patient's to see
    draft = _start(auth, team["course"])
    from tests.integration.test_notes import _integration_data, _version
    assert auth.post(f"/notes/{draft}", _integration_data(_version(make, draft), **{
        "new_steps-0-what": "Call my sister"})).status_code == 302
    draft_step = _step_of(make, draft)
    assert isinstance(_check_in(make, team["patient"], draft_step, "done", make.query(clinic_today)),
                      StepNotThePatients)
    assert _count(make) == 0


@pytest.mark.parametrize("phase", ["discontinued", "completed"])
def test_the_steps_of_an_ended_course_are_no_longer_checked_in_on(team, make, auth, phase):
    """As an ended course's practices take no more logs (attacker review): its steps leave the
    patient's list, and a check-in on one is refused as not the patient's (nothing written)."""
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    patient = lambda: db.session.get(Patient, team["patient"])  # noqa: E731
    assert [s.step_id for s in make.run(lambda: patient_steps(patient(), utcnow()))] == [step]
    make.run(lambda: setattr(db.session.get(TreatmentCourse, team["course"]), "phase", phase))
    assert make.run(lambda: patient_steps(patient(), utcnow())) == []
    assert isinstance(_check_in(make, team["patient"], step, "done", make.query(clinic_today)), StepNotThePatients)
    assert _count(make) == 0


def test_what_the_patient_sees_of_a_step_is_the_step_alone(team, make, auth):
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    seen = make.run(lambda: visible_step(db.session.get(Patient, team["patient"]), step, utcnow()))
    assert (seen.what, seen.how_often) == ("Walk by the river", "3 times a week")
    assert set(vars(seen)) == {"step_id", "what", "how_often", "starts_on", "review_on", "check_ins"}
    listed = make.run(lambda: patient_steps(db.session.get(Patient, team["patient"]), utcnow()))
    assert [s.step_id for s in listed] == [step]
    assert "Rest is allowed" not in repr(listed) and "I can rest" not in repr(listed)   # no note content
    assert [r.action for r in make.audit_rows(patient_id=team["patient"])][-2:] == ["step.view", "step.view"]


def test_the_therapists_step_views_show_the_patients_check_ins_and_no_one_elses(team, make, auth, client):
    """The action steps page shows every check-in of the patient's on each step, the course page the
    newest three under each open step: marked as the patient's words, with the day and what got in the
    way. Another patient's never; a user who does not read clinical records sees none."""
    auth.sign_in("ther")
    started = (make.query(clinic_today) - 10 * D).isoformat()
    step = _step_of(make, _write_and_sign(make, auth, team, **{"new_steps-0-starts_on": started}))
    today = make.query(clinic_today)
    for days, progress, obstacles in ((4, "not", "Flu all week"), (3, "done", None), (1, "partly", "Rain on two days"),
                                      (0, "done", None)):
        assert isinstance(_check_in(make, team["patient"], step, progress, today - days * D, obstacles),
                          PatientStepCheckIn)
    # the same therapist's other patient, with a step and a check-in of their own
    other = make.patient(family_name="Elsewhere")
    other_course = make.course(other, team["therapist"], team["prescriber"], phase="integration")
    other_step = _step_of(make, _write_and_sign(make, auth, {**team, "course": other_course}))
    _check_in(make, other, other_step, "not", today, "Words of another patient")

    theirs = "The patient's check-ins from the portal, in their own words"
    day = lambda days: (today - days * D).isoformat()  # noqa: E731
    steps = page_text(client.get(f"/courses/{team['course']}/action-steps"))
    assert (f"{theirs} {day(0)} : Done {day(1)} : Partly. What got in the way: “Rain on two days” "
            f"{day(3)} : Done {day(4)} : Not done. What got in the way: “Flu all week”") in steps
    course = page_text(client.get(f"/courses/{team['course']}"))
    assert (f"Open action steps and the patient's check-ins Walk by the river — 3 times a week, from {started}, "
            f"review {(TODAY + 14 * D).isoformat()} {theirs} {day(0)} : Done {day(1)} : Partly. What got in the way: “Rain on two days” "
            f"{day(3)} : Done And 1 earlier on the action steps page") in course
    assert "Flu all week" not in course   # the fourth newest: on the action steps page only
    assert all("Words of another patient" not in page for page in (steps, course))
    auth.logout()
    auth.sign_in("desk")   # staff: the course page without clinical records
    staff_view = page_text(client.get(f"/courses/{team['course']}"))
    assert "Walk by the river" not in staff_view and "Rain on two days" not in staff_view


def test_a_step_without_check_ins_says_so(team, make, auth, client):
    auth.sign_in("ther")
    _write_and_sign(make, auth, team)
    none_yet = "None yet: the patient checks in on this step in the portal."
    assert none_yet in page_text(client.get(f"/courses/{team['course']}/action-steps"))
    assert none_yet in page_text(client.get(f"/courses/{team['course']}"))
