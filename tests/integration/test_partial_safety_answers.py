"""A safety answer on a portal questionnaire the patient did not complete (issue 23, point 3; attacker
review): PHQ-9 item 9 answered above 0 with another question left empty is refused with its field
errors, nothing of the answers stored, yet it opens the care team's urgent alert and the on-call email
at once, and the page says the care team was told. The same finding again, or the questionnaire then
completed with it, raises no second alert (the completed response is linked to the first); a graver
finding or one after the alert was acknowledged raises its own. Staff see it as any alert; the
database lets a portal answer's alert be linked once, and nothing else."""
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.domain.crisis import CARE_TEAM_TOLD_OF_ANSWER
from ketamine_integration.domain.measures import MEASURES
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.domain import questionnaires as q
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.patient_responses import QuestionnaireRefused, submit_patient_questionnaire
from ketamine_integration.notes.safety import PORTAL_ANSWER_STANDS
from ketamine_integration.patients.models import Patient
from ketamine_integration.web.lifecycle import commit_refusal, finish_transaction
from tests.conftest import page_text
from tests.integration.test_patient_questionnaires import UTC, _submit, _token, clinic, local, team  # noqa: F401 (fixtures)
from tests.integration.test_portal_questionnaires import _answers, patient  # noqa: F401 (fixture)


FINDING = "PHQ-9 item 9 (thoughts of self-harm) answered 2 on an incomplete questionnaire in the portal"
#: item 9 answered 2, question 3 left empty
PARTIAL = ["1", "1", None, "1", "1", "1", "1", "1", "2"]
COMPLETE = ["1"] * 8 + ["2"]


def _count(make, model, *where):
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)))


def _emails(make) -> int:
    return _count(make, Delivery, Delivery.purpose == "safety_alert")


def _alerts(make) -> list[SafetyAlert]:
    return make.query(lambda: db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)).all())


@dataclass(frozen=True)
class Refused:
    reasons: dict
    safety_answered: bool
    #: the id of the alert the refusal names (None: none)
    alert: int | None


def _refused(make, clinic, answers, now=None, measure="phq9") -> Refused:
    """Send a form the service refuses, as the portal's page does (test_patient_questionnaires._submit):
    what it says, and the alert it names."""
    with make.app.test_request_context("/portal", method="POST"):
        with pytest.raises(QuestionnaireRefused) as refused:
            submit_patient_questionnaire(db.session.get(Patient, clinic["patient"]), measure, answers,
                                         f"{clinic['course']}/baseline", now or clinic["now"])
        said = refused.value
        found = Refused(said.reasons, said.safety_answered, said.alert.id if said.alert is not None else None)
        if said.alert is not None:
            commit_refusal(422)
        finish_transaction(make.app.response_class(status=422))
    return found


@pytest.mark.both_engines  # the new source under each engine's CHECKs
def test_a_safety_answer_on_an_incomplete_form_opens_the_alert_and_the_oncall_email(clinic, make):
    refused = _refused(make, clinic, PARTIAL)
    # still refused with its field error, and says a safety answer was given
    assert refused.reasons == {"item3": "Choose an answer to question 3."} and refused.safety_answered
    [alert] = _alerts(make)
    assert (alert.source, alert.measure, alert.item_score, alert.finding, alert.measure_response_id) == (
        "portal_answer", "phq9", 2, FINDING, None)
    assert (alert.patient_id, alert.course_id, alert.raised_at, alert.open) == (
        clinic["patient"], clinic["course"], clinic["now"], True)
    assert refused.alert == alert.id
    # the immediate notification, exactly as for a stored response: on-call, the therapist, the prescriber
    recipients = make.query(lambda: sorted(d.recipient for d in db.session.scalars(
        select(Delivery).where(Delivery.purpose == "safety_alert"))))
    assert recipients == ["oncall@clinic.example", "prescriber@clinic.example", "therapist@clinic.example"]
    # nothing else stored: no response
    assert _count(make, MeasureResponse) == 0
    # audited: the refusal (naming the alert) and the alert opened, with the patient, no staff user, no answer
    [refusal] = make.audit_rows(action="measure.patient_submit")
    assert (refusal.outcome, refusal.patient_id, refusal.user_id) == ("failure", clinic["patient"], None)
    assert refusal.detail == f"phq9 refused: item3; safety alert {alert.id}"
    [opened] = make.audit_rows(action="alert.portal_answer")
    assert (opened.outcome, opened.patient_id, opened.object_id, opened.detail) == (
        "success", clinic["patient"], str(alert.id), "phq9")


@pytest.mark.parametrize("measure, answers, reasons", [
    ("phq9", ["1"] * 7 + [None, "0"], {"item8"}),                    # item 9 "Not at all": a plain refusal
    ("phq9", ["1"] * 7 + [None, "7"], {"item8", "item9"}),           # item 9 not an answer offered
    ("phq9", ["1"] * 7 + [None, "x"], {"item8", "item9"}),           # nor is this
    ("cssrs", ["0", "0", "1", None, None, "0"], {"item3"}),          # a yes to a question that was skipped
    ("cssrs", ["0", "0", None, None, None, None], {"item6"}),        # every answer given is "No"
    ("gad7", ["3", "3", None, "3", "3", "3", "3"], {"item3"}),       # a measure without a safety rule
])
def test_a_refused_form_without_a_valid_safety_answer_opens_nothing(clinic, make, measure, answers, reasons):
    refused = _refused(make, clinic, answers, measure=measure)
    assert set(refused.reasons) == reasons and not refused.safety_answered and refused.alert is None
    assert (_count(make, SafetyAlert), _count(make, MeasureResponse), _emails(make)) == (0, 0, 0)
    assert make.audit_rows(action="alert.portal_answer") == []


def test_a_cssrs_level_reached_by_the_valid_answers_opens_the_alert(clinic, make):
    _refused(make, clinic, ["1", "0", None, None, None, None], measure="cssrs")    # question 6 left empty
    [alert] = _alerts(make)
    assert (alert.measure, alert.item_score, alert.finding) == (
        "cssrs", None, "C-SSRS screener: Low risk (yes to question 1) on an incomplete questionnaire in the portal")
    assert make.query(lambda: db.session.get(SafetyAlert, alert.id).guidance) == MEASURES["cssrs"].safety.guidance
    assert _emails(make) == 3


def test_the_same_finding_again_opens_no_second_alert_and_a_graver_one_does(clinic, make):
    _refused(make, clinic, PARTIAL)
    later = clinic["now"] + timedelta(minutes=5)
    again = _refused(make, clinic, ["1", "1", "1", None, "1", "1", "1", "1", "2"], now=later)   # another gap
    [alert] = _alerts(make)
    assert again.alert == alert.id and _emails(make) == 3          # told already: nothing more sent
    assert len(make.audit_rows(action="alert.portal_answer")) == 1
    graver = _refused(make, clinic, PARTIAL[:8] + ["3"], now=later)     # nearly every day: its own alert
    assert [a.finding for a in _alerts(make)] == [FINDING, FINDING.replace("answered 2", "answered 3")]
    assert graver.alert != alert.id and _emails(make) == 6
    # a day later the same finding stands alone again: its own alert and emails
    _refused(make, clinic, PARTIAL, now=clinic["now"] + PORTAL_ANSWER_STANDS + timedelta(minutes=1))
    assert len(_alerts(make)) == 3 and _emails(make) == 9


def test_the_completed_questionnaire_is_linked_to_the_alert_of_its_incomplete_form(clinic, make):
    _refused(make, clinic, PARTIAL)
    response_id = _submit(make, clinic["patient"], "phq9", COMPLETE, f"{clinic['course']}/baseline",
                          clinic["now"] + timedelta(minutes=3))
    [alert] = _alerts(make)
    # one alert, one set of emails: the response the patient completed is the alert's, linked once
    assert (alert.source, alert.measure_response_id, alert.finding) == ("portal_answer", response_id, FINDING)
    assert _emails(make) == 3
    assert make.query(lambda: db.session.get(SafetyAlert, alert.id).source_label) == \
        "Patient's answer in the portal (questionnaire completed afterwards)"
    assert make.audit_rows(action="measure.patient_submit")[-1].detail == \
        f"phq9 baseline; linked to safety alert {alert.id}"


@pytest.mark.parametrize("completed, acknowledged_first", [
    (["1"] * 8 + ["3"], False),         # a graver answer when completed: its own alert
    (COMPLETE, True),                   # the same answer after a clinician acknowledged the first: a new alert
])
def test_a_different_finding_or_an_acknowledged_alert_gets_its_own_alert(clinic, make, completed, acknowledged_first):
    _refused(make, clinic, PARTIAL)
    if acknowledged_first:
        def acknowledge():
            alert = db.session.scalar(select(SafetyAlert))
            alert.acknowledged_at, alert.acknowledged_by_id = clinic["now"], clinic["therapist"]
            alert.acknowledgement = "Called the patient; safety plan reviewed together."
        make.run(acknowledge)
    response_id = _submit(make, clinic["patient"], "phq9", completed, f"{clinic['course']}/baseline",
                          clinic["now"] + timedelta(minutes=3))
    first, second = _alerts(make)
    assert (first.source, first.measure_response_id) == ("portal_answer", None)
    assert (second.source, second.measure_response_id) == ("measure", response_id)
    assert _emails(make) == 6


def test_staff_see_the_alert_everywhere_and_acknowledge_it(clinic, make, auth, client):
    _refused(make, clinic, PARTIAL)
    [alert] = _alerts(make)
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert "Safety alerts to acknowledge" in home and FINDING in home
    measures = page_text(client.get(f"/courses/{clinic['course']}/measures"))
    assert f"Safety alert: {FINDING} (patient's answer in the portal (questionnaire not completed), " \
           f"{local(0).date()})" in measures
    assert MEASURES["phq9"].safety.guidance in measures          # what the clinician does, the measure's own words
    assert "Safety history" in measures and "Open" in measures
    done = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "Called the patient; safety plan reviewed."})
    assert done.status_code == 302
    kept = make.query(lambda: db.session.get(SafetyAlert, alert.id))
    assert not kept.open and kept.acknowledgement == "Called the patient; safety plan reviewed."
    history = page_text(client.get(f"/courses/{clinic['course']}/measures"))
    assert FINDING in history and "Called the patient; safety plan reviewed." in history
    assert "Safety alerts to acknowledge" not in page_text(client.get("/"))


def _guard_refuses(make, sql: str, **params) -> bool:
    def attempt():
        try:
            with db.session.begin_nested():
                db.session.execute(text(sql), params)
            return False
        except DBAPIError as error:
            return "append-only" in str(error.orig)
    return make.query(attempt)


@pytest.mark.both_engines  # raw SQL behind the append-only guard
def test_the_database_lets_a_portal_answers_alert_be_linked_once_and_nothing_else(clinic, make):
    _refused(make, clinic, PARTIAL)
    # two responses without a safety answer (neither is linked): the PHQ-9's and the GAD-7's at baseline
    first = _submit(make, clinic["patient"], "phq9", ["0"] * 9, f"{clinic['course']}/baseline", clinic["now"])
    second = _submit(make, clinic["patient"], "gad7", ["0"] * 7, f"{clinic['course']}/baseline", clinic["now"])
    [alert] = _alerts(make)
    link = "UPDATE safety_alerts SET measure_response_id = :r WHERE id = :a"
    for sql in ("UPDATE safety_alerts SET measure = 'gad7' WHERE id = :a",
                "UPDATE safety_alerts SET source = 'measure' WHERE id = :a",
                "DELETE FROM safety_alerts WHERE id = :a"):
        assert _guard_refuses(make, sql, a=alert.id), sql
    make.run(lambda: db.session.execute(text(link), {"r": first, "a": alert.id}))   # once: accepted
    assert make.query(lambda: db.session.get(SafetyAlert, alert.id).measure_response_id) == first
    assert _guard_refuses(make, link, r=second, a=alert.id)                          # again: refused
    assert _guard_refuses(make, "UPDATE safety_alerts SET measure_response_id = NULL WHERE id = :a", a=alert.id)


def test_a_measure_alert_cannot_be_given_another_response(clinic, make):
    response_id = _submit(make, clinic["patient"], "phq9", COMPLETE, f"{clinic['course']}/baseline", clinic["now"])
    other = _submit(make, clinic["patient"], "gad7", ["0"] * 7, f"{clinic['course']}/baseline", clinic["now"])
    [alert] = _alerts(make)
    assert (alert.source, alert.measure_response_id) == ("measure", response_id)
    assert _guard_refuses(make, "UPDATE safety_alerts SET measure_response_id = :r WHERE id = :a", r=other,
                          a=alert.id)


def test_through_the_page_the_patient_is_told_and_completing_it_later_raises_nothing_more(clinic, patient, make,
                                                                                           auth, client):
    # item 9 answered 2, question 1 left empty: refused (422) with its error, the crisis resources, and the
    # words that the care team has been told, while the answers are not saved
    sent = auth.post(patient["form"], _answers(None, 1, 1, 1, 1, 1, 1, 1, 2))
    text, html = page_text(sent), sent.get_data(as_text=True)
    assert sent.status_code == 422 and "Choose an answer to question 1." in text
    assert "help is available now" in text and CARE_TEAM_TOLD_OF_ANSWER in text
    assert 'checked id="item9-2"' in html                                 # the answers chosen again
    [alert] = _alerts(make)
    assert (alert.source, alert.finding, _emails(make), _count(make, MeasureResponse)) == (
        "portal_answer", FINDING, 3, 0)
    # the finding itself is never shown to the patient
    assert FINDING not in text and "alert" not in text.lower()
    # completed now: stored, linked to that alert, the crisis page as for any safety answer; no second email
    done = auth.post(patient["form"], _answers(1, 1, 1, 1, 1, 1, 1, 1, 2))
    response_id = make.query(lambda: db.session.scalar(select(MeasureResponse.id)))
    assert (done.status_code, done.headers["Location"]) == (
        302, f"/portal/questionnaires/answers/{response_id}/support")
    assert "Your answers have been sent to your care team" in page_text(client.get(done.headers["Location"]))
    [alert] = _alerts(make)
    assert alert.measure_response_id == response_id and _emails(make) == 3


def test_more_answers_than_questions_still_alert_on_item_9(clinic, make):
    """A malformed form (a tenth answer) is refused, yet its item 9 answered 3 opens the alert."""
    token = _token(make, clinic["patient"], "phq9", clinic["now"], q.BASELINE)
    with pytest.raises(QuestionnaireRefused) as refused:
        _submit(make, clinic["patient"], "phq9", ["0"] * 8 + ["3", "0"], token, clinic["now"])
    assert refused.value.safety_answered and set(refused.value.reasons) == {""}
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert)) == (0, 1)
