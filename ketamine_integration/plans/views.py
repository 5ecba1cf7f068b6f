"""Treatment plan pages: the course's plan (active revision, draft, history, stage history), a
revision's draft form (save, sign and lock), addenda, and moving the decision-map stage.

Who: the therapists on the patient's care team (plans.read, plans.write). Prescribers and nurses
do not read the plan's text (HIPAA minimum necessary: a prescriber hears of it through coordination
reports a release allows); staff and admin read no clinical content. Every read and write is audited."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..domain.plans import HOST_THEORIES, PATHWAYS, STAGES
from ..patients.access import load_patient_record
from ..protocols.techniques import current_vocabulary
from ..web import access
from ..web.forms import form_version, render_form, save_then_sign, submit
from . import services, unfinished
from .progress import progress_history
from .forms import (LOCK_NOT_CONFIRMED, MOST_ROWS, OBJECTIVE_ROWS, TECHNIQUE_ROWS, PlanAddendumForm, PlanForm,
                    StageChangeForm, StartRevisionForm, technique_choices)
from .models import TreatmentPlan

bp = Blueprint("plans", __name__)
WORDS = {"pathway": PATHWAYS, "host_theory": HOST_THEORIES, "stage": STAGES}


def _course(course_id: int) -> TreatmentCourse:
    return load_patient_record(TreatmentCourse, course_id, clinical="plans.read")


def _plan(plan_id: int) -> TreatmentPlan:
    return load_patient_record(TreatmentPlan, plan_id, clinical="plans.read")


@bp.route("/courses/<id:course_id>/plan")
@access.permission("plans.read")
def plan(course_id: int):
    course = _course(course_id)
    audit.record("plan.view", obj=course, patient_id=course.patient_id)
    return _plan_page(course)


def _plan_page(course: TreatmentCourse, stage_form: StageChangeForm | None = None, status: int = 200):
    revisions = services.course_revisions(course.id)
    active = next((r for r in revisions if r.signed), None)
    # an ended course's plan is its record: no review falls due any more
    due = None if course.current_phase.ended else services.review_status(
        {course.id: services.review_rule(course.protocol_version)}, clinic_today())[course.id]
    return render_template("plans/plan.html", course=course, revisions=revisions, active=active,
                           draft=next((r for r in revisions if not r.signed), None), due=due,
                           stages=services.stage_history(course.id), current=services.current_stage(course.id),
                           stage_form=stage_form or StageChangeForm(prefix="stage"),
                           start_form=StartRevisionForm(prefix="start"), words=WORDS,
                           addendum_form=PlanAddendumForm(prefix="addendum"),
                           progress=progress_history(course.id) if active else {}), status


@bp.route("/courses/<id:course_id>/plan/revisions", methods=["POST"])
@access.permission("plans.write")
def start(course_id: int):
    course = _course(course_id)
    form = StartRevisionForm(prefix="start")
    done, draft = submit(form, lambda: services.start_revision(course, by=current_user))
    if done:
        audit.record("plan.create", obj=draft, patient_id=course.patient_id, detail=f"revision {draft.revision}")
        return redirect(url_for("plans.revision", plan_id=draft.id))
    audit.record("plan.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    for message in form.form_errors or ["Not started."]:
        flash(message, "error")
    return redirect(url_for("plans.plan", course_id=course.id))


@bp.route("/plans/<id:plan_id>", methods=["GET", "POST"])
@access.permission("plans.read")
def revision(plan_id: int):
    """A revision: its author's draft form (save, sign and lock), else the revision as it stands."""
    plan = _plan(plan_id)
    editable = not plan.signed and plan.author_id == current_user.id and current_user.can("plans.write")
    if request.method == "POST" and not editable:
        audit.record("plan.update", obj=plan, patient_id=plan.patient_id, outcome=audit.DENIED,
                     detail="signed" if plan.signed else "not the author")
        flash("This revision is signed and locked; add an addendum or revise the plan." if plan.signed
              else "Only the revision's author can change a draft.", "error")
        return redirect(url_for("plans.revision", plan_id=plan.id)), 303
    if not editable:
        audit.record("plan.view", obj=plan, patient_id=plan.patient_id)
        return render_template("plans/revision.html", plan=plan, words=WORDS,
                               addendum_form=PlanAddendumForm(prefix="addendum"))
    if request.method == "GET":
        audit.record("plan.view", obj=plan, patient_id=plan.patient_id)
        return render_form("plans/edit.html", _draft_form(plan), plan=plan)
    return _save(plan, _draft_form(plan, posted=True), signing=bool(request.form.get("then_sign")))


def _draft_form(plan: TreatmentPlan, posted: bool = False) -> PlanForm:
    """The draft's form: one more objective and technique row than it holds (at least the defaults)."""
    if posted:
        form = PlanForm()
    else:
        # the complete objectives, and each row still being written back at its place (plans.unfinished)
        objectives = unfinished.form_rows(plan.content, [
            {"lineage": o.lineage_id, "goal": _goal_number(plan, o.goal), "target": o.target,
             "criterion": o.criterion, "by_when": o.by_when, "mechanism": o.mechanism,
             "measure": o.measure or ""} for o in plan.objectives])
        form = PlanForm(data={
            "version": plan.version, "problems_patient": plan.content.get("problems_patient", ""),
            "problems_clinician": plan.content.get("problems_clinician", ""),
            "goals": plan.content.get("goals", []), "pathway": plan.pathway or "", "host_theory": plan.host_theory or "",
            "stage": plan.stage or "", "review_on": plan.review_on, "no_change": plan.no_change,
            "objectives": objectives,
            "techniques": [{"technique": t.technique_key, "rationale": t.rationale} for t in plan.techniques]})
        while len(form.objectives) < min(max(OBJECTIVE_ROWS, len(objectives) + 1), MOST_ROWS):
            form.objectives.append_entry()
        while len(form.techniques) < min(max(TECHNIQUE_ROWS, len(plan.techniques) + 1), MOST_ROWS):
            form.techniques.append_entry()
    choices = technique_choices(current_vocabulary().grouped_choices(),
                                {t.technique_key: t.technique_name for t in plan.techniques})
    for row in form.techniques:
        row.form.technique.choices = choices
    form.number_rows()
    return form


def _goal_number(plan: TreatmentPlan, goal: str) -> str:
    goals = plan.content.get("goals", [])
    return str(goals.index(goal) + 1) if goal in goals else ""


def _save(plan: TreatmentPlan, form: PlanForm, *, signing: bool):
    today = clinic_today()
    outcome = save_then_sign(form, lambda: services.save_plan(
        plan, by=current_user, expected_version=form_version(form), today=today,
        content={"problems_patient": form.problems_patient.data, "problems_clinician": form.problems_clinician.data,
                 "goals": form.goals.data},
        objectives=form.objectives.data, techniques=form.techniques.data, pathway=form.pathway.data,
        host_theory=form.host_theory.data, stage=form.stage.data, review_on=form.review_on.data,
        # "reviewed, no change" speaks of a signed revision before this one: the first has none
        no_change=form.no_change.data and plan.based_on_id is not None),
        (lambda: _sign(plan, form, today)) if signing else None)
    action = "plan.sign" if signing else "plan.update"
    if not outcome.saved:
        audit.record(action, obj=plan, patient_id=plan.patient_id, outcome=audit.FAILURE, detail="not saved")
        return render_form("plans/edit.html", form, plan=plan)
    if signing and not outcome.signed:
        audit.record("plan.update", obj=plan, patient_id=plan.patient_id)
        audit.record("plan.sign", obj=plan, patient_id=plan.patient_id, outcome=audit.FAILURE, detail="refused")
        form.version.data = plan.version
        form.form_errors = list(form.form_errors) + ["Draft saved, not signed: complete the fields marked below, "
                                                     "then sign again."]
        return render_template("plans/edit.html", form=form, plan=plan), 200
    audit.record(action, obj=plan, patient_id=plan.patient_id,
                 detail=f"revision {plan.revision}" + (", saved and signed" if outcome.signed else ""))
    flash("Signed and locked. Corrections are addenda; a change of plan is a new revision." if outcome.signed
          else "Draft saved. Sign it when it is complete.", "success")
    return redirect(url_for("plans.plan", course_id=plan.course_id) if outcome.signed
                    else url_for("plans.revision", plan_id=plan.id))


def _sign(plan: TreatmentPlan, form: PlanForm, today) -> None:
    needs = services.signing_needs(plan, today)
    if not form.confirm_lock.data:
        needs["confirm_lock"] = LOCK_NOT_CONFIRMED
    if needs:
        raise DomainError(needs)
    services.sign_plan(plan, by=current_user, expected_version=plan.version, today=today)


@bp.route("/plans/<id:plan_id>/addenda", methods=["POST"])
@access.permission("plans.write")
def addendum(plan_id: int):
    plan = _plan(plan_id)
    form = PlanAddendumForm(prefix="addendum")
    done, added = submit(form, lambda: services.add_addendum(plan, body=form.body.data, by=current_user))
    audit.record("plan.addendum", obj=plan, patient_id=plan.patient_id,
                 outcome=audit.SUCCESS if done else audit.FAILURE, detail=f"addendum {added.id}" if done else None)
    flash("Addendum added." if done else "Not added: " + " ".join(
        m for errors in form.errors.values() for m in errors if isinstance(m, str)), "success" if done else "error")
    return redirect(url_for("plans.revision", plan_id=plan.id))


@bp.route("/courses/<id:course_id>/stage", methods=["POST"])
@access.permission("plans.write")
def stage_change(course_id: int):
    course = _course(course_id)
    form = StageChangeForm(prefix="stage")
    done, change = submit(form, lambda: services.record_stage_change(course, form.stage.data, form.reason.data,
                                                                     current_user))
    audit.record("plan.stage", obj=course, patient_id=course.patient_id,
                 outcome=audit.SUCCESS if done else audit.FAILURE, detail=change.stage if done else None)
    if done:
        flash(f"The course moved to stage {change.stage_name}.", "success")
        return redirect(url_for("plans.plan", course_id=course.id) + "#stages")
    return _plan_page(course, form, status=422)
