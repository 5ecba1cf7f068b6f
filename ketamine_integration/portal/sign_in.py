"""The portal's way in: accepting an invitation, signing in, the second step (a code, or enrolling a
factor first) and signing out. Separate from staff sign-in: its own pages, session and cookie key."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from ..accounts.throttle import SignInLimited
from ..accounts.views import limited_answer
from ..audit import services as audit
from ..db.errors import DomainError
from ..db.types import utcnow
from ..web import access
from ..web.forms import INVALID_FORM_STATUS, render_form, safe_next
from ..web.lifecycle import commit_refusal
from . import accounts, factors, invitations
from .forms import AcceptForm, FactorChoiceForm, PortalCodeForm, PortalSignInForm
from .models import CODE_DUE, EMAIL_CODE, ENROL_DUE, RESET, SIGNED_IN, TOTP
from .sessions import (AFTER_SIGN_IN_KEY, STEP_PAGES, PortalVisit, complete_portal_sign_in, current_visit,
                       end_portal_session, start_portal_session)
from .steps import run_step, step_context

bp = Blueprint("portal_sign_in", __name__, url_prefix="/portal")
#: the second step, as the patient is told once it is set up (the account page says it the same way)
FACTOR_WORDS = {TOTP: "a code from your authenticator app", EMAIL_CODE: "a code sent to your email"}
#: a right password for an account the clinic turned off
FORBIDDEN = 403


def _portal_target(target: str | None) -> str:
    """Where to go once signed in: a portal page only (never a staff page, never off the site)."""
    home = url_for("portal.home")
    target = safe_next(target, home)
    return target if target.startswith("/portal/") else home


@bp.route("/sign-in", methods=["GET", "POST"])
@access.public
def sign_in():
    visit = current_visit()
    if visit is not None and visit.signed_in:
        return redirect(url_for("portal.home"))
    if visit is not None and request.method == "GET":
        return redirect(url_for(STEP_PAGES[visit.stage]))
    form = PortalSignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        now = utcnow()
        try:
            stage = accounts.authenticate(form.email.data, form.password.data, address=request.remote_addr, now=now)
        except SignInLimited as limited:
            form.password.data = ""
            return limited_answer(form, limited, now, "portal/sign_in.html")
        except accounts.AccountNotActive as off:
            form.form_errors.extend(off.reasons.values())
            form.password.data = ""
            commit_refusal(FORBIDDEN)  # its audit row stays
            return render_template("portal/sign_in.html", form=form), FORBIDDEN
        if stage is not None:
            session[AFTER_SIGN_IN_KEY] = _portal_target(form.next.data)
            return redirect(url_for(STEP_PAGES[stage]))
        form.form_errors.append("The email address or password is not right, or the account is not active yet.")
        form.password.data = ""
        commit_refusal(INVALID_FORM_STATUS)  # the failure must count before the next attempt
    elif form.is_submitted():
        audit.record("portal.sign_in_failure", outcome=audit.FAILURE, detail="incomplete or over-long form")
    return render_form("portal/sign_in.html", form)


@bp.route("/accept/<token>", methods=["GET", "POST"])
@access.public
def accept(token: str):
    now = utcnow()
    invitation, state = invitations.invitation_for(token, now=now)
    if state != "pending":
        return _dead_link(state)
    form = AcceptForm()
    if form.validate_on_submit():
        try:
            account = invitations.accept(token, form.password.data, form.factor.data, now=now)
        except invitations.DeadLink as dead:
            return _dead_link(dead.state)
        except DomainError as err:
            err.apply_to(form)
        else:
            audit.record("portal.reset_use" if invitation.purpose == RESET else "portal.accept", obj=invitation,
                         patient_id=account.patient_id, portal_account_id=account.id)
            start_portal_session(account, ENROL_DUE, enrolling=form.factor.data)
            session[AFTER_SIGN_IN_KEY] = url_for("portal.home")
            return redirect(url_for("portal_sign_in.enrol"))
    return render_form("portal/accept.html", form, email=invitation.email, token=token,
                       resetting=invitation.purpose == RESET)


def _dead_link(state: str | None):
    """A link that no longer works: a clear page, nothing changed (404 for one never issued)."""
    return render_template("portal/dead_link.html", message=invitations.rules.DEAD_LINK_WORDS[state]), \
        404 if state is None else 410


def _finish(visit: PortalVisit, factor: str, *, enrolled: bool):
    complete_portal_sign_in(visit)
    if enrolled:
        audit.record("portal.enrol", obj=visit.account, patient_id=visit.account.patient_id, detail=factor)
    audit.record("portal.sign_in", obj=visit.account, patient_id=visit.account.patient_id, detail=factor)
    target = _portal_target(session.pop(AFTER_SIGN_IN_KEY, None))
    flash("You are signed in." if not enrolled else f"All set: from now on you confirm each sign-in with "
          f"{FACTOR_WORDS.get(factor, 'the second step you chose')}.", "success")
    return redirect(target)


@bp.route("/code", methods=["GET", "POST"])
@access.portal_sign_in
def code():
    visit = current_visit()
    if visit.stage != CODE_DUE:
        return redirect(url_for(STEP_PAGES[visit.stage]) if visit.stage in STEP_PAGES else url_for("portal.home"))
    form = PortalCodeForm()
    if form.validate_on_submit():
        response = run_step(visit, form, "portal/code.html", lambda f: _finish(visit, f, enrolled=False),
                            signing_in=True)
        if response is not None:
            return response
    return render_form("portal/code.html", form, **step_context(visit))


@bp.route("/enrol", methods=["GET", "POST"])
@access.portal_sign_in
def enrol():
    visit = current_visit()
    if visit.stage != ENROL_DUE:
        return redirect(url_for(STEP_PAGES[visit.stage]) if visit.stage in STEP_PAGES else url_for("portal.home"))
    if visit.row.enrolling is None:  # nothing chosen yet (an account the clinic set up): choose first
        return render_template("portal/choose_factor.html", form=FactorChoiceForm(),
                               action=url_for("portal_sign_in.enrol_choose"))
    form = PortalCodeForm()
    if form.validate_on_submit():
        response = run_step(visit, form, "portal/code.html", lambda f: _finish(visit, f, enrolled=True),
                            signing_in=True)
        if response is not None:
            return response
    return render_form("portal/code.html", form, **step_context(visit))


@bp.route("/enrol/choose", methods=["POST"])
@access.portal_sign_in
def enrol_choose():
    """Choose (or change) the factor to set up while enrolling."""
    visit = current_visit()
    if visit.stage != ENROL_DUE:
        return redirect(url_for("portal.home") if visit.stage == SIGNED_IN else url_for(STEP_PAGES[visit.stage]))
    form = FactorChoiceForm()
    if not form.validate_on_submit():
        return render_form("portal/choose_factor.html", form, action=url_for("portal_sign_in.enrol_choose"))
    visit.row.enrolling = form.factor.data
    return redirect(url_for("portal_sign_in.enrol"))


@bp.route("/code/new", methods=["POST"])
@access.portal_sign_in
def new_code():
    """Email another code (the last one stops working), within the session's limits."""
    visit = current_visit()
    back = url_for(STEP_PAGES[visit.stage] if visit.stage in STEP_PAGES else "portal.factor_confirm")
    if factors.factor_of(visit.row, visit.account) != EMAIL_CODE:
        return redirect(back)
    try:
        factors.send_email_code(visit.row, visit.account, utcnow())
        flash(f"A new code is on its way to {visit.account.email}.", "success")
    except DomainError as err:
        flash(" ".join(err.reasons.values()), "error")
    return redirect(back)


@bp.route("/sign-out", methods=["POST"])
@access.portal_sign_in
def sign_out():
    visit = current_visit()
    audit.record("portal.sign_out", obj=visit.account, patient_id=visit.account.patient_id,
                 portal_account_id=visit.account.id)
    end_portal_session(visit, "sign_out")
    flash("You have been signed out.", "info")
    return redirect(url_for("portal_sign_in.sign_in"))
