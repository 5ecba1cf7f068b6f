"""The attack review of issue 24's features, each finding as a regression: concurrent saves and starts
answer like a stale form (409, text kept) or the usual refusal, never a 500; a draft is its author's;
a safety-plan review is dated between the revision's signing day and today; an ended course's plan and
stage stay as they were; a measure's date has a floor; a vocabulary file with a hostile value leaves
the pages working."""
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import THERAPIST
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import to_clinic
from ketamine_integration.discharge.models import DischargeSummary
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse
from ketamine_integration.notes.services import MEASURE_BEFORE_REGISTRATION_DAYS
from ketamine_integration.patients.care_team import change_care_team, team_of
from ketamine_integration.patients.models import Patient
from ketamine_integration.plans.models import CourseStageChange, TreatmentPlan
from ketamine_integration.safety_plans.models import SafetyPlanReview, SafetyPlanRevision
from tests.conftest import Auth, page_text
from tests.integration.test_discharge import WRITTEN, ended  # noqa: F401 - the fixture
from tests.integration.test_notes import notes_team
from tests.integration.test_safety_plans import PLAN, _edit
from tests.integration.test_treatment_plans import _plan_form, _start
from tests.security.clinic import today as clinic_day

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def team(make):
    return notes_team(make)


def _race(app, username: str, posts) -> list:
    """Each tab, signed in as `username`, posts its (url, form) at the same moment: their responses."""
    tabs = []
    for _ in posts:
        tab = Auth(app, app.test_client())
        tab.sign_in(username)
        tabs.append(tab)
    barrier, responses = threading.Barrier(len(posts)), [None] * len(posts)

    def post(i, tab, url, data):
        barrier.wait(30)
        responses[i] = tab.post(url, data)
    threads = [threading.Thread(target=post, args=(i, tab, *form)) for i, (tab, form) in enumerate(zip(tabs, posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def _audited(make, action: str, outcome: str) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.outcome == outcome)))


# -- 2: concurrent saves and starts ----------------------------------------------------------------

@pytest.mark.both_engines  # row locks on PostgreSQL, serialised writers on SQLite
def test_two_signs_of_one_plan_draft_at_once_give_one_signature_and_a_409_with_the_text_kept(app, make, auth,
                                                                                             team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    url = f"/plans/{plan_id}"
    responses = _race(app, "ther", [(url, _plan_form(1, sign=True)),
                                    (url, _plan_form(1, sign=True, problems_patient="Typed in the other tab"))])
    codes = sorted(r.status_code for r in responses)
    # the later one met the signature: in the service (409, its text kept), or, when SQLite's serialised
    # writers let the view read the plan signed already, at the view (303 to the read-only revision)
    assert codes in ([302, 409], [302, 303]), codes
    for late in (r for r in responses if r.status_code == 409):
        assert "Someone saved this plan after you opened it" in page_text(late)
        assert "Typed in the other tab" in late.get_data(as_text=True) or "I can&#39;t get out" in late.get_data(
            as_text=True)
    assert make.query(lambda: db.session.get(TreatmentPlan, plan_id).signed)
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(CourseStageChange))) == 1


@pytest.mark.both_engines  # a unique key on PostgreSQL would have answered the second start with a 500
def test_two_discharge_starts_at_once_make_one_summary_and_refuse_the_other_clearly(app, make, ended):  # noqa: F811
    url = f"/courses/{ended['course']}/discharge"
    responses = _race(app, "ther", [(url, {}), (url, {})])
    assert sorted(r.status_code for r in responses) == [302, 422]
    [refused] = [r for r in responses if r.status_code == 422]
    assert "was started already" in page_text(refused)
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(DischargeSummary))) == 1


# -- 3: a review's date ------------------------------------------------------------------------------

@pytest.mark.parametrize("days, accepted", [
    (0, True),            # the signing day itself (today)
    (-1, False),          # the day before the revision was signed
    (-365 * 126, False),  # 1900
    (1, False),           # tomorrow
])
def test_a_review_is_dated_from_the_revisions_signing_day_to_today(team, make, auth, days, accepted):
    auth.sign_in("ther")
    assert _edit(auth, team["patient"], {**PLAN, "action": "sign", "confirm_lock": "y"}).status_code == 302
    day = clinic_day() + timedelta(days=days)
    response = auth.post(f"/patients/{team['patient']}/safety-plan/review",
                         {"reviewed_on": day.isoformat(), "with_patient": "yes", "changes": "none", "comment": ""})
    stored = make.query(lambda: db.session.scalar(select(func.count()).select_from(SafetyPlanReview)))
    assert (response.status_code == 302, stored) == ((True, 1) if accepted else (False, 0)), page_text(response)
    if days < 0:
        assert "cannot predate the revision it reviews" in page_text(response)


# -- 4: a draft is its author's ----------------------------------------------------------------------

def test_a_colleague_reads_a_safety_plan_draft_but_neither_saves_nor_signs_it(team, make, auth, client):
    auth.sign_in("ther")
    assert _edit(auth, team["patient"], {**PLAN, "warning_signs": "Hazel's words"}).status_code == 302
    auth.sign_in("ther2")
    page = page_text(client.get(f"/patients/{team['patient']}/safety-plan"))
    assert "Draft started by Hazel Quint on" in page and "only its author saves or signs it" in page
    for action in ("save", "sign"):
        response = auth.post(f"/patients/{team['patient']}/safety-plan/edit",
                             {**PLAN, "warning_signs": "Replaced by a colleague", "action": action, "version": "1"})
        assert response.status_code == 303
    revision = make.query(lambda: db.session.scalar(select(SafetyPlanRevision)))
    assert revision.status == "draft" and revision.content["warning_signs"] == ["Hazel's words"]
    assert revision.signed_by_id is None
    assert _audited(make, "safety_plan.save", "failure") == 2


def test_a_colleague_reads_a_discharge_draft_but_neither_saves_nor_signs_it(ended, make, auth, client):  # noqa: F811
    colleague = make.user("therapist", username="ther2", full_name="Ivo Second")
    make.run(lambda: change_care_team(db.session.get(Patient, ended["patient"]),
                                      team_of(db.session.get(Patient, ended["patient"])) | {(colleague, THERAPIST)},
                                      by=None, reason="covering"))
    auth.sign_in("ther")
    assert auth.post(f"/courses/{ended['course']}/discharge", {}).status_code == 302
    summary = make.query(lambda: db.session.scalar(select(DischargeSummary)))
    auth.sign_in("ther2")
    page = client.get(f"/courses/{ended['course']}/discharge")
    assert "only its author saves or signs it" in page_text(page) and 'name="sign"' not in page.get_data(as_text=True)
    for extra in ({}, {"confirm_sign": "y", "sign": "1"}):
        response = auth.post(f"/discharge/{summary.id}", {"version": str(summary.version), **WRITTEN, **extra})
        assert response.status_code == 422 and "only its author saves or signs it" in page_text(response)
    after = make.query(lambda: db.session.get(DischargeSummary, summary.id))
    assert after.status == "draft" and after.written == {} and after.signed_by_id is None
    assert _audited(make, "discharge.update", "failure") == 2


# -- 5: an ended course's plan -----------------------------------------------------------------------

def test_an_ended_course_keeps_its_plan_and_stage_addenda_still_allowed(team, make, auth, client):
    auth.sign_in("ther")
    signed = _start(auth, team["course"])
    assert auth.post(f"/plans/{signed}", _plan_form(1, sign=True)).status_code == 302
    draft = _start(auth, team["course"])
    version = str(make.query(lambda: db.session.get(TreatmentCourse, team["course"]).version))
    assert auth.end_course(team["course"], {"target": "completed", "reason": "Series and integration complete.",
                                            "version": version}).status_code == 302
    before = make.query(lambda: db.session.scalar(select(func.count()).select_from(CourseStageChange)))
    plan_version = make.query(lambda: db.session.get(TreatmentPlan, draft).version)
    refused = [auth.post(f"/courses/{team['course']}/plan/revisions", {}),
               auth.post(f"/plans/{draft}", _plan_form(plan_version, problems_patient="After the end")),
               auth.post(f"/plans/{draft}", _plan_form(plan_version, sign=True)),
               auth.post(f"/courses/{team['course']}/stage", {"stage-stage": "deepen",
                                                               "stage-reason": "moving on after the end"})]
    for response in refused:
        assert response.status_code in (302, 303, 422), response.status_code
    assert "This course has ended" in page_text(refused[1])
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(TreatmentPlan))) == 2
    assert make.query(lambda: db.session.get(TreatmentPlan, draft).content["problems_patient"]) != "After the end"
    assert not make.query(lambda: db.session.get(TreatmentPlan, draft).signed)
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(CourseStageChange))) == before
    page = client.get(f"/courses/{team['course']}/plan")
    assert page.status_code == 200
    text = page_text(page)  # the page offers no revision, no stage move and no review: the plan is kept
    assert "This course has ended: its plan and stage are kept as they were" in text
    for offered in ("Revise the plan", "Move the stage", "Plan review due"):
        assert offered not in text
    assert auth.post(f"/plans/{signed}/addenda", {"addendum-body": "Outcome noted at the end of the course."}
                     ).status_code == 302
    assert make.query(lambda: len(db.session.get(TreatmentPlan, signed).addenda)) == 1


# -- 7: a measure's date -----------------------------------------------------------------------------

@pytest.mark.parametrize("key, items", [("pcl5", 20), ("wsas", 5), ("phq9", 9)])
def test_a_measure_dated_before_the_floor_is_a_field_error_naming_it(team, make, auth, key, items):
    registered = make.query(lambda: to_clinic(db.session.get(Patient, team["patient"]).created_at).date())
    floor = registered - timedelta(days=MEASURE_BEFORE_REGISTRATION_DAYS)
    auth.sign_in("ther")

    def post(on: date):
        data = {f"{key}-administered_on": on.isoformat(), **{f"{key}-item{n}": "1" for n in range(1, items + 1)}}
        if key == "phq9":
            data[f"{key}-difficulty"] = "somewhat"
        return auth.post(f"/courses/{team['course']}/measures/{key}", data)
    for day in (date(1900, 1, 2), floor - timedelta(days=1)):
        response = post(day)
        assert response.status_code != 302 and f"cannot be before {floor.day} {floor:%B %Y}" in page_text(response)
    assert post(floor).status_code == 302  # a referral's score from a year before registration: a baseline
    assert make.query(lambda: db.session.scalars(select(MeasureResponse.administered_on)).all()) == [floor]


# -- 1 and 6: a hostile vocabulary file --------------------------------------------------------------

@pytest.mark.both_engines  # PostgreSQL refused the NUL with a 500 when a plan used the technique
@pytest.mark.parametrize("text", [
    "vocabulary: techniques\nversion: " + "9" * 5000 + "\nclusters: []\n",   # past the int-string digit limit
    "vocabulary: techniques\nversion: 2\nclusters:\n  - key: nul\n    name: N\n    techniques:\n"
    '      - {key: nul-a, name: "a\\0b", description: d}\n',                    # NUL in a technique's name
])
def test_a_hostile_vocabulary_file_leaves_the_pages_and_the_check_working(team, app, auth, client, tmp_path, text):
    (tmp_path / "techniques.yaml").write_text((ROOT / "vocabularies" / "techniques.yaml").read_text())
    (tmp_path / "zz-local.yaml").write_text(text)
    app.config["TECHNIQUES_DIR"] = str(tmp_path)
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    assert client.get(f"/plans/{plan_id}").status_code == 200
    # the broken file's technique is not in the vocabulary: a field error, never a NUL for PostgreSQL to refuse
    refused = auth.post(f"/plans/{plan_id}", _plan_form(1, **{"techniques-0-technique": "nul-a"}))
    assert refused.status_code == 422 and "not in the clinic's vocabulary" in page_text(refused)
    page = client.get("/protocols/techniques")
    assert page.status_code == 200 and "zz-local.yaml" in page_text(page)
    result = app.test_cli_runner().invoke(args=["techniques", "check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "zz-local.yaml: " in result.output and "Traceback" not in result.output
