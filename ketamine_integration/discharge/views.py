"""Discharge summary pages: the summary of an ended course (start, save, sign and lock), its addenda,
its PDF, and the copy sent to a prescriber under the patient's releases."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.models import THERAPIST
from ..audit import services as audit
from ..clinic_settings.file_names import patient_file_name
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..documents.discharge_summary import render_discharge_pdf
from ..extensions import db
from ..patients.access import load_patient_record
from ..web import access
from ..web.fields import options
from ..web.forms import form_version, save_then_sign, submit
from . import services
from .access import may_write
from .content import written_sections
from .document import document, render_copy
from .forms import AddendumForm, DischargeForm, SendForm, StartForm
from .models import DischargeCopy, DischargeSummary

bp = Blueprint("discharge", __name__)


def _writable_course(course_id: int) -> TreatmentCourse:
    """The course, for a user who writes its discharge summary (403 audited otherwise)."""
    course = db.session.get(TreatmentCourse, course_id)
    if course is None:
        abort(404)
    if not may_write(current_user, course):
        audit.denial("a discharge summary is written by a therapist on the patient's care team", obj=course,
                     patient_id=course.patient_id)
        abort(403)
    return course


def _writable_summary(summary_id: int) -> DischargeSummary:
    summary = db.session.get(DischargeSummary, summary_id)
    if summary is None:
        abort(404)
    _writable_course(summary.course_id)
    return summary


def _form(summary: DischargeSummary, form: DischargeForm | None = None) -> DischargeForm:
    if form is None:
        form = DischargeForm(version=summary.version, **(summary.written or {}))
    return form


def _page(course: TreatmentCourse, summary: DischargeSummary | None, *, form=None, addendum_form=None,
          send_form=None, status=200):
    send_form = send_form or SendForm()
    if summary is not None:
        send_form.recipient.choices = options((u.id, u.display_name) for u in services.prescribers_of(summary))
    return render_template(
        "discharge/summary.html", course=course, summary=summary,
        doc=document(summary, now=utcnow()) if summary is not None else None,
        form=_form(summary, form) if _own_draft(summary) else None,
        sections=written_sections(course), start_form=StartForm(), addendum_form=addendum_form or AddendumForm(),
        send_form=send_form, copies=services.copies_of(summary.id) if summary is not None else [],
        needs=services.signature_needs(summary) if summary is not None and not summary.signed else {}), status


def _own_draft(summary: DischargeSummary | None) -> bool:
    """A draft is its author's (as a note is): the form is shown to them alone, others read the draft."""
    return summary is not None and not summary.signed and summary.author_id == current_user.id


@bp.route("/courses/<id:course_id>/discharge")
@access.permission("discharge.write")
def summary_page(course_id: int):
    course = _writable_course(course_id)
    summary = services.summary_of(course.id)
    audit.record("discharge.view", obj=summary or course, patient_id=course.patient_id)
    return _page(course, summary)


@bp.route("/courses/<id:course_id>/discharge", methods=["POST"])
@access.permission("discharge.write")
def summary_start(course_id: int):
    course = _writable_course(course_id)
    form = StartForm()
    done, summary = submit(form, lambda: services.start_summary(course, by=current_user))
    if done:
        audit.record("discharge.create", obj=summary, patient_id=course.patient_id)
        return redirect(url_for("discharge.summary_page", course_id=course.id))
    audit.record("discharge.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    for message in form.form_errors or [e for errs in form.errors.values() for e in errs]:
        flash(message, "error")
    return _page(course, services.summary_of(course.id), status=422)


@bp.route("/discharge/<id:summary_id>", methods=["POST"])
@access.permission("discharge.write")
def summary_save(summary_id: int):
    """Save the draft, and sign it in the same request when "Sign and lock" was pressed with the box ticked."""
    summary = _writable_summary(summary_id)
    form = DischargeForm()
    signing = "sign" in request.form  # the button pressed
    written = {s.key: getattr(form, s.key).data for s in written_sections(summary.course)}

    def sign():
        services.sign_summary(summary, by=current_user, expected_version=summary.version,
                              confirmed=bool(form.confirm_sign.data))

    outcome = save_then_sign(form, lambda: services.save_summary(summary, written=written, by=current_user,
                                                                 expected_version=form_version(form)),
                             sign if signing else None)
    if outcome.signed:
        audit.record("discharge.sign", obj=summary, patient_id=summary.patient_id)
        flash("Discharge summary signed and locked.", "success")
        return redirect(url_for("discharge.summary_page", course_id=summary.course_id))
    if outcome.saved:
        audit.record("discharge.update", obj=summary, patient_id=summary.patient_id)
        if outcome.refusal is not None:
            audit.record("discharge.sign", obj=summary, patient_id=summary.patient_id, outcome=audit.FAILURE,
                         detail="refused: " + ", ".join(sorted(k or "form" for k in outcome.refusal.reasons)))
            form.form_errors = list(form.form_errors) + ["Draft saved, not signed: complete the fields marked "
                                                         "below, then sign again."]
            form.version.data = summary.version  # the draft just saved is the one to sign next
            return _page(summary.course, summary, form=form, status=200)  # 200: the save is committed
        flash("Draft saved.", "success")
        return redirect(url_for("discharge.summary_page", course_id=summary.course_id))
    audit.record("discharge.update", obj=summary, patient_id=summary.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    if not _own_draft(summary):  # the page shows no form to put the reason on
        for message in form.form_errors:
            flash(message, "error")
    return _page(summary.course, summary, form=form, status=409 if getattr(form, "edit_conflict", False) else 422)


@bp.route("/discharge/<id:summary_id>/addendum", methods=["POST"])
@access.permission("discharge.write")
def summary_addendum(summary_id: int):
    summary = _writable_summary(summary_id)
    form = AddendumForm()
    done, addendum = submit(form, lambda: services.add_addendum(summary, body=form.body.data, by=current_user))
    if done:
        audit.record("discharge.addendum", obj=summary, patient_id=summary.patient_id)
        flash("Addendum added.", "success")
        return redirect(url_for("discharge.summary_page", course_id=summary.course_id))
    audit.record("discharge.addendum", obj=summary, patient_id=summary.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return _page(summary.course, summary, addendum_form=form, status=422)


@bp.route("/discharge/<id:summary_id>.pdf")
@access.permission("discharge.write")
def summary_pdf(summary_id: int):
    """The whole summary (the clinic's copy), for its writers; a draft's says so on its first line."""
    summary = _writable_summary(summary_id)
    audit.record("discharge.download", obj=summary, patient_id=summary.patient_id)
    return _pdf(render_discharge_pdf(document(summary, now=utcnow())), summary.patient, "discharge-summary",
                clinic_today())


@bp.route("/discharge/<id:summary_id>/send", methods=["POST"])
@access.permission("discharge.write")
def summary_send(summary_id: int):
    summary = _writable_summary(summary_id)
    form = SendForm()
    form.recipient.choices = options((u.id, u.display_name) for u in services.prescribers_of(summary))
    done, copy = submit(form, lambda: services.send_copy(summary, recipient_id=form.recipient.data, by=current_user,
                                                         today=clinic_today(), render=render_copy))
    if done:
        audit.record("discharge.send", obj=copy, patient_id=summary.patient_id,
                     detail=f"for user {copy.recipient_id}: " + ",".join(copy.categories))
        flash(f"Sent to {copy.recipient.display_name}, with what the patient's release permits.", "success")
        return redirect(url_for("discharge.summary_page", course_id=summary.course_id))
    audit.record("discharge.send", obj=summary, patient_id=summary.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return _page(summary.course, summary, send_form=form, status=422)


@bp.route("/discharge-copies/<id:copy_id>.pdf")
@access.permission("reports.read")
def copy_pdf(copy_id: int):
    """A prescriber's copy, exactly as sent: for its recipient and the course's therapists."""
    copy = load_patient_record(DischargeCopy, copy_id, clinical=True)
    therapists = {m.user_id for m in copy.patient.care_team if m.role == THERAPIST}
    if current_user.id not in {copy.recipient_id, copy.created_by_id} | therapists:
        audit.denial("a discharge summary's copy goes to its recipient (and the treating therapists)", obj=copy,
                     patient_id=copy.patient_id)
        abort(403)
    audit.record("discharge.copy_download", obj=copy, patient_id=copy.patient_id)
    return _pdf(copy.pdf, copy.patient, "discharge-summary", clinic_today(copy.created_at))


def _pdf(pdf: bytes, patient, kind: str, day) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    name = patient_file_name(kind, mrn=patient.mrn, name=patient.full_name, day=day)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
