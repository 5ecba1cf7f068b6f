"""A course's intake and consent forms for its care team (issue 26): the packet page (each form's state,
the signed documents and their PDFs, what still blocks dosing), countersigning where the form asks for
the user's role, the prescriber's review of flagged answers, recording a withdrawal the patient made by
phone or in person, and starting an in-clinic signing on the clinic tablet (portal/tablet.py).

Care team only (patients.access.load_patient_record with the page's permission); every read audited.
The services (signed_forms.services) check who may countersign or review; a refusal re-shows the
packet page with its reasons on the form that was sent, and changes nothing.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.types import utcnow
from ..patients.access import load_patient_record, team_roles
from ..portal import signing
from ..portal.tablet import hand_over
from ..signed_forms import services as signed_forms
from ..signed_forms.models import SignedForm
from ..signed_forms.page_forms import ButtonForm, FlagReviewForm, StaffWithdrawalForm
from ..signed_forms.presented import ROLE_WORDS, pdf_response, view_of
from ..web import access
from ..web.forms import INVALID_FORM_STATUS, submit

#: who may open a course's packet and its signed forms: the care team members holding it
READ = "forms.packet"


def _review_prefix(signed_id: int) -> str:
    return f"review-{signed_id}"


def _withdraw_prefix(signed_id: int) -> str:
    return f"withdraw-{signed_id}"


def _row_forms(status, roles: frozenset[str], sent: dict) -> dict:
    """The forms each signed item offers the user, by prefix (a form sent and refused in place of a fresh one)."""
    forms = {}
    for item in status.items if status is not None else ():
        if item.signed is None:
            continue
        if item.flags and item.flags_reviewed is None and current_user.can("forms.review_flags") \
                and "prescriber" in roles:
            prefix = _review_prefix(item.signed.id)
            forms[prefix] = sent.get(prefix) or FlagReviewForm(prefix=prefix, formdata=None)
        if item.state == "signed" and item.form.kind == "consent" and current_user.can("forms.record_withdrawal"):
            prefix = _withdraw_prefix(item.signed.id)
            forms[prefix] = sent.get(prefix) or StaffWithdrawalForm(prefix=prefix, formdata=None)
    return forms


def _problems(form) -> list[str]:
    """Why a one-button form was refused (the service's reasons, or the form's own, e.g. its CSRF token)."""
    return list(form.form_errors) or [message for messages in form.errors.values() for message in messages] \
        or ["Nothing was changed."]


def packet_page(course: TreatmentCourse, *, sent: dict | None = None, problems: list[str] = (), status: int = 200):
    """The packet page; `sent`: a refused form by its prefix, shown with its errors; `problems`: why a
    button's request was refused."""
    packet = signed_forms.packet_status(course)
    roles = team_roles(current_user, course.patient)
    countersigns = {item.signed.id for item in packet.items if item.signed is not None and item.countersign_role
                    and item.countersign_role in roles and current_user.can("forms.countersign")} if packet else set()
    starts_tablet = bool(signing.left_to_sign(packet)) and current_user.can("forms.sign_in_clinic") \
        and not course.current_phase.ended
    return render_template("courses/forms.html", course=course, packet=packet, words=signing.STATE_WORDS,
                           roles=ROLE_WORDS, countersigns=countersigns, row_forms=_row_forms(packet, roles, sent or {}),
                           button=ButtonForm(), starts_tablet=starts_tablet, problems=problems,
                           review_prefix=_review_prefix, withdraw_prefix=_withdraw_prefix), status


@access.permission(READ)
def packet(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=READ)
    audit.record("signed_form.packet_view", obj=course, patient_id=course.patient_id)
    return packet_page(course)


@access.permission(READ)
def document(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    audit.record("signed_form.view", obj=signed, patient_id=signed.patient_id)
    return render_template("courses/signed_form.html", signed=signed, view=view_of(signed))


@access.permission(READ)
def document_pdf(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    audit.record("signed_form.download", obj=signed, patient_id=signed.patient_id)
    return pdf_response(signed)


def _back(signed: SignedForm):
    return redirect(url_for("signed_forms.packet", course_id=signed.course_id) + f"#form-{signed.form_id}")


@access.permission("forms.countersign")
def countersign(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    form = ButtonForm()
    done, row = submit(form, lambda: signed_forms.countersign(signed, by=current_user))
    if done:
        audit.record("signed_form.countersign", obj=signed, patient_id=signed.patient_id, detail=f"as {row.role}")
        flash(f"Countersigned: {signed.title}.", "success")
        return _back(signed)
    audit.record("signed_form.countersign", obj=signed, patient_id=signed.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return packet_page(signed.course, problems=_problems(form), status=INVALID_FORM_STATUS)


@access.permission("forms.review_flags")
def review(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    form = FlagReviewForm(prefix=_review_prefix(signed.id))
    done, _row = submit(form, lambda: signed_forms.review_flags(signed, by=current_user, note=form.note.data))
    if done:
        audit.record("signed_form.flag_review", obj=signed, patient_id=signed.patient_id)
        flash(f"Review recorded: {signed.title}.", "success")
        return _back(signed)
    audit.record("signed_form.flag_review", obj=signed, patient_id=signed.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return packet_page(signed.course, sent={_review_prefix(signed.id): form}, status=INVALID_FORM_STATUS)


@access.permission("forms.record_withdrawal")
def withdraw(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    form = StaffWithdrawalForm(prefix=_withdraw_prefix(signed.id))
    done, _row = submit(form, lambda: signed_forms.withdraw(signed, reason=form.reason.data, recorded_by=current_user,
                                                             now=utcnow()))
    if done:
        audit.record("signed_form.withdraw", obj=signed, patient_id=signed.patient_id, detail="recorded by staff")
        flash(f"Withdrawal recorded: {signed.title}.", "success")
        return _back(signed)
    audit.record("signed_form.withdraw", obj=signed, patient_id=signed.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return packet_page(signed.course, sent={_withdraw_prefix(signed.id): form}, status=INVALID_FORM_STATUS)


@access.permission("forms.sign_in_clinic")
def tablet_start(course_id: int):
    """ "Start in-clinic signing": the signing starts and this device goes to the patient (signed out)."""
    course = load_patient_record(TreatmentCourse, course_id, clinical=READ)
    form = ButtonForm()
    done, started = submit(form, lambda: signed_forms.start_tablet_signing(course, by=current_user))
    if not done:
        audit.record("signed_form.tablet_start", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                     detail="refused")
        return packet_page(course, problems=_problems(form), status=INVALID_FORM_STATUS)
    tablet_signing, token = started
    audit.record("signed_form.tablet_start", obj=course, patient_id=course.patient_id,
                 detail=f"in-clinic signing {tablet_signing.id}; the staff session on this device ended")
    hand_over(token)
    return redirect(url_for("tablet.forms"))


ROUTES = (
    ("signed_forms.packet", "/courses/<id:course_id>/forms", packet, ["GET"]),
    ("signed_forms.tablet_start", "/courses/<id:course_id>/forms/tablet", tablet_start, ["POST"]),
    ("signed_forms.document", "/signed-forms/<id:signed_form_id>", document, ["GET"]),
    ("signed_forms.document_pdf", "/signed-forms/<id:signed_form_id>.pdf", document_pdf, ["GET"]),
    ("signed_forms.countersign", "/signed-forms/<id:signed_form_id>/countersign", countersign, ["POST"]),
    ("signed_forms.review", "/signed-forms/<id:signed_form_id>/review", review, ["POST"]),
    ("signed_forms.withdraw", "/signed-forms/<id:signed_form_id>/withdraw", withdraw, ["POST"]),
)
