"""A course's intake and consent forms (issue 26): the packet page (each form's state and what still
blocks dosing; for the care team's readers the signed documents, their PDFs and the flagged answers),
countersigning where the form asks for the user's role, the prescriber's review of flagged answers,
recording a withdrawal the patient made by phone or in person, and starting an in-clinic signing on the
clinic tablet (portal/tablet.py) after a confirmation step.

The page opens to whoever sees the course (the front desk hands tablets over and hears a patient who
phones to withdraw: forms.sign_in_clinic, forms.record_withdrawal); the answers only to the care team
members holding forms.read_signed (patients.access.can_read_clinical). Every read is audited. The
services (signed_forms.services) check who may countersign, review or record, and audit each write; a
refusal re-shows the packet page with its reasons on the form that was sent, and changes nothing.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.types import utcnow
from ..patients.access import can_read_clinical, load_patient_record, team_roles
from ..portal import signing
from ..portal.tablet import hand_over
from ..signed_forms import services as signed_forms
from ..signed_forms.models import SignedForm
from ..signed_forms.page_forms import ButtonForm, FlagReviewForm, StaffWithdrawalForm
from ..signed_forms.presented import ROLE_WORDS, pdf_response, view_of
from ..web import access
from ..web.forms import INVALID_FORM_STATUS, submit

#: who reads a patient's answers: the care team members holding it
READ = "forms.read_signed"


def _review_prefix(signed_id: int) -> str:
    return f"review-{signed_id}"


def _withdraw_prefix(signed_id: int) -> str:
    return f"withdraw-{signed_id}"


def _may_countersign(item, roles: frozenset[str]) -> bool:
    """The form still owes the countersignature of a role the user holds (on the care team; staff as staff)."""
    role = item.countersign_role
    held = {"staff"} & set(current_user.roles) if role == "staff" else roles
    return role is not None and role in held and current_user.can("forms.countersign") and item.state != "withdrawn"


def countersigns_owed(course: TreatmentCourse, packet) -> list:
    """The packet's items whose countersignature the signed-in user owes (the course page's next actions; a
    new-user review of issue 26: the home page listed one the course page said nothing of)."""
    roles = team_roles(current_user, course.patient)
    return [i for i in (packet.items if packet is not None else ()) if i.signed is not None and _may_countersign(i, roles)]


def _reviews(item, *, reads: bool, roles: frozenset[str]) -> bool:
    """The user reviews this signed form's flagged answers now: a prescriber of the team, flags unreviewed."""
    return (reads and bool(item.flags) and item.flags_reviewed is None and item.state != "withdrawn"
            and current_user.can("forms.review_flags") and "prescriber" in roles)


def _records_withdrawal(item) -> bool:
    """The user may record that the patient withdrew this consent, still in force."""
    return item.state == "signed" and item.signed.kind == "consent" and current_user.can("forms.record_withdrawal")


def _row_forms(packet, *, reads: bool, roles: frozenset[str], sent: dict) -> dict:
    """The forms each signed item offers the user, by prefix (a form sent and refused in place of a fresh one)."""
    forms = {}
    for item in (i for i in (packet.items if packet is not None else ()) if i.signed is not None):
        for wanted, prefix, form_class in ((_reviews(item, reads=reads, roles=roles), _review_prefix, FlagReviewForm),
                                           (_records_withdrawal(item), _withdraw_prefix, StaffWithdrawalForm)):
            if wanted:
                key = prefix(item.signed.id)
                forms[key] = sent.get(key) or form_class(prefix=key, formdata=None)
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
    reads = can_read_clinical(current_user, course.patient, READ)
    countersigns = {item.signed.id for item in (packet.items if packet else ())
                    if item.signed is not None and _may_countersign(item, roles)}
    starts_tablet = _hands_over(course, signing.left_to_sign(packet)) and current_user.can("forms.sign_in_clinic")
    rows = _row_forms(packet, reads=reads, roles=roles, sent=sent or {})
    # a refused form the page no longer offers (the consent was withdrawn meanwhile): its reasons at the top
    problems = [*problems, *(m for prefix, f in (sent or {}).items() if prefix not in rows for m in _problems(f))]
    tablets = signed_forms.live_tablet_signings(course) if current_user.can("forms.sign_in_clinic") else []
    return render_template("courses/forms.html", course=course, packet=packet, words=signing.STATE_WORDS,
                           roles=ROLE_WORDS, reads=reads, countersigns=countersigns, problems=problems, tablets=tablets,
                           row_forms=rows,
                           button=ButtonForm(), starts_tablet=starts_tablet,
                           review_prefix=_review_prefix, withdraw_prefix=_withdraw_prefix), status


@access.permission("patients.read")
def packet(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    reads = can_read_clinical(current_user, course.patient, READ)
    audit.record("forms.packet_view", obj=course, patient_id=course.patient_id,
                 detail="with the answers" if reads else "states only")
    return packet_page(course)


@access.permission(READ)
def document(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    audit.record("forms.view", obj=signed, patient_id=signed.patient_id)
    return render_template("courses/signed_form.html", signed=signed, view=view_of(signed, with_review=True))


@access.permission(READ)
def document_pdf(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    audit.record("forms.download", obj=signed, patient_id=signed.patient_id)
    return pdf_response(signed, with_review=True)


def _back(signed: SignedForm, message: str):
    flash(message, "success")
    return redirect(url_for("signed_forms.packet", course_id=signed.course_id) + f"#form-{signed.form_id}")


def _refused(action: str, signed: SignedForm):
    audit.record(action, obj=signed, patient_id=signed.patient_id, outcome=audit.FAILURE, detail="refused")


@access.permission("forms.countersign")
def countersign(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=False)
    form = ButtonForm()
    done, _row = submit(form, lambda: signed_forms.countersign(signed, by=current_user))  # audited by the service
    if done:
        return _back(signed, f"Countersigned: {signed.title}.")
    _refused("forms.countersign", signed)
    return packet_page(signed.course, problems=_problems(form), status=INVALID_FORM_STATUS)


@access.permission("forms.review_flags")
def review(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=READ)
    prefix = _review_prefix(signed.id)
    form = FlagReviewForm(prefix=prefix)
    done, _row = submit(form, lambda: signed_forms.review_flags(signed, by=current_user, note=form.note.data))
    if done:
        return _back(signed, f"Review recorded: {signed.title}.")
    _refused("forms.review_flags", signed)
    return packet_page(signed.course, sent={prefix: form}, status=INVALID_FORM_STATUS)


@access.permission("forms.record_withdrawal")
def withdraw(signed_form_id: int):
    signed = load_patient_record(SignedForm, signed_form_id, clinical=False)
    prefix = _withdraw_prefix(signed.id)
    form = StaffWithdrawalForm(prefix=prefix)
    done, _row = submit(form, lambda: signed_forms.withdraw(signed, reason=form.reason.data,
                                                             recorded_by=current_user, now=utcnow()))
    if done:
        return _back(signed, f"Withdrawal recorded: {signed.title}. Your care team sees it on the course.")
    _refused("forms.withdraw", signed)
    return packet_page(signed.course, sent={prefix: form}, status=INVALID_FORM_STATUS)


def _hands_over(course: TreatmentCourse, left: list) -> bool:
    """The course's forms can go to the patient on a tablet: some wait for a signature, the course goes on."""
    return bool(left) and not course.current_phase.ended


def _tablet_refused(course: TreatmentCourse, action: str, form: ButtonForm, page=packet_page):
    """A refused start or end of an in-clinic signing: audited, and the page it came from says why."""
    audit.record(action, obj=course, patient_id=course.patient_id, outcome=audit.FAILURE, detail="refused")
    return page(course, problems=_problems(form), status=INVALID_FORM_STATUS)


def _tablet_start_step(course: TreatmentCourse, *, left: list | None = None, problems: list[str] = (),
                       status: int = 200):
    """The confirmation step of "Start in-clinic signing": the forms the patient will be asked to sign, that this
    browser goes to the patient and the user is signed out of it, how the signing ends and how staff get the
    device back; an in-clinic signing already open for the patient is named (starting ends it). `left`: the
    forms left to sign, when the caller has them."""
    left = signing.left_to_sign(signed_forms.packet_status(course)) if left is None else left
    return render_template("courses/tablet_start.html", course=course, left=left, words=signing.STATE_WORDS,
                           starts=_hands_over(course, left), minutes=signed_forms.TABLET_MINUTES,
                           tablets=signed_forms.live_tablet_signings(course), problems=problems,
                           button=ButtonForm()), status


@access.permission("forms.sign_in_clinic")
def tablet_start(course_id: int):
    """ "Start in-clinic signing": GET is the confirmation step (pressing it signs the user out of this browser,
    so it is never one click from the packet page); its POST starts the signing and hands the device over."""
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    form = ButtonForm()
    if not form.is_submitted():
        left = signing.left_to_sign(signed_forms.packet_status(course))
        audit.record("forms.tablet_start_view", obj=course, patient_id=course.patient_id,
                     detail=f"{len(left)} to sign")
        return _tablet_start_step(course, left=left)
    done, started = submit(form, lambda: signed_forms.start_tablet_signing(course, by=current_user))
    if not done:
        return _tablet_refused(course, "forms.tablet_start", form, page=_tablet_start_step)
    hand_over(started[1])  # audited by the service (forms.tablet_start); the staff session ends here
    return redirect(url_for("tablet.forms"))


@access.permission("forms.sign_in_clinic")
def tablet_end(course_id: int):
    """Staff end the course's open in-clinic signings from their own device (the tablet then shows nothing)."""
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    form = ButtonForm()
    done, ended = submit(form, lambda: signed_forms.end_tablet_signings_by_staff(course, by=current_user))
    if not done:
        return _tablet_refused(course, "forms.tablet_end", form)
    flash("The in-clinic signing is ended: the tablet shows nothing of the patient now.", "success")  # audited
    return redirect(url_for("signed_forms.packet", course_id=course.id))


ROUTES = (
    ("signed_forms.packet", "/courses/<id:course_id>/forms", packet, ["GET"]),
    ("signed_forms.tablet_start", "/courses/<id:course_id>/forms/tablet", tablet_start, ["GET", "POST"]),
    ("signed_forms.tablet_end", "/courses/<id:course_id>/forms/tablet/end", tablet_end, ["POST"]),
    ("signed_forms.document", "/signed-forms/<id:signed_form_id>", document, ["GET"]),
    ("signed_forms.document_pdf", "/signed-forms/<id:signed_form_id>.pdf", document_pdf, ["GET"]),
    ("signed_forms.countersign", "/signed-forms/<id:signed_form_id>/countersign", countersign, ["POST"]),
    ("signed_forms.review", "/signed-forms/<id:signed_form_id>/review", review, ["POST"]),
    ("signed_forms.withdraw", "/signed-forms/<id:signed_form_id>/withdraw", withdraw, ["POST"]),
)
