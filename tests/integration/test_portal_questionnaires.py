"""The patient's questionnaires in the portal (issue 23, point 3, its pages): what is due in plain
words, a PHQ-9 completed through the page (stored as the patient's, scored as a clinician's entry
is), item 9 above "Not at all" showing the crisis resources at once while the care team's alert and
the on-call email go out, field errors that change nothing, another patient's questionnaire refused
(404), and a late answer kept with its alert."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.domain import measures as scoring
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.services import record_measure
from ketamine_integration.portal import questionnaire_pages
from tests.conftest import page_text
from tests.integration.test_patient_questionnaires import UTC, clinic, local, team  # noqa: F401 (fixtures)

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): the patient's response under each
# engine's CHECK runs on both in test_patient_questionnaires.py.


def _answers(*items, difficulty=None) -> dict:
    data = {f"item{n}": str(v) for n, v in enumerate(items, 1) if v is not None}
    return {**data, "difficulty": difficulty} if difficulty else data


def _count(make, model, *where):
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)))


@pytest.fixture
def patient(clinic, make, auth):
    """The clinic's patient signed in to the portal; the URL of the PHQ-9 before their first dose."""
    account = make.portal_account(clinic["patient"])
    auth.portal_sign_in(account)
    return {"account": account, "form": f"/portal/questionnaires/{clinic['course']}/phq9/"
                                        f"before_each_dosing:{clinic['dose']}"}


# (when a moment is due or closes, in the clinic's zone; overdue or not) -> what the list says
DEADLINES = [
    ((2026, 12, 8, 10, 0), (2026, 12, 6, 0, 0), False,                     # closes at a clinic midnight
     "Please complete it by Tuesday 8 December at 10:00 AM. "
     "You can still send it until the end of Saturday 5 December."),
    ((2026, 12, 6, 0, 0), (2026, 12, 9, 9, 5), True,                       # due at midnight: that day's eve
     "It was due by the end of Saturday 5 December. You can still send it until Wednesday 9 December at 9:05 AM."),
    ((2026, 3, 9, 0, 0), (2026, 3, 9, 0, 0), False,                        # the day after the clocks went forward
     "Please complete it by the end of Sunday 8 March."),
]


@pytest.mark.parametrize("due, closes, overdue, words", DEADLINES)
def test_a_deadline_at_midnight_reads_as_the_end_of_the_day_before(app, due, closes, overdue, words):
    """The new-user review: "until Sunday 6 December at 12:00 AM" meant the end of Saturday."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from ketamine_integration.domain import questionnaires as rules
    zone = ZoneInfo(app.config["CLINIC_TIMEZONE"])
    at = [datetime(*parts, tzinfo=zone).astimezone(UTC) for parts in (due, closes)]
    asked = SimpleNamespace(moment=SimpleNamespace(due=at[0], closes=at[1]),
                            status=rules.OVERDUE if overdue else "open")
    with app.app_context():
        assert questionnaire_pages.timing_words(asked) == words


def test_the_home_page_names_the_questionnaire_waiting_in_one_sentence(clinic, patient, make, auth, client):
    """The new-user review: "One questionnaire is waiting… The first: …" now reads as one sentence."""
    several = page_text(client.get("/portal/"))
    assert "3 questionnaires are waiting for you. The one due soonest: " in several and "The first" not in several
    # one PHQ-9 answers both moments open now (before treatment, before the dose): the GAD-7 is left
    assert auth.post(patient["form"], _answers(0, 1, 0, 1, 0, 0, 1, 0, 0, difficulty="somewhat")).status_code == 302
    one = page_text(client.get("/portal/"))
    assert "One questionnaire is waiting for you: GAD-7, before your treatment starts." in one


def test_the_patient_completes_a_phq9_through_the_page_scored_as_a_clinicians(clinic, patient, make, auth, client):
    dose_day = local(1, 10)
    listed = page_text(client.get("/portal/questionnaires/"))
    # what is due, in plain words and clinic time: the moment by its day, the due time, no clinical term
    assert f"Before your dosing session on {dose_day:%A} {dose_day.day} {dose_day:%B}" in listed
    assert f"Please complete it by {dose_day:%A} {dose_day.day} {dose_day:%B} at 10:00 AM" in listed
    assert "Before your treatment starts" in listed   # the baseline, open until the first dose
    home = page_text(client.get("/portal/"))
    # the PHQ-9 and GAD-7 at baseline, and the PHQ-9 before the dose
    assert "Questionnaires due" in home and "3 questionnaires are waiting for you" in home
    page = client.get(patient["form"])
    text = page_text(page)
    assert page.status_code == 200
    # the published wording, each item a radio group with its legend, the difficulty question too
    assert "Over the last 2 weeks, how often have you been bothered" in text
    assert "9. Thoughts that you would be better off dead or of hurting yourself in some way" in text
    assert page.get_data(as_text=True).count("<legend>") == 10 and "how difficult have these problems" in text
    answers = [0, 1, 2, 3, 0, 1, 2, 1, 0]
    sent = auth.post(patient["form"], _answers(*answers, difficulty="somewhat"))
    assert (sent.status_code, sent.headers["Location"]) == (302, "/portal/questionnaires/")
    after = client.get("/portal/questionnaires/")
    assert questionnaire_pages.SAVED in page_text(after)

    def stored():
        r = db.session.scalar(select(MeasureResponse))
        return r.answers, r.total, r.band, r.completed_by_patient, r.entered_by_id, r.moment, r.difficulty
    assert make.query(stored) == (answers, 10, "Moderate", True, None, f"before_each_dosing:{clinic['dose']}",
                                  "somewhat")

    def by_clinician():   # the same answers through the clinician's path score the same
        course = db.session.get(TreatmentCourse, clinic["course"])
        day = local(0).date()
        r = record_measure(course, measure="phq9", answers=answers, difficulty=None, administered_on=day,
                           by=db.session.get(User, clinic["therapist"]), today=day)
        return r.total, r.band
    assert make.run(by_clinician) == (scoring.score("phq9", answers).total, "Moderate") == (10, "Moderate")
    # completed: when, never the score
    done = page_text(client.get("/portal/questionnaires/"))
    assert f"completed on {local(0):%A} {local(0).day} {local(0):%B} {local(0).year}" in done
    assert "Moderate" not in done and "score" not in done.lower() and "total" not in done.lower()
    [row] = make.audit_rows(action="measure.patient_submit")
    assert (row.patient_id, row.user_id, row.portal_account_id, row.outcome) == (
        clinic["patient"], None, patient["account"], "success")
    assert _count(make, SafetyAlert) == 0


def test_item_9_shows_the_crisis_page_and_tells_the_care_team_at_once(clinic, patient, make, auth, client):
    sent = auth.post(patient["form"], _answers(0, 0, 0, 0, 0, 0, 0, 0, 1))
    response_id = make.query(lambda: db.session.scalar(select(MeasureResponse.id)))
    assert (sent.status_code, sent.headers["Location"]) == (
        302, f"/portal/questionnaires/answers/{response_id}/support")
    crisis = client.get(sent.headers["Location"])
    html, text = crisis.get_data(as_text=True), page_text(crisis)
    assert crisis.status_code == 200
    assert "If you are thinking about harming yourself, help is available now" in text
    for link in ('href="tel:988"', 'href="sms:988"', 'href="tel:911"', 'href="tel:5550100199"'):
        assert link in html
    assert "(555) 010-0199" in text and "Your answers have been sent to your care team" in text
    # the care team's urgent alert and the immediate emails, as for a clinician's entry
    finding = make.query(lambda: db.session.scalar(select(SafetyAlert.finding)))
    assert finding == "PHQ-9 item 9 (thoughts of self-harm) answered 1"
    recipients = make.query(lambda: sorted(d.recipient for d in db.session.scalars(
        select(Delivery).where(Delivery.purpose == "safety_alert"))))
    assert recipients == ["oncall@clinic.example", "prescriber@clinic.example", "therapist@clinic.example"]
    # the patient never sees the alert itself; the page can be opened again without sending anything
    assert finding not in text and "alert" not in text.lower()
    assert client.get(sent.headers["Location"]).status_code == 200 and _count(make, MeasureResponse) == 1
    assert len(make.audit_rows(action="portal.questionnaire_support")) == 2


@pytest.mark.parametrize("answers, reasons", [
    ((1, 1, 1, 1, 1, 1, 1, 1, None), ["Choose an answer to question 9."]),          # a question left empty
    ((1, 1, 1, 1, 1, 1, 1, "often", 0), ["Choose one of the answers offered for question 8."]),  # not an answer
])
def test_field_errors_change_nothing_and_keep_the_answers(clinic, patient, make, auth, answers, reasons):
    sent = auth.post(patient["form"], _answers(*answers))
    text, html = page_text(sent), sent.get_data(as_text=True)
    assert sent.status_code == 422 and all(r in text for r in reasons)
    assert 'checked id="item1-1"' in html                      # what was chosen is chosen again
    assert "help is available now" not in text                  # no safety answer: no crisis block
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert),
            _count(make, Delivery, Delivery.purpose == "safety_alert")) == (0, 0, 0)
    [row] = make.audit_rows(action="measure.patient_submit")
    assert (row.outcome, row.patient_id) == ("failure", clinic["patient"])


def test_an_incomplete_form_with_a_safety_answer_shows_the_crisis_resources_beside_the_errors(clinic, patient, make,
                                                                                               auth):
    sent = auth.post(patient["form"], _answers(None, None, 1, 1, 1, 1, 1, 1, 3))
    text = page_text(sent)
    assert sent.status_code == 422
    assert "Choose an answer to question 1." in text and "Choose an answer to question 2." in text
    assert "help is available now" in text and "Call or text 988" in text
    # the answers were not stored, but the safety answer opened the care team's alert, and the page says so
    assert "Your care team has been told of your answer about harming yourself" in text
    assert "Your other answers are not saved yet" in text and "have been sent to your care team" not in text
    assert "care team has not been told" not in text
    assert (_count(make, MeasureResponse), _count(make, SafetyAlert)) == (0, 1)


def test_another_patients_questionnaire_is_not_found_and_nothing_changes(clinic, patient, make, auth, client, team):
    other = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    theirs = f"/portal/questionnaires/{other}/phq9/baseline"
    assert client.get(theirs).status_code == 404
    assert auth.post(theirs, _answers(0, 0, 0, 0, 0, 0, 0, 0, 2)).status_code == 404   # even a safety answer
    assert client.get(f"/portal/questionnaires/{clinic['course']}/nope/baseline").status_code == 404
    assert client.get(f"/portal/questionnaires/{clinic['course']}/phq9/follow_up:30").status_code == 404
    # another patient's answers that raised an alert: their crisis page is not this patient's
    def clinician_entry():
        course = db.session.get(TreatmentCourse, other)
        day = local(0).date()
        return record_measure(course, measure="phq9", answers=[1] * 9, difficulty=None, administered_on=day,
                              by=db.session.get(User, team["therapist"]), today=day).id
    response = make.run(clinician_entry)
    assert client.get(f"/portal/questionnaires/answers/{response}/support").status_code == 404
    assert _count(make, MeasureResponse) == 1 and _count(make, SafetyAlert) == 1     # the clinician's own
    assert len(make.audit_rows(action="access.denied")) == 5
    assert "Before your dosing session" in page_text(client.get("/portal/questionnaires/"))   # own list intact


def test_a_late_answer_is_kept_and_its_alert_raised(clinic, patient, make, auth, client, monkeypatch):
    assert client.get(patient["form"]).status_code == 200            # opened while it was open
    after_the_dose = local(1, 15).astimezone(UTC)                     # sent after the dose began at 10:00
    monkeypatch.setattr(questionnaire_pages, "utcnow", lambda: after_the_dose)
    sent = auth.post(patient["form"], _answers(1, 1, 1, 1, 1, 1, 1, 1, 1))
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/support")
    assert make.query(lambda: db.session.scalar(select(MeasureResponse.created_at))) == after_the_dose
    assert _count(make, SafetyAlert) == 1 and _count(make, Delivery, Delivery.purpose == "safety_alert") == 3
    # the page of the missed moment now says it closed, and offers no form
    closed = page_text(client.get(patient["form"]))
    assert "This questionnaire closed (it could be sent until" in closed and "Send my answers" not in closed


def test_answers_sent_after_the_session_timed_out_are_offered_back(clinic, patient, make, auth, client):
    from ketamine_integration.portal.models import PortalSession
    make.run(lambda: [setattr(s, "last_seen_at", s.last_seen_at - timedelta(hours=1))
                      for s in db.session.scalars(select(PortalSession))])
    sent = auth.post(patient["form"], _answers(2, 2, 2, 2, 2, 2, 2, 2, 0))
    assert sent.status_code == 302 and "/portal/sign-in" in sent.headers["Location"]
    assert _count(make, MeasureResponse) == 0
    auth.portal_sign_in(patient["account"])
    page = client.get(patient["form"])
    assert "Your answers were kept" in page_text(page) and 'checked id="item9-0"' in page.get_data(as_text=True)
    assert auth.post(patient["form"], _answers(2, 2, 2, 2, 2, 2, 2, 2, 0)).status_code == 302
    assert "Your answers were kept" not in page_text(client.get(patient["form"]))
