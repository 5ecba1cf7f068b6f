"""The safety plan pages: the plan in force with its history, reviews and addenda; the draft's form
(save, sign); a revision as it was signed; an addendum; a signed review.

Who: the care team's clinicians who read clinical content (therapists and prescribers: notes.read)
read the plan, a safety document every clinician of the patient acts on; those who write the
clinical record (therapists: notes.write) write, sign, amend and review it. Every read and write is
audited; the patient portal does not show it (yet).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..clinic_settings.contact import clinic_phone
from ..db.clinic_time import clinic_today
from ..db.signed_records import draft_started_by
from ..domain import safety_plans as rules
from ..db.errors import DomainError
from ..patients.access import can_read_clinical, load_patient, load_patient_record
from ..patients.models import Patient
from ..web import access
from ..web.forms import render_form, save_then_sign, submit, whole_number
from . import services
from .forms import LOCK_NOT_CONFIRMED, SafetyPlanAddendumForm, SafetyPlanForm, SafetyPlanReviewForm
from .models import REVIEW_CHANGES, SafetyPlanRevision, edit_token

bp = Blueprint("safety_plans", __name__)


def _patient(patient_id: int, permission: str = "notes.read") -> Patient:
    """The patient, for a care-team clinician holding `permission`: 404, or 403 audited."""
    patient = load_patient(patient_id)
    if not can_read_clinical(current_user, patient, permission):
        audit.denial("the safety plan is for the care team's clinicians", obj=patient, patient_id=patient.id)
        abort(403)
    return patient


def _page(patient: Patient, **forms):
    plans = services.history(patient.id)
    current = next((r for r in plans if r.signed), None)
    draft = plans[0] if plans and not plans[0].signed else None
    context = dict(patient=patient, history=plans, current=current, draft=draft, reviews=services.reviews(patient.id),
                   sections=rules.SECTIONS, changes=REVIEW_CHANGES)
    context.setdefault("review_form", forms.get("review_form") or SafetyPlanReviewForm(
        data={"reviewed_on": clinic_today()}, formdata=None))
    context.setdefault("addendum_form", forms.get("addendum_form") or SafetyPlanAddendumForm(formdata=None))
    return context


@bp.route("/patients/<id:patient_id>/safety-plan")
@access.permission("notes.read")
def plan(patient_id: int):
    patient = _patient(patient_id)
    audit.record("safety_plan.view", obj=patient, patient_id=patient.id)
    return render_template("safety_plans/plan.html", **_page(patient))


@bp.route("/patients/<id:patient_id>/safety-plan/edit", methods=["GET", "POST"])
@access.permission("notes.write")
def edit(patient_id: int):
    """The draft's form: "Save draft" keeps it unsigned; "Sign and lock" saves what is typed, then signs
    it (a refused signature keeps the valid save and shows why, by field)."""
    patient = _patient(patient_id, "notes.write")
    plans = services.history(patient.id)
    if _colleagues_draft(plans):
        return _refuse_colleague(patient, plans[0])
    if request.method == "GET":
        audit.record("safety_plan.view", obj=patient, patient_id=patient.id, detail="draft form")
        data = {**SafetyPlanForm.data_from(_starting_content(plans)), "version": edit_token(plans[0] if plans else None)}
        return _edit_page(patient, SafetyPlanForm(data=data), plans)
    form, signing, saved = SafetyPlanForm(), request.form.get("action") == "sign", {}

    def save():
        expected = whole_number(form.version.data)
        saved["draft"] = services.save_draft(patient, content=form.plan_content(), by=current_user,
                                             expected=-1 if expected is None else expected)
        return saved["draft"]

    def sign():
        # the draft stays saved; what signing still needs is marked by field, the box among them
        needs = {} if form.confirm_lock.data else {"confirm_lock": LOCK_NOT_CONFIRMED}
        needs.update(rules.signing_problems(saved["draft"].content) if needs else {})
        if needs:
            raise DomainError(needs)
        services.sign(saved["draft"], by=current_user)

    outcome = save_then_sign(form, save, sign if signing else None)
    # one row: the signature's when signing (it includes the save), else the save's
    done = outcome.signed if signing else outcome.saved
    audit.record("safety_plan.sign" if signing else "safety_plan.save", obj=outcome.result or patient,
                 patient_id=patient.id, outcome=audit.SUCCESS if done else audit.FAILURE,
                 detail=None if done else "not saved" if not outcome.saved else "draft saved, signature refused")
    if not outcome.saved:
        return _edit_page(patient, form, plans)
    if outcome.signed:
        flash(f"Safety plan revision {outcome.result.revision} signed. Corrections are addenda or a new revision "
              "from now on.", "success")
        return redirect(url_for("safety_plans.plan", patient_id=patient.id))
    if signing:
        form.form_errors = list(form.form_errors) + ["Draft saved, not signed: complete the fields marked below, "
                                                     "then sign again."]
        form.version.data = edit_token(outcome.result)  # the draft just saved is the one to sign next
        return _edit_page(patient, form, services.history(patient.id), status=200)  # 200: the save is committed
    flash(f"Draft saved (revision {outcome.result.revision}, not signed yet).", "success")
    return redirect(url_for("safety_plans.edit", patient_id=patient.id))


def _colleagues_draft(plans: list[SafetyPlanRevision]) -> bool:
    return bool(plans) and not plans[0].signed and plans[0].author_id != current_user.id


def _refuse_colleague(patient: Patient, draft: SafetyPlanRevision):
    """A draft is its author's, as a note is: a colleague reads it on the plan's page (audited refusal)."""
    audit.record("safety_plan.save", obj=draft, patient_id=patient.id, outcome=audit.FAILURE,
                 detail="the draft is another clinician's")
    flash(f"{draft_started_by(draft)}: only its author saves or signs it.", "error")
    return redirect(url_for("safety_plans.plan", patient_id=patient.id)), 303


def _edit_page(patient: Patient, form: SafetyPlanForm, plans: list[SafetyPlanRevision], status: int | None = None):
    draft = plans[0] if plans and not plans[0].signed else None
    page = render_form("safety_plans/edit.html", form, patient=patient, draft=draft, sections=rules.SECTIONS,
                       current=next((r for r in plans if r.signed), None))
    return (page[0], status) if status else page


def _starting_content(plans: list[SafetyPlanRevision]) -> dict:
    """What the form starts from: the draft, else the plan in force, else a new plan listing the 988
    Lifeline and the clinic's phone (when the admin has set it) among the professionals."""
    if plans:
        return plans[0].content
    professionals = [rules.LIFELINE]
    if clinic_phone():
        professionals.append({"name": "The clinic", "phone": clinic_phone()})
    return {"professionals": professionals}


@bp.route("/safety-plans/<id:revision_id>")
@access.permission("notes.read")
def revision(revision_id: int):
    plan_revision = load_patient_record(SafetyPlanRevision, revision_id, clinical=True)
    audit.record("safety_plan.view", obj=plan_revision, patient_id=plan_revision.patient_id)
    return render_template("safety_plans/revision.html", revision=plan_revision, patient=plan_revision.patient,
                           sections=rules.SECTIONS, addendum_form=SafetyPlanAddendumForm(formdata=None))


@bp.route("/safety-plans/<id:revision_id>/addenda", methods=["POST"])
@access.permission("notes.write")
def addendum(revision_id: int):
    plan_revision = load_patient_record(SafetyPlanRevision, revision_id, clinical="notes.write")
    form = SafetyPlanAddendumForm()
    done, added = submit(form, lambda: services.add_addendum(plan_revision, body=form.body.data, by=current_user))
    # the success row names the addendum itself: `signatures verify` finds it gone if it is deleted
    audit.report_submission(done, form, "safety_plan.addendum", obj=added if done else plan_revision,
                            patient_id=plan_revision.patient_id, message="Addendum added.")
    return redirect(url_for("safety_plans.revision", revision_id=plan_revision.id))


@bp.route("/patients/<id:patient_id>/safety-plan/review", methods=["POST"])
@access.permission("notes.write")
def review(patient_id: int):
    patient = _patient(patient_id, "notes.write")
    form = SafetyPlanReviewForm()
    done, signed = submit(form, lambda: services.record_review(
        patient, reviewed_on=form.reviewed_on.data, with_patient=form.with_patient.data == "yes",
        changes=form.changes.data, comment=form.comment.data, by=current_user, today=clinic_today()))
    audit.record("safety_plan.review", obj=signed or patient, patient_id=patient.id,
                 outcome=audit.SUCCESS if done else audit.FAILURE)
    if done:
        flash("Review signed.", "success")
        return redirect(url_for("safety_plans.plan", patient_id=patient.id) + "#reviews-h")
    return render_form("safety_plans/plan.html", form, **_page(patient, review_form=form))
