"""The patient's intake and consent forms in the portal (issue 26, point 3): the packet of their course
(to sign, signed, to sign again, withdrawn), a signing page per form, each signed document and its PDF,
and withdrawing a consent (a confirmation step with a reason).

The patient comes from the session (current_portal_patient()), never from the URL: a course or a signed
form of another patient is 404, whatever its id. The identity of a portal signature is the signed-in
account; every read is audited with the patient as actor.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..courses.services import current_course
from ..db.types import utcnow
from ..extensions import db
from ..patients.models import Patient
from ..signed_forms import services as signed_forms
from ..signed_forms.models import SignedForm
from ..signed_forms.page_forms import PatientWithdrawalForm
from ..signed_forms.presented import pdf_response, view_of
from ..web import access
from ..web.forms import INVALID_FORM_STATUS, submit
from . import signing
from .recovery import kept_text, mark_recovered, offered_back
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_forms", __name__, url_prefix="/portal/forms")
#: the page whose answers are kept when the session timed out before they were sent (portal/recovery.py)
FORM_ENDPOINT = "portal_forms.sign"


def packet_of(patient: Patient):
    """(the patient's current course, its packet status), either None when there is none."""
    course = current_course(patient.id)
    return course, (signed_forms.packet_status(course) if course is not None else None)


def forms_to_sign(patient: Patient) -> int:
    """How many forms of the current course's packet wait for the patient's signature (home, menu)."""
    return len(signing.left_to_sign(packet_of(patient)[1]))


def menu_count() -> int:
    """The menu's count beside "Forms to sign" (portal/nav.py)."""
    return forms_to_sign(current_portal_patient())


def _not_found(what: str):
    audit.denial(f"portal: {what} is not one of the patient's own")
    abort(404)


def _own_course(patient: Patient, course_id: int) -> TreatmentCourse:
    course = db.session.get(TreatmentCourse, course_id)
    if course is None or course.patient_id != patient.id:
        _not_found(f"course {course_id}")
    return course


def _own_signed(patient: Patient, signed_form_id: int) -> SignedForm:
    signed = db.session.get(SignedForm, signed_form_id)
    if signed is None or signed.patient_id != patient.id:
        _not_found(f"signed form {signed_form_id}")
    return signed


@bp.route("/")
@access.portal_page
def forms():
    patient = current_portal_patient()
    course, status = packet_of(patient)
    audit.record("forms.portal_list", obj=patient, patient_id=patient.id,
                 detail=f"{len(status.items) if status else 0} forms, {len(signing.left_to_sign(status))} to sign")
    return render_template("portal/forms/list.html", course=course, status=status,
                           to_sign=signing.left_to_sign(status), words=signing.STATE_WORDS)


@bp.route("/<id:course_id>/<form_id>", methods=["GET", "POST"])
@access.portal_page
def sign(course_id: int, form_id: str):
    """GET: the form to read, answer and sign; POST: the signature, as the signed-in account."""
    patient = current_portal_patient()
    course = _own_course(patient, course_id)
    item = signing.item_to_sign(signed_forms.packet_status(course), form_id)
    if item is None:  # not in the packet, or signed already: the list says which
        flash("That form is not waiting for your signature.", "info")
        return redirect(url_for("portal_forms.forms"))
    account = current_portal_account()
    if request.method == "POST":
        return _submit(patient, course, item, account)
    kept = _kept_answers(account.id)
    form = signing.answer_form(item, kept)
    audit.record("forms.portal_view", obj=course, patient_id=patient.id, detail=f"{form_id[:60]} to sign")
    return _sign_page(patient, course, item, form,
                      recovered=kept_text(account.id, request.path) if kept is not None else None)


def _kept_answers(account_id: int):
    """What a timed-out session kept of this form, offered back without the agreement: ticking it again is the
    patient's own act, after reading the form again."""
    kept = offered_back(account_id)
    if kept is not None:
        kept.poplist("agreed")
    return kept


def _submit(patient: Patient, course: TreatmentCourse, item, account):
    form = signing.answer_form(item)
    done, signed = signing.sign(course, item, form, method="portal", portal_account=account)
    if done:  # audited by the service (forms.sign)
        mark_recovered(account.id, request.path)
        flash(f"Thank you: you signed “{signed.title}”. Your care team can see it now.", "success")
        return redirect(url_for("portal_forms.document", signed_form_id=signed.id))
    if not form.adding_rows:  # more medication rows asked for: nothing was refused
        audit.record("forms.sign", obj=course, patient_id=patient.id, outcome=audit.FAILURE,
                     detail=f"{item.form_id} refused"[:200])
    return _sign_page(patient, course, item, form), (200 if form.adding_rows else INVALID_FORM_STATUS)


def _sign_page(patient: Patient, course: TreatmentCourse, item, form, *, recovered=None) -> str:
    return render_template("portal/forms/sign.html", course=course, item=item, form=form,
                           patient_name=patient.full_name, recovered=recovered)


@bp.route("/signed/<id:signed_form_id>")
@access.portal_page
def document(signed_form_id: int):
    patient = current_portal_patient()
    signed = _own_signed(patient, signed_form_id)
    audit.record("forms.portal_view", obj=signed, patient_id=patient.id, detail=signed.form_id)
    return render_template("portal/forms/document.html", signed=signed,
                           may_withdraw=withdrawable_item(signed) is not None, view=view_of(signed))


@bp.route("/signed/<id:signed_form_id>.pdf")
@access.portal_page
def document_pdf(signed_form_id: int):
    patient = current_portal_patient()
    signed = _own_signed(patient, signed_form_id)
    audit.record("forms.portal_download", obj=signed, patient_id=patient.id, detail=signed.form_id)
    return pdf_response(signed)


def withdrawable_item(signed: SignedForm):
    """The packet item of a consent in force whose newest signature this is (what a withdrawal ends), or None."""
    if signed.kind != "consent":
        return None
    status = signed_forms.packet_status(signed.course)
    item = next((i for i in status.items if i.form_id == signed.form_id), None) if status else None
    in_force = item is not None and item.state == "signed" and item.signed is not None and item.signed.id == signed.id
    return item if in_force else None


@bp.route("/signed/<id:signed_form_id>/withdraw", methods=["GET", "POST"])
@access.portal_page
def withdraw(signed_form_id: int):
    """The confirmation step: what withdrawing means, and the patient's reason; POST withdraws."""
    patient = current_portal_patient()
    signed = _own_signed(patient, signed_form_id)
    item = withdrawable_item(signed)
    if item is None:  # a consent in force is withdrawn even when its form file is gone (the document stays)
        flash("This form cannot be withdrawn: it is not a consent in force.", "info")
        return redirect(url_for("portal_forms.document", signed_form_id=signed.id))
    form = PatientWithdrawalForm()
    form.reason.label.text = f"Why you are withdrawing this {signed.noun}"
    if form.is_submitted():
        done, _row = submit(form, lambda: signed_forms.withdraw(signed, reason=form.reason.data,
                                                                 portal_account=current_portal_account(),
                                                                 now=utcnow()))
        if done:  # audited by the service (forms.withdraw)
            # no message goes out (the confirmation step says so): the withdrawal shows on the care team's lists
            flash(f"You withdrew your {signed.noun} “{signed.title}”. Your care team sees it on their lists; "
                  "contact the clinic if you want to talk it over.", "success")
            return redirect(url_for("portal_forms.forms"))
        audit.record("forms.withdraw", obj=signed, patient_id=patient.id, outcome=audit.FAILURE,
                     detail="refused")
        status = INVALID_FORM_STATUS
    else:
        audit.record("forms.portal_view", obj=signed, patient_id=patient.id,
                     detail=f"{signed.form_id}: withdrawal step")
        status = 200
    return render_template("portal/forms/withdraw.html", signed=signed, form=form,
                           blocks=item.signed_definition is not None
                           and item.signed_definition.withdrawal_blocks_dosing), status
