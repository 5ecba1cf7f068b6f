"""Questionnaires at the protocol's moments (issue 23, point 3), without the portal pages: scheduling
from each shipped protocol's measures, the patient's submission through the service (the same
scoring as a clinician's, field reasons that change nothing, audited with the patient), the urgent
alert and the on-call email a patient's safety answer raises (never held up by a workflow rule), the
crisis resources, and what the staff pages show."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.bookings.models import Appointment
from ketamine_integration.clinic_settings.models import ClinicSetting
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.domain import questionnaires as q
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.patient_responses import QuestionnaireRefused, submit_patient_questionnaire
from ketamine_integration.notes.questionnaires import course_questionnaires, crisis_page, due_questionnaires
from ketamine_integration.notes.services import record_measure
from ketamine_integration.notifications.oncall import save_oncall_address
from ketamine_integration.patients.models import Patient
from ketamine_integration.web.lifecycle import commit_refusal, finish_transaction
from tests.conftest import page_text, todays_world
from tests.integration import test_scheduling
from tests.integration.test_after_series import series_done
from tests.integration.test_dosing import NY


def local(days: int, hour: int = 9) -> datetime:
    """A clinic wall-clock time `days` from today (negative: in the past)."""
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=NY)


team = test_scheduling.team
UTC = timezone.utc
PHQ9_SAFE, PHQ9_ITEM9 = ["1"] * 8 + ["0"], [1] * 8 + [2]


def _enrol(make, team, protocol, family):
    patient = make.patient(family_name=family)
    return patient, make.course(patient, team["therapist"], team["prescriber"], protocol=protocol, phase="experience")


def _integration_session(make, course_id, starts):
    def book():
        course = db.session.get(TreatmentCourse, course_id)
        db.session.add(Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=course.therapist_id,
                                   kind="integration", starts_at=starts, ends_at=starts + timedelta(minutes=50),
                                   created_by_id=course.therapist_id))
    make.run(book)


def _asked(make, course_id, now):
    """The status of each measure's first moment of each kind (the first dose's, the first session's)."""
    asked = make.query(lambda: course_questionnaires(db.session.get(TreatmentCourse, course_id), now))
    found = {}
    for a in asked:
        found.setdefault((a.moment.measure, a.moment.point), a.status)
    return found


def _submit(make, patient_id, measure, answers, moment, now, **kw):
    """Submit as the portal's request will: committed when it succeeds; refused, rolled back with only
    the durable audit row of the refusal kept (web/lifecycle.py), unless the refusal opened a safety
    alert, which the page commits (commit_refusal), and the refusal raised."""
    with make.app.test_request_context("/portal", method="POST"):
        try:
            response_id = submit_patient_questionnaire(db.session.get(Patient, patient_id), measure, answers,
                                                       moment, now, **kw).response.id
        except QuestionnaireRefused as refused:
            if refused.alert is not None:
                commit_refusal(422)
            finish_transaction(make.app.response_class(status=422))
            raise
        finish_transaction(make.app.response_class(status=200))
        return response_id


def _token(make, patient_id, measure, now, point):
    found = make.query(lambda: [x.token for x in due_questionnaires(db.session.get(Patient, patient_id), now)
                                if x.measure.key == measure and x.asked.moment.point == point])
    assert found, f"no {measure} {point} is due"
    return found[0]


def _count(make, model, *where):
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)))


# -- scheduling from each shipped protocol -----------------------------------------------------

@pytest.mark.parametrize("protocol, asks_before_dosing", [
    ("iv-ketamine-induction", True), ("esketamine-trd-rems", True),
    ("im-ketamine-kap", False), ("sublingual-ketamine-kap", False)])
def test_each_shipped_protocol_opens_its_questionnaires_for_the_course(team, make, protocol, asks_before_dosing):
    patient, course = _enrol(make, team, protocol, protocol.split("-")[0].capitalize())
    make.dosing_plan(course, first_start=local(1, 10), days_between=7, count=2, reason="Test plan: spacing on purpose.",
                     room=f"Suite {protocol}")
    _integration_session(make, course, local(3, 14).astimezone(UTC))
    now = local(0, 12).astimezone(UTC)
    asked = _asked(make, course, now)
    # the baseline is open from enrolment until the first dose; GAD-7 too (every shipped protocol asks both)
    assert asked[("phq9", q.BASELINE)] == asked[("gad7", q.BASELINE)] == q.OPEN
    if asks_before_dosing:   # the day before tomorrow's dose has begun: its PHQ-9 is open; none at integration
        assert asked[("phq9", q.BEFORE_DOSING)] == q.OPEN and ("phq9", q.INTEGRATION) not in asked
    else:                    # KAP asks at each integration session instead, from the day before it
        assert asked[("phq9", q.INTEGRATION)] == q.UPCOMING and ("phq9", q.BEFORE_DOSING) not in asked
    # nothing after the series before it has ended
    assert not {point for _, point in asked} & {q.END_OF_SERIES, q.FOLLOW_UP}
    # the portal's list: what is open now, the one due soonest first, with the published wording
    due = make.query(lambda: [(x.measure.key, x.asked.moment.point, x.measure.items[8].text if x.measure.key == "phq9"
                               else None) for x in due_questionnaires(db.session.get(Patient, patient), now)])
    assert due[0][:2] in {("phq9", "baseline"), ("phq9", "before_each_dosing"), ("gad7", "baseline")}
    assert ("phq9", "baseline", "Thoughts that you would be better off dead or of hurting yourself in some way") in due


def test_after_the_series_the_end_and_follow_ups_open_from_its_last_dose(team, make, auth):
    course = series_done(make, auth, team)   # IM KAP, last dose 10 days ago, in integration
    asked = _asked(make, course, datetime.now(UTC))
    assert asked[("phq9", q.END_OF_SERIES)] == q.OVERDUE and asked[("gad7", q.END_OF_SERIES)] == q.OVERDUE
    assert asked[("phq9", q.FOLLOW_UP)] == q.UPCOMING     # 30 and 90 days after the last dose
    assert asked[("phq9", q.BASELINE)] == q.MISSED        # none was recorded before the first dose


# -- the patient's submission -----------------------------------------------------------------

@pytest.fixture
def clinic(team, make):
    """The team's clinic with its phone and on-call address, the clinicians' emails, and a patient on the IV
    protocol with two doses planned from tomorrow. Built once per day, worker and engine (reused_world; the
    fixture of three files)."""
    return todays_world(make.app, "questionnaire_clinic", lambda: _clinic(team, make))


def _clinic(team, make) -> dict:
    admin = make.user("admin", username="boss")
    make.run(lambda: db.session.add(ClinicSetting(key="clinic_phone", value="(555) 010-0199", updated_by_id=admin)))
    make.run(lambda: save_oncall_address("oncall@clinic.example", by_id=admin))
    make.run(lambda: [setattr(db.session.get(User, team[r]), "email", f"{r}@clinic.example")
                      for r in ("therapist", "prescriber")])
    patient, course = _enrol(make, team, "iv-ketamine-induction", "Portal")
    [dose, _] = make.dosing_plan(course, first_start=local(1, 10), days_between=7, count=2,
                                 reason="Test plan: spacing on purpose.", room="Suite Portal")
    return {**team, "patient": patient, "course": course, "dose": dose, "now": local(0, 12).astimezone(UTC)}


@pytest.mark.both_engines  # a patient's response in the new columns, under each engine's CHECK and append-only guard
def test_a_patients_phq9_with_item_9_raises_the_urgent_alert_and_the_oncall_email(clinic, make):
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BEFORE_DOSING)
    def submit():
        done = submit_patient_questionnaire(db.session.get(Patient, clinic["patient"]), "phq9", ["1"] * 8 + ["1"],
                                            token, clinic["now"], difficulty="somewhat")
        return done.response.id, done.alert.id, done.crisis
    response_id, alert_id, crisis = make.run(submit)
    response, alert = make.query(lambda: (db.session.get(MeasureResponse, response_id),
                                          db.session.get(SafetyAlert, alert_id)))
    assert (response.completed_by_patient, response.entered_by_id, response.moment, response.total) == \
        (True, None, f"before_each_dosing:{clinic['dose']}", 9)
    assert response.created_at == clinic["now"] and response.difficulty == "somewhat"
    assert (alert.measure_response_id, alert.finding) == (response.id, "PHQ-9 item 9 (thoughts of self-harm) answered 1")
    assert alert.source_label == "Measure (completed by the patient in the portal)"
    # the immediate notification: the on-call address and the patient's therapist and prescriber
    recipients = make.query(lambda: sorted(d.recipient for d in db.session.scalars(
        select(Delivery).where(Delivery.purpose == "safety_alert"))))
    assert recipients == ["oncall@clinic.example", "prescriber@clinic.example", "therapist@clinic.example"]
    # the crisis page: 988 (call or text), 911, the clinic's phone from its settings
    links = [href for c in crisis.contacts for _, href in c.links]
    assert links == ["tel:988", "sms:988", "tel:911", "tel:5550100199"]
    assert "(555) 010-0199" in crisis.contacts[-1].how
    # audited with the patient, no staff user; no answer in the row
    [row] = make.audit_rows(action="measure.patient_submit")
    assert (row.patient_id, row.user_id, row.outcome, row.object_id) == (clinic["patient"], None, "success",
                                                                        str(response.id))
    assert row.detail == f"phq9 before_each_dosing:{clinic['dose']}; safety alert"
    # the moment is now completed, by the patient
    asked = make.query(lambda: course_questionnaires(db.session.get(TreatmentCourse, clinic["course"]),
                                                     clinic["now"]))
    before = next(a for a in asked if a.moment.point == q.BEFORE_DOSING and a.moment.measure == "phq9")
    assert before.status == q.ANSWERED and before.answered_by.by_patient


@pytest.mark.parametrize("moment, why", [
    ("{course}/before_each_dosing:999999", "no longer asked for"),     # a dose since cancelled
    ("{course}/before_each_dosing:{second}", "opens on"),              # next week's dose: opens the day before
    ("{course}/follow_up:30", "no longer asked for"),                  # a moment the schedule does not have
])
def test_a_safety_answer_is_never_held_up_by_the_workflow(clinic, make, moment, why):
    second = make.query(lambda: max(a.dosing_session_id for a in db.session.scalars(
        select(Appointment).where(Appointment.course_id == clinic["course"], Appointment.kind == "dosing"))))
    token = moment.format(course=clinic["course"], second=second)
    # without a safety answer the moment is refused and nothing is stored
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, clinic["patient"], "phq9", PHQ9_SAFE, token, clinic["now"])
    assert why in refused.value.reasons["moment"] and _count(make, MeasureResponse) == 0
    # with one, the answers are kept and the alert raised all the same
    response_id = _submit(make, clinic["patient"], "phq9", PHQ9_ITEM9, token, clinic["now"])
    kept = make.query(lambda: db.session.get(MeasureResponse, response_id))
    # kept as an answer outside the schedule: it claims no moment it was not the answer of
    assert kept.completed_by_patient and kept.moment is None
    assert make.query(lambda: db.session.scalar(select(SafetyAlert.measure_response_id))) == response_id


def test_a_safety_answer_is_not_held_back_by_a_bad_unscored_answer(clinic, make):
    """The difficulty question is not scored: a bad value there with item 9 above 0 is dropped, and the
    answers are stored and alert (without the safety answer the same value is a field error)."""
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BASELINE)
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, clinic["patient"], "phq9", PHQ9_SAFE, token, clinic["now"], difficulty="zzz")
    assert set(refused.value.reasons) == {"difficulty"} and _count(make, MeasureResponse) == 0
    response_id = _submit(make, clinic["patient"], "phq9", PHQ9_ITEM9, token, clinic["now"], difficulty="zzz")
    kept = make.query(lambda: db.session.get(MeasureResponse, response_id))
    assert kept.completed_by_patient and kept.difficulty is None
    assert make.query(lambda: db.session.scalar(select(SafetyAlert.measure_response_id))) == response_id


def test_a_late_questionnaire_is_kept_and_its_alert_raised(clinic, make):
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BEFORE_DOSING)
    after_the_dose = local(1, 15).astimezone(UTC)   # the dose started at 10:00: the moment was missed
    response_id = _submit(make, clinic["patient"], "phq9", PHQ9_ITEM9, token, after_the_dose)
    assert make.query(lambda: db.session.scalar(select(SafetyAlert.measure_response_id))) == response_id
    asked = make.query(lambda: course_questionnaires(db.session.get(TreatmentCourse, clinic["course"]),
                                                     after_the_dose))
    # kept, marked with the moment it answered, yet it covers no moment it came too late for
    assert next(a for a in asked if a.moment.point == q.BEFORE_DOSING).status == q.MISSED


@pytest.mark.parametrize("measure, answers, difficulty, reasons", [
    ("phq9", ["1"] * 8, None, {"item9"}),                                   # a question left empty
    ("phq9", ["1"] * 7 + ["4", "x"], None, {"item8", "item9"}),             # not an answer offered
    ("phq9", ["1"] * 8 + ["0", "1"], None, {""}),                           # more answers than questions
    ("phq9", ["0"] * 9, "always", {"difficulty"}),                          # not a difficulty offered
    ("gad7", ["0"] * 7, "somewhat", set()),                                 # GAD-7 is not due: moment only
    ("cssrs", ["0", "0", "1", None, None, "0"], None, {"item3"}),           # a skipped question answered
    ("nope", ["0"] * 9, None, {"measure"}),                                 # not a measure of the registry
])
def test_bad_answers_get_field_reasons_and_change_nothing(clinic, make, measure, answers, difficulty, reasons):
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BASELINE)
    if measure == "gad7":
        token = f"{clinic['course']}/before_each_dosing:{clinic['dose']}"  # GAD-7 is asked at baseline only
        reasons = {"moment"}
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, clinic["patient"], measure, answers, token, clinic["now"], difficulty=difficulty)
    assert set(refused.value.reasons) == reasons
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert),
            _count(make, Delivery, Delivery.purpose == "safety_alert")) == (0, 0, 0)
    [row] = make.audit_rows(action="measure.patient_submit")
    assert (row.outcome, row.patient_id, row.user_id) == ("failure", clinic["patient"], None)


def test_an_incomplete_form_with_a_safety_answer_says_so_and_another_patients_course_is_refused(clinic, make, team):
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BASELINE)
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, clinic["patient"], "phq9", [None] * 8 + ["3"], token, clinic["now"])
    assert refused.value.safety_answered and set(refused.value.reasons) == {f"item{n}" for n in range(1, 9)}
    # the answers are not stored; the safety answer opened the care team's alert (test_partial_safety_answers.py)
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert)) == (0, 1)
    # the other patient's course (of the team fixture): refused whatever the answers, nothing stored
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, team["patient"], "phq9", PHQ9_ITEM9, token, clinic["now"])
    assert refused.value.reasons == {"moment": "This questionnaire is not one of yours."}
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert)) == (0, 1)


@pytest.mark.parametrize("measure, answers", [
    ("phq9", [0, 1, 2, 3, 0, 1, 2, 3, 0]),          # moderate, no alert
    ("phq9", [3] * 9),                              # severe, item 9 alert
    ("gad7", [2, 2, 1, 1, 3, 0, 2]),                # GAD-7: moderate
    ("cssrs", [1, 1, 0, 1, 0, 0]),                  # the screener's triage: high risk
    ("cssrs", [0, 0, None, None, None, 1]),         # behaviour more than 3 months ago: moderate
])
def test_a_patients_answers_score_as_a_clinicians(clinic, make, measure, answers):
    now = clinic["now"]
    # the patient's first (at baseline; the C-SSRS, which this protocol does not ask, is kept because it
    # raises an alert), then the same answers entered by the clinician
    by_patient = _submit(make, clinic["patient"], measure, [None if a is None else str(a) for a in answers],
                         f"{clinic['course']}/baseline", now)

    def clinician():
        course = db.session.get(TreatmentCourse, clinic["course"])
        day = now.astimezone(NY).date()
        return record_measure(course, measure=measure, answers=list(answers), difficulty=None, administered_on=day,
                              by=db.session.get(User, clinic["therapist"]), today=day).id
    by_clinician = make.run(clinician)

    def scored(response_id):
        r = db.session.get(MeasureResponse, response_id)
        alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.measure_response_id == r.id))
        return r.answers, r.total, r.band, alert.finding if alert else None
    assert make.query(lambda: scored(by_patient)) == make.query(lambda: scored(by_clinician))


def test_the_crisis_page_without_a_clinic_phone_names_988_and_911(app, make):
    with app.app_context():
        page = crisis_page()
    assert [c.name for c in page.contacts] == ["988 Suicide & Crisis Lifeline", "Emergency services"]


# -- the staff side ----------------------------------------------------------------------------

def test_staff_pages_show_whats_due_and_what_the_patient_completed(clinic, make, auth, client):
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BASELINE)
    _submit(make, clinic["patient"], "phq9", PHQ9_SAFE, token, clinic["now"])
    auth.sign_in("desk")   # the front desk: the course page's list, to prompt the patient; no results
    course_page = page_text(client.get(f"/courses/{clinic['course']}"))
    assert "Questionnaires" in course_page and "by the patient in the portal" in course_page
    assert "Baseline (before the first dose) " in course_page and "Open" in course_page
    assert "Every questionnaire and its results" not in course_page   # the measures page is clinical
    auth.logout()
    auth.sign_in("ther")
    measures = page_text(client.get(f"/courses/{clinic['course']}/measures"))
    assert "Questionnaires from the protocol" in measures
    assert "(completed by the patient in the portal)" in measures
    assert "Before dosing session 1" in measures and "Completed by the patient in the portal" in measures


# -- the demo clinic ---------------------------------------------------------------------------

@pytest.mark.demo_clinic
def test_the_demo_has_a_phq9_a_patient_completed_and_questionnaires_due_on_several_courses(app):
    with app.app_context():
        [response] = db.session.scalars(select(MeasureResponse).where(MeasureResponse.completed_by_patient)).all()
        assert response.measure == "phq9" and response.entered_by_id is None and response.moment
        [row] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "measure.patient_submit")).all()
        assert (row.patient_id, row.object_id, row.user_id) == (response.patient_id, str(response.id), None)
        now = datetime.now(UTC)
        waiting = {c.id for c in db.session.scalars(select(TreatmentCourse))
                   if any(a.waiting for a in course_questionnaires(c, now))}
        assert len(waiting) >= 3
