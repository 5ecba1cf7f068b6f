"""Treatment plans (issue 24, point 1): revisions drafted, signed and locked (service, ORM guard, raw
SQL), addenda, revising keeps objective lineage, the stage history, verify, review due, access by role."""
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.plans import services
from ketamine_integration.plans.models import CourseStageChange, PlanObjective, TreatmentPlan
from ketamine_integration.plans.signed_guard import SignedPlanChanged
from tests.conftest import page_text
from tests.security.clinic import today as clinic_day  # the clinic's date (America/New_York in tests)
from tests.integration.test_notes import notes_team


@pytest.fixture
def team(make):
    """test_notes' team (a course in integration), from the same snapshot."""
    return notes_team(make)


def _plan_form(version, *, sign=False, **changes):
    data = {"version": str(version), "problems_patient": "I can't get out of bed",
            "problems_clinician": "Low activation, withdrawal", "goals-0": "Re-engage with daily life",
            "goals-1": "", "goals-2": "", "goals-3": "",
            "objectives-0-goal": "1", "objectives-0-target": "Patient walks 20 minutes, 3 times a week",
            "objectives-0-criterion": "Activity log shows 3 walks a week for 4 weeks",
            "objectives-0-by_when": (clinic_day() + timedelta(days=42)).isoformat(),
            "objectives-0-mechanism": "Behavioural activation assimilated into a psychodynamic host",
            "objectives-0-measure": "phq9", "pathway": "assimilative_integration", "host_theory": "psychodynamic",
            "techniques-0-technique": "behavioural-activation", "techniques-0-rationale": "Counter inertia",
            "stage": "stabilise", "review_on": (clinic_day() + timedelta(days=30)).isoformat()}
    data.update(changes)
    if sign:
        data.update(then_sign="1", confirm_lock="y")
    return data


def _start(auth, course_id):
    response = auth.post(f"/courses/{course_id}/plan/revisions", {})
    assert response.status_code == 302, response.data
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _signed_plan(auth, team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    response = auth.post(f"/plans/{plan_id}", _plan_form(1, sign=True))
    assert response.status_code == 302, page_text(response)
    return plan_id


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_a_plan_is_drafted_signed_locked_and_verified(app, auth, team, make):
    plan_id = _signed_plan(auth, team)
    with app.app_context():
        plan = db.session.get(TreatmentPlan, plan_id)
        assert plan.signed and plan.revision == 1 and plan.content_digest
        assert [o.target for o in plan.objectives] == ["Patient walks 20 minutes, 3 times a week"]
        assert plan.objectives[0].goal == "Re-engage with daily life"
        assert [(t.technique_key, t.technique_name) for t in plan.techniques] == [
            ("behavioural-activation", "Behavioural activation")]
        assert services.active_plan(team["course"]).id == plan_id
        # signing recorded the plan's stage as the course's first
        assert services.current_stage(team["course"]) == "stabilise"
        assert db.session.scalar(select(CourseStageChange.plan_id)) == plan_id
        plan.review_on = clinic_day()
        with pytest.raises(SignedPlanChanged):
            db.session.flush()
        db.session.rollback()
        for statement in ("UPDATE treatment_plans SET stage = 'deepen' WHERE id = :id",
                          "UPDATE plan_objectives SET target = 'x' WHERE plan_id = :id",
                          "DELETE FROM plan_techniques WHERE plan_id = :id",
                          "UPDATE course_stage_changes SET reason = 'rewritten'"):
            with pytest.raises(DBAPIError):
                with db.session.begin_nested():
                    db.session.execute(text(statement), {"id": plan_id})
        db.session.rollback()
        assert services.verify_signed_plans() == [(plan_id, True)]
    # a signed revision refuses a save
    response = auth.post(f"/plans/{plan_id}", _plan_form(2))
    assert response.status_code == 303
    runner = app.test_cli_runner()
    result = runner.invoke(args=["signatures", "verify"])
    assert "1 of 1 signed treatment plan revisions verified." in result.output, result.output


def test_the_digest_covers_what_the_plan_says(app, auth, team):
    plan_id = _signed_plan(auth, team)
    with app.app_context():
        plan = db.session.get(TreatmentPlan, plan_id)
        assert services.content_digest(plan) == plan.content_digest
        plan.content = {**plan.content, "goals": ["something else"]}
        assert services.content_digest(plan) != plan.content_digest
        db.session.rollback()


def test_smart_objectives_are_refused_by_field_and_nothing_is_saved(app, auth, team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    response = auth.post(f"/plans/{plan_id}", _plan_form(1, **{
        "objectives-1-target": "Journal daily", "objectives-1-goal": "1",
        "objectives-0-by_when": (clinic_day() - timedelta(days=1)).isoformat()}))
    assert response.status_code == 422
    body = page_text(response)
    assert "Objective 1: the date is before the plan." in body
    assert "Objective 2: Say how success is measured" in body and "Objective 2: Give the date" in body
    with app.app_context():
        plan = db.session.get(TreatmentPlan, plan_id)
        assert plan.objectives == [] and plan.content == {}
        events = db.session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "plan.update")).all()
        assert "failure" in events


def test_signing_needs_a_goal_an_objective_a_stage_a_pathway_and_a_review_date(app, auth, team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    response = auth.post(f"/plans/{plan_id}", {"version": "1", "then_sign": "1", "confirm_lock": "y"})
    assert response.status_code == 200  # the (empty) draft is saved, not signed
    body = page_text(response)
    for need in ("Write at least one goal", "Write at least one complete objective", "Choose the decision-map stage",
                 "Choose the main integration pathway", "Give the date the plan is to be reviewed"):
        assert need in body
    with app.app_context():
        assert not db.session.get(TreatmentPlan, plan_id).signed


def test_a_concurrent_save_is_detected(app, auth, team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    assert auth.post(f"/plans/{plan_id}", _plan_form(1)).status_code == 302
    response = auth.post(f"/plans/{plan_id}", _plan_form(1, problems_patient="typed in another window"))
    assert response.status_code == 409
    assert "Someone saved this plan after you opened it" in page_text(response)


def test_revising_copies_the_signed_revision_and_keeps_objective_lineage(app, auth, team):
    first = _signed_plan(auth, team)
    second = _start(auth, team["course"])
    with app.app_context():
        old, new = db.session.get(TreatmentPlan, first), db.session.get(TreatmentPlan, second)
        lineage = old.objectives[0].lineage_id
        assert new.revision == 2 and new.based_on_id == first and new.objectives[0].lineage_id == lineage
    response = auth.post(f"/plans/{second}", _plan_form(1, sign=True, stage="target", **{
        "objectives-0-lineage": lineage, "objectives-0-target": "Patient walks 30 minutes, 4 times a week",
        "objectives-1-goal": "1", "objectives-1-target": "Patient calls a friend weekly",
        "objectives-1-criterion": "4 calls in 4 weeks", "objectives-1-by_when": (clinic_day() + timedelta(days=28)).isoformat(),
        "objectives-1-mechanism": "Reconnection counters withdrawal", "objectives-1-lineage": lineage}))
    assert response.status_code == 302, page_text(response)
    with app.app_context():
        new = db.session.get(TreatmentPlan, second)
        assert [o.lineage_id == lineage for o in new.objectives] == [True, False]  # a copied lineage is kept once
        history = db.session.scalars(select(PlanObjective.target).where(PlanObjective.lineage_id == lineage)
                                     .order_by(PlanObjective.id)).all()
        assert history == ["Patient walks 20 minutes, 3 times a week", "Patient walks 30 minutes, 4 times a week"]
        assert services.active_plan(team["course"]).id == second
        assert [c.stage for c in services.stage_history(team["course"])] == ["target", "stabilise"]


def test_addenda_and_stage_changes(app, auth, team):
    plan_id = _signed_plan(auth, team)
    assert auth.post(f"/plans/{plan_id}/addenda", {"addendum-body": "Patient prefers mornings."}).status_code == 302
    response = auth.post(f"/courses/{team['course']}/stage", {"stage-stage": "stabilise", "stage-reason": "Still"})
    assert response.status_code == 422
    body = page_text(response)
    assert "The course is at this stage already." in body and "Say why the stage changes" in body
    response = auth.post(f"/courses/{team['course']}/stage", {"stage-stage": "clarify",
                                                              "stage-reason": "Safety is steady for three weeks"})
    assert response.status_code == 302
    with app.app_context():
        plan = db.session.get(TreatmentPlan, plan_id)
        assert [a.body for a in plan.addenda] == ["Patient prefers mornings."] and plan.addenda[0].content_digest
        assert services.current_stage(team["course"]) == "clarify"
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("plan.%"))))
        assert {"plan.create", "plan.sign", "plan.addendum", "plan.stage"} <= actions


def test_a_revision_starts_at_the_courses_stage_now_not_the_last_revisions(app, auth, team):
    """A stage moved since the last revision (by a note or the stage form) is where the next revision
    starts: signing it unchanged leaves the course where it is (it went back to the old stage)."""
    _signed_plan(auth, team)  # signed at "stabilise"
    assert auth.post(f"/courses/{team['course']}/stage", {"stage-stage": "target",
                                                          "stage-reason": "Grounding holds; the pattern is clear"}
                     ).status_code == 302
    second = _start(auth, team["course"])
    with app.app_context():
        assert db.session.get(TreatmentPlan, second).stage == "target"
    assert '<option selected value="target">' in auth.client.get(f"/plans/{second}").get_data(as_text=True)
    with app.app_context():
        assert services.current_stage(team["course"]) == "target"


@pytest.mark.parametrize("who", ["pres", "desk", "boss", "ther2x", "nurse2x"])
def test_only_therapists_of_the_care_team_read_the_plan(app, auth, team, make, who):
    """The course's own prescriber, staff, admin, a therapist off the care team, a nurse: all refused."""
    if who == "ther2x":
        make.user("therapist", username="ther2x")  # a therapist, not on this care team
    if who == "nurse2x":
        make.user("nurse", username="nurse2x")
    auth.sign_in(who)
    response = auth.client.get(f"/courses/{team['course']}/plan")
    assert response.status_code == 403
    assert auth.post(f"/courses/{team['course']}/plan/revisions", {}).status_code == 403


def test_another_therapist_of_the_team_reads_but_does_not_edit_the_draft(app, auth, team):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    auth.logout()
    auth.sign_in("ther2")
    assert auth.client.get(f"/plans/{plan_id}").status_code == 200
    assert auth.post(f"/plans/{plan_id}", _plan_form(1)).status_code == 303
    assert auth.client.get(f"/courses/{team['course']}/plan").status_code == 200


def test_review_is_due_on_its_date_and_a_newer_revision_answers_it(app, auth, team, make):
    with app.app_context():
        from ketamine_integration.courses.models import TreatmentCourse
        course = db.session.get(TreatmentCourse, team["course"])
        assert services.review_status({course.id: services.review_rule(course.protocol_version)}, clinic_day())[course.id] == services.NO_PLAN
    _signed_plan(auth, team)
    with app.app_context():
        course = db.session.get(TreatmentCourse, team["course"])
        assert services.review_status({course.id: services.review_rule(course.protocol_version)}, clinic_day())[course.id] is None
        due = services.review_status({course.id: services.review_rule(course.protocol_version)}, clinic_day() + timedelta(days=31))[course.id]
        assert due.why == "the plan's review date"


def _more_courses(make, auth, team, start, count, *, signed_plans):
    for n in range(start, start + count):
        course = make.course(make.patient(family_name=f"Planned{n}"), team["therapist"], team["prescriber"],
                             phase="integration")
        if signed_plans:
            auth.sign_in("ther")
            plan_id = _start(auth, course)
            assert auth.post(f"/plans/{plan_id}", _plan_form(1, sign=True)).status_code == 302
            auth.logout()


@pytest.mark.both_engines  # SQL statement counts
def test_the_caseload_and_the_worklist_show_plans_missing_or_due_in_constant_statements(app, auth, client, team,
                                                                                         make):
    from tests.statements import page_statements
    _signed_plan(auth, team)
    auth.logout()
    _more_courses(make, auth, team, 0, 1, signed_plans=False)
    auth.sign_in("ther")
    home, home_count = client.get("/").get_data(as_text=True), page_statements(app, client, "/")
    assert "No plan" in home
    auth.logout()
    auth.sign_in("desk")
    worklist, worklist_count = client.get("/worklist").get_data(as_text=True), page_statements(app, client, "/worklist")
    assert "Treatment plans missing or due for review (1)" in worklist and "Planned0" in worklist
    auth.logout()
    _more_courses(make, auth, team, 1, 3, signed_plans=False)
    _more_courses(make, auth, team, 4, 2, signed_plans=True)
    auth.sign_in("ther")
    assert page_statements(app, client, "/") == home_count
    auth.logout()
    auth.sign_in("desk")
    assert page_statements(app, client, "/worklist") == worklist_count
    assert "Treatment plans missing or due for review (4)" in client.get("/worklist").get_data(as_text=True)


def test_the_plan_pages_label_every_control_once(app, auth, client, team):
    from tests.page_html import read_forms
    plan_id = _signed_plan(auth, team)
    draft = _start(auth, team["course"])
    for path in (f"/courses/{team['course']}/plan", f"/plans/{draft}", f"/plans/{plan_id}"):
        forms = read_forms(client.get(path).get_data(as_text=True))
        assert forms.controls and forms.repeated_ids() == [] and forms.unlabelled() == [], path


def test_review_is_due_28_days_after_the_first_signed_dose_by_default(app, auth, team, make):
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.db.clinic_time import to_clinic
    from ketamine_integration.experience.models import DosingSession
    from tests.integration.test_dosing import _sign, local
    course_id = make.course(make.patient(family_name="Dosed"), team["therapist"], team["prescriber"],
                            phase="experience")
    [session_id] = make.dosing_plan(course_id, first_start=local(1), days_between=2, count=1, room="Plan suite")
    auth.sign_in("pres")
    _sign(make, auth, session_id, team["prescriber"])
    auth.logout()
    auth.sign_in("ther")
    plan_id = _start(auth, course_id)
    assert auth.post(f"/plans/{plan_id}", _plan_form(1, sign=True, review_on=(clinic_day() + timedelta(days=60))
                                                     .isoformat())).status_code == 302
    with app.app_context():
        course = db.session.get(TreatmentCourse, course_id)
        rule = services.review_rule(course.protocol_version)
        assert rule.days_after_first_dose == (28,)  # no shipped protocol names plan_review: the default
        dose = db.session.get(DosingSession, session_id)
        point = to_clinic(dose.ended_at).date() + timedelta(days=28)
        assert point > clinic_day()  # the plan, signed today, was signed before it
        assert services.review_status({course_id: rule}, point - timedelta(days=1))[course_id] is None
        due = services.review_status({course_id: rule}, point)[course_id]
        assert due.why == "28 days after the first dose" and due.on == point
