"""The portal's own pages for a signed-in patient: home (upcoming sessions, phase), a session's
calendar file, and the account page (password, second factor). Every read names the signed-in
patient (current_portal_patient(), from the session) and is audited with the patient as actor."""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from ..accounts.throttle import TOO_MANY_REQUESTS, SignInLimited
from ..audit import services as audit
from ..db.types import utcnow
from ..domain.reminders import ClinicalWordInMessage
from ..domain.throttling import wait_text
from ..reminders.invitations import calendar_file
from ..web import access
from ..web.forms import INVALID_FORM_STATUS, form_fields_in_error, render_form, submit
from ..web.lifecycle import commit_refusal
from . import accounts, form_pages, home as home_data, questionnaire_pages, signing
from .forms import FactorChangeForm, PasswordChangeForm, PortalCodeForm
from .models import SIGNED_IN
from .sessions import (END_MESSAGES, complete_portal_sign_in, current_portal_account, current_portal_patient,
                       current_visit, end_portal_session, start_portal_session)
from .steps import run_step, step_context

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.route("/")
@access.portal_page
def home():
    patient = current_portal_patient()
    now = utcnow()
    sessions = home_data.upcoming_sessions(patient.id, now)
    due = questionnaire_pages.due_list(patient, now)
    to_sign = signing.left_to_sign(form_pages.packet_of(patient)[1])
    audit.record("portal.home", obj=patient, patient_id=patient.id,
                 detail=f"{len(sessions)} sessions, {len(due)} questionnaires due, {len(to_sign)} forms to sign shown")
    return render_template("portal/home.html", patient=patient, sessions=sessions,
                           phase=home_data.course_phase(patient.id), questionnaires_due=due, forms_to_sign=to_sign)


@bp.route("/sessions/<id:appointment_id>.ics")
@access.portal_page
def session_calendar(appointment_id: int):
    """One of the patient's own upcoming sessions as a calendar file; any other id is 404."""
    patient = current_portal_patient()
    now = utcnow()
    row = home_data.own_session_row(patient.id, appointment_id, now)
    if row is None:
        abort(404)
    try:
        content = calendar_file(row, patient, now=now)
    except ClinicalWordInMessage:
        flash("The calendar file for this session cannot be made right now; please contact the clinic.", "error")
        return redirect(url_for("portal.home"))
    audit.record("portal.calendar", object_type="appointment", object_id=appointment_id, patient_id=patient.id)
    return Response(content, mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="session-{appointment_id}.ics"'})


def _account_page(status: int | None = None, **forms):
    account = current_portal_account()
    context = dict(account=account, password_form=PasswordChangeForm(prefix="password", formdata=None),
                   factor_form=FactorChangeForm(prefix="factor", formdata=None))
    context.update(forms)
    return render_template("portal/account.html", **context), status or (422 if forms else 200)


@bp.route("/account")
@access.portal_page
def account():
    acct = current_portal_account()
    audit.record("portal.account_view", obj=acct, patient_id=acct.patient_id)
    return _account_page()


def _current_password_refused(form, form_name: str, action: str):
    """Check the form's current password (accounts.check_current_password); the answer to a refusal,
    audited as a failure of `action`, or None when it is right. Five wrong in one session end it."""
    visit = current_visit()
    acct, now = visit.account, utcnow()
    try:
        left = accounts.check_current_password(visit.row, acct, form.current.data, address=request.remote_addr,
                                               now=now)
    except SignInLimited as limited:
        audit.record(action, obj=acct, patient_id=acct.patient_id, outcome=audit.DENIED,
                     detail=f"current password not checked: too many failed sign-ins from this {limited.scope}")
        form.current.errors = [f"Too many wrong passwords. Try again in {wait_text(limited.seconds_left(now))}."]
        html, status = _account_page(TOO_MANY_REQUESTS, **{form_name: form})
        return html, status, {"Retry-After": str(math.ceil(limited.seconds_left(now)))}
    if left is None:
        return None
    audit.record(action, obj=acct, patient_id=acct.patient_id, outcome=audit.FAILURE,
                 detail=f"wrong current password; {left} tries left")
    if not left:
        end_portal_session(visit, "password_failures")
        flash(END_MESSAGES["password_failures"], "error")
        return redirect(url_for("portal_sign_in.sign_in"))
    form.current.errors = [f"That is not your current password ({left} {'try' if left == 1 else 'tries'} left)."]
    commit_refusal(INVALID_FORM_STATUS)  # the failure counts before the next attempt (accounts/throttle.py)
    return _account_page(**{form_name: form})


@bp.route("/account/password", methods=["POST"])
@access.portal_page
def password_change():
    acct = current_portal_account()
    form = PasswordChangeForm(prefix="password")
    if not form.validate_on_submit():
        audit.record("portal.password_change", obj=acct, patient_id=acct.patient_id, outcome=audit.FAILURE,
                     detail="refused: " + (", ".join(form_fields_in_error(form)) or "form"))
        return _account_page(password_form=form)
    refusal = _current_password_refused(form, "password_form", "portal.password_change")
    if refusal is not None:
        return refusal
    done, _ = submit(form, lambda: accounts.change_password(acct, form.password.data))
    if not done:
        audit.record("portal.password_change", obj=acct, patient_id=acct.patient_id, outcome=audit.FAILURE,
                     detail="refused: password")
        return _account_page(password_form=form)
    audit.record("portal.password_change", obj=acct, patient_id=acct.patient_id)
    start_portal_session(acct, SIGNED_IN)  # every session ended with the old password; this one goes on
    audit.act_as_portal_account(acct.id)
    flash("Your password is changed. Other devices were signed out.", "success")
    return redirect(url_for("portal.account"))


@bp.route("/account/second-factor", methods=["POST"])
@access.portal_page
def factor_change():
    """Switch how sign-ins are confirmed: the current password, then the new way is confirmed
    with a code before it replaces the old one."""
    acct = current_portal_account()
    form = FactorChangeForm(prefix="factor")
    if not form.validate_on_submit():
        audit.record("portal.factor_change", obj=acct, patient_id=acct.patient_id, outcome=audit.FAILURE,
                     detail="refused: " + (", ".join(form_fields_in_error(form)) or "form"))
        return _account_page(factor_form=form)
    refusal = _current_password_refused(form, "factor_form", "portal.factor_change")
    if refusal is not None:
        return refusal
    current_visit().row.enrolling = form.factor.data
    audit.record("portal.factor_change", obj=acct, patient_id=acct.patient_id,
                 detail=f"to {form.factor.data}, until a code of it is accepted")
    return redirect(url_for("portal.factor_confirm"))


@bp.route("/account/second-factor/confirm", methods=["GET", "POST"])
@access.portal_page
def factor_confirm():
    visit = current_visit()
    if visit.row.enrolling is None:
        return redirect(url_for("portal.account"))
    form = PortalCodeForm()

    def done(factor: str):
        complete_portal_sign_in(visit)  # a new token; the factor is now the account's
        audit.record("portal.enrol", obj=visit.account, patient_id=visit.account.patient_id, detail=f"now {factor}")
        flash("Saved: you will confirm sign-ins this new way.", "success")
        return redirect(url_for("portal.account"))
    if form.validate_on_submit():
        response = run_step(visit, form, "portal/code.html", done, signing_in=False)
        if response is not None:
            return response
    return render_form("portal/code.html", form, **step_context(visit), changing=True,
                       action=request.path)
