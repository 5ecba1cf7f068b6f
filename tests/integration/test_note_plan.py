"""The plan in every note (issue 24, point 3): an integration note shows the course's active signed
plan and follows it (its revision stored), records progress per objective (history kept across plan
revisions, on the plan page), moves the decision-map stage only when signed, and its new action steps
are SMART; all of it frozen once signed (service, ORM guard, raw SQL), covered by the digest; a
course without a plan writes notes as before. Prescribers' coordination reports gain none of it."""
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.extensions import db
from ketamine_integration.notes import services
from ketamine_integration.notes.models import ActionStep, SessionNote
from ketamine_integration.notes.signed_guard import SignedNoteChanged
from ketamine_integration.plans.models import CourseStageChange, TreatmentPlan
from ketamine_integration.plans.progress import ObjectiveProgress
from tests.conftest import page_text
from tests.integration.test_notes import SIGNING, TODAY, _integration_data, _start, _version, notes_team
from tests.integration.test_treatment_plans import _plan_form, _signed_plan
from tests.integration.test_treatment_plans import _start as _start_revision


@pytest.fixture
def team(make):
    return notes_team(make)


def _words(response) -> str:
    """The page's text on one line, without the space page_text leaves before punctuation after a tag."""
    return re.sub(r"\s+([.,;:)])", r"\1", " ".join(page_text(response).split()))


def _lineage(make, plan_id: int) -> str:
    return make.query(lambda: db.session.get(TreatmentPlan, plan_id).objectives[0].lineage_id)


def _note_with_plan(make, auth, team, **overrides) -> tuple[int, int, str, dict]:
    """A signed plan, and a draft integration note with a step serving its objective and its progress."""
    plan_id = _signed_plan(auth, team)
    lineage = _lineage(make, plan_id)
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{
        "new_steps-0-objective": lineage, "new_steps-0-mechanism": "Activation before insight",
        "objective_progress-0-lineage": lineage, "objective_progress-0-progress": "some",
        "objective_progress-0-comment": "Two walks this week", **overrides})
    return note, plan_id, lineage, data


def test_a_note_follows_the_active_plan_records_progress_and_moves_the_stage_when_signed(team, make, auth, client):
    note, plan_id, lineage, data = _note_with_plan(make, auth, team)
    form = _words(client.get(f"/notes/{note}"))
    assert "Follows treatment plan revision 1" in form
    assert "Pathway: Assimilative integration. Host theory: Psychodynamic." in form
    assert "Patient walks 20 minutes, 3 times a week — success: Activity log shows 3 walks a week" in form
    assert "Decision-map stage now: 1. Stabilise and build safety" in form
    # each objective's row names it: "Objective 1: progress on this objective", not one list of the same labels
    assert "Objective 1: progress on this objective" in form and "Objective 1: comment on the progress" in form
    assert 'name="host_theory"' not in client.get(f"/notes/{note}").get_data(as_text=True)
    move = {"move_stage": "clarify", "stage_reason": "Safety plan in place; mapping the pattern next"}
    assert auth.post(f"/notes/{note}", {**data, **move}).status_code == 302
    # a draft save does not move the stage
    assert make.query(lambda: [c.stage for c in db.session.scalars(select(CourseStageChange))]) == ["stabilise"]
    signed = auth.post(f"/notes/{note}", {**data, **move, "version": str(_version(make, note)), **SIGNING})
    assert signed.status_code == 302, page_text(signed)[-600:]

    def stored():
        n = db.session.get(SessionNote, note)
        changes = db.session.scalars(select(CourseStageChange).order_by(CourseStageChange.id)).all()
        return (n.status, n.plan_id, [(p.lineage_id, p.progress, p.comment) for p in n.objective_progress],
                [(s.objective_lineage_id, s.success_criterion, s.mechanism) for s in n.new_steps],
                [(c.stage, c.previous_stage, c.reason, c.note_id) for c in changes])
    assert make.query(stored) == (
        "signed", plan_id, [(lineage, "some", "Two walks this week")],
        [(lineage, "Three walks logged a week", "Activation before insight")],
        [("stabilise", None, "Treatment plan revision 1 signed", None),
         ("clarify", "stabilise", "Safety plan in place; mapping the pattern next", note)])
    assert (note, True) in make.query(services.verify_signed_notes)
    assert any(r.action == "note.sign" and "course moved to stage clarify" in (r.detail or "")
               for r in make.audit_rows(patient_id=team["patient"]))
    view = _words(client.get(f"/notes/{note}"))
    assert "Treatment plan followed Revision 1: pathway Assimilative integration, host theory Psychodynamic" in view
    assert "Progress on the plan's objectives 1. Patient walks 20 minutes, 3 times a week: some progress — Two walks" \
        in view
    assert "Moved the course to 2. Clarify the problem pattern: Safety plan in place" in view
    assert "success: Three walks logged a week; serves objective 1" in view
    plan_page = _words(client.get(f"/courses/{team['course']}/plan"))
    assert f"{TODAY}: Some progress — Two walks this week (Hazel Quint, note)" in plan_page


@pytest.mark.parametrize("overrides, field, words", [
    ({"move_stage": "clarify", "stage_reason": ""}, "stage_reason", "Say why the stage changes"),  # no reason
    ({"move_stage": "stabilise", "stage_reason": "Still building safety here"}, "move_stage", "already"),  # current
    ({"new_steps-0-success_criterion": ""}, "new_steps-0-success_criterion", "success criterion"),  # not SMART
    ({"new_steps-0-objective": ""}, "new_steps-0-objective", "objective this step serves"),  # the plan's goal
    ({"objective_progress-0-progress": ""}, "objective_progress-0-progress", "Choose the progress"),  # comment only
    ({"objective_progress-0-lineage": "f" * 32}, "objective_progress-0-progress", "not in the course's active plan"),
])
def test_a_refused_note_saves_nothing_and_says_why_on_the_field(team, make, auth, overrides, field, words):
    note, _, _, data = _note_with_plan(make, auth, team, **overrides)
    refused = auth.post(f"/notes/{note}", data)
    assert refused.status_code == 422
    assert words in page_text(refused)
    assert f'id="{field}-error"' in refused.get_data(as_text=True) or f'{field}-error' in \
        refused.get_data(as_text=True)
    assert make.query(lambda: (db.session.get(SessionNote, note).content, db.session.scalars(
        select(ObjectiveProgress)).all(), db.session.scalars(select(ActionStep)).all())) == ({}, [], [])


def test_a_stage_moved_meanwhile_refuses_the_signature_and_keeps_the_draft(team, make, auth):
    note, _, _, data = _note_with_plan(make, auth, team)
    move = {"move_stage": "clarify", "stage_reason": "Safety plan in place; mapping the pattern next"}
    assert auth.post(f"/notes/{note}", {**data, **move}).status_code == 302
    assert auth.post(f"/courses/{team['course']}/stage", {
        "stage-stage": "clarify", "stage-reason": "Moved from the plan page meanwhile"}).status_code in (302, 303)
    refused = auth.post(f"/notes/{note}", {**data, **move, "version": str(_version(make, note)), **SIGNING})
    assert "The course is at this stage already" in page_text(refused)
    assert make.query(lambda: (db.session.get(SessionNote, note).status,
                               db.session.scalars(select(CourseStageChange.stage)).all())) == \
        ("draft", ["stabilise", "clarify"])


def test_progress_history_follows_the_objective_across_plan_revisions(team, make, auth, client):
    note, first, lineage, data = _note_with_plan(make, auth, team)
    assert auth.post(f"/notes/{note}", {**data, **SIGNING}).status_code == 302
    second = _start_revision(auth, team["course"])
    assert auth.post(f"/plans/{second}", _plan_form(1, sign=True, **{
        "objectives-0-lineage": lineage, "objectives-0-target": "Patient walks 30 minutes, 4 times a week"})
    ).status_code == 302
    later = _start(auth, team["course"])
    form = _words(client.get(f"/notes/{later}"))
    assert "Follows treatment plan revision 2" in form and "Patient walks 30 minutes, 4 times a week" in form
    assert auth.post(f"/notes/{later}", _integration_data(_version(make, later), **{
        "new_steps-0-objective": lineage, "objective_progress-0-lineage": lineage,
        "objective_progress-0-progress": "achieved", "objective_progress-0-comment": "Four walks, every week",
        **SIGNING})).status_code == 302
    assert make.query(lambda: [db.session.get(SessionNote, n).plan_id for n in (note, later)]) == [first, second]
    page = _words(client.get(f"/courses/{team['course']}/plan"))
    history = page.split("Objective 1: Patient walks 30 minutes, 4 times a week", 1)[1]
    assert history.index("Some progress — Two walks this week") < history.index("Achieved — Four walks, every week")


def test_without_a_signed_plan_the_note_says_so_and_is_written_as_before(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    page = page_text(client.get(f"/notes/{note}"))
    assert "This course has no signed treatment plan yet, so this note follows none." in page
    assert f'href="/courses/{team["course"]}/plan"' in client.get(f"/notes/{note}").get_data(as_text=True)
    assert "Plan objective it serves" not in page  # nothing to serve
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note), **SIGNING)).status_code == 302
    assert make.query(lambda: (db.session.get(SessionNote, note).status, db.session.get(SessionNote, note).plan_id,
                               [s.objective_lineage_id for s in db.session.scalars(select(ActionStep))])) == \
        ("signed", None, [None])
    assert (note, True) in make.query(services.verify_signed_notes)


@pytest.mark.both_engines  # raw SQL behind the triggers
def test_the_plan_parts_of_a_signed_note_never_change(app, team, make, auth):
    note, plan_id, lineage, data = _note_with_plan(make, auth, team)
    assert auth.post(f"/notes/{note}", {**data, **SIGNING}).status_code == 302
    with app.app_context():
        signed = db.session.get(SessionNote, note)
        signed.objective_progress[0].comment = "rewritten"
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
        signed = db.session.get(SessionNote, note)
        signed.new_steps[0].success_criterion = "rewritten"
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
    step = make.query(lambda: db.session.scalars(select(ActionStep.id)).one())
    objective = make.query(lambda: db.session.get(TreatmentPlan, plan_id).objectives[0].id)
    for sql, params in [
        ("UPDATE note_objective_progress SET comment = 'rewritten'", {}),
        ("UPDATE note_objective_progress SET progress = 'achieved'", {}),
        ("DELETE FROM note_objective_progress", {}),
        ("INSERT INTO note_objective_progress (note_id, lineage_id, plan_objective_id, progress) "
         "VALUES (:note, 'another', :objective, 'some')", {"note": note, "objective": objective}),
        ("UPDATE session_notes SET plan_id = NULL WHERE id = :note", {"note": note}),
        ("UPDATE action_steps SET success_criterion = 'rewritten' WHERE id = :step", {"step": step}),
        ("UPDATE action_steps SET objective_lineage_id = NULL WHERE id = :step", {"step": step}),
        ("UPDATE action_steps SET mechanism = 'rewritten' WHERE id = :step", {"step": step}),
    ]:
        with app.app_context():
            with pytest.raises(DBAPIError):
                db.session.execute(text(sql), params)
                db.session.flush()
            db.session.rollback()
    assert (note, True) in make.query(services.verify_signed_notes)


@pytest.mark.both_engines  # the digest of rows as each engine reads them back
def test_the_digest_covers_the_plan_parts(app, team, make, auth):
    """`flask signatures verify` names a signed note whose progress was changed behind the triggers' back."""
    note, _, _, data = _note_with_plan(make, auth, team)
    assert auth.post(f"/notes/{note}", {**data, **SIGNING}).status_code == 302
    with app.app_context():
        signed = db.session.get(SessionNote, note)
        original = services.content_digest(signed)
        signed.objective_progress[0].comment = "quietly rewritten"  # in memory only: never flushed
        assert services.content_digest(signed) != original
        signed.objective_progress[0].comment = "Two walks this week"
        signed.new_steps[0].success_criterion = "quietly rewritten"
        assert services.content_digest(signed) != original
        db.session.rollback()


def test_the_coordination_report_gains_none_of_the_plan_parts(app, team, make, auth):
    """The prescriber's report (coordination.report) keeps its action plan to what, how often, status
    and check-ins: the objective, criterion, mechanism, progress comments and stage reasons stay out."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.coordination.report import report_data
    from ketamine_integration.coordination.models import CATEGORIES
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.db.types import utcnow

    canary = "CANARY-PLAN-7f3"
    note, _, _, data = _note_with_plan(make, auth, team, **{
        "objective_progress-0-comment": f"{canary} progress", "new_steps-0-success_criterion": f"{canary} criterion",
        "new_steps-0-mechanism": f"{canary} mechanism", "move_stage": "clarify",
        "stage_reason": f"{canary} stage reason"})
    assert auth.post(f"/notes/{note}", {**data, **SIGNING}).status_code == 302
    with app.app_context(), app.test_request_context():
        course = db.session.get(TreatmentCourse, team["course"])
        report = report_data(course, recipient=db.session.get(User, team["prescriber"]),
                             author=db.session.get(User, team["therapist"]), categories=set(CATEGORIES),
                             now=utcnow(), questions=None, recommendations=None)
        assert "Walk by the river" in repr(report.action_plan)  # the step itself is released
        assert canary not in repr(report)
