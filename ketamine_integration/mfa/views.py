"""Two-step sign-in pages: the code step, enrolment, one's own settings, the admin's reset and policy."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..accounts import throttle
from ..accounts.views import limited_answer
from ..accounts.models import ROLES, User
from ..accounts.sessions import (AFTER_SIGN_IN_KEY, CODE_DUE, ENROL_DUE, complete_sign_in, count_code_failure,
                                 current_login_session, pending_sign_in, require_code_instead)
from ..audit import services as audit
from ..db.types import utcnow
from ..db.errors import DomainError
from ..extensions import db
from ..db.locking import lock_row
from ..web.forms import render_form, safe_next, submit
from . import services
from .forms import PolicyForm, ResetAuthenticatorForm, SignInCodeForm, TotpForm
from .services import CodeRefused

bp = Blueprint("mfa", __name__)


def _throttle_keys(user: User) -> dict[str, str]:
    """The sign-in counts a code step adds to: the account's and this address's (throttle.py)."""
    return throttle.keys_for(user.username, request.remote_addr)


def _code_step_limited(user: User, form, template: str, /, **context):
    """The code step is a sign-in attempt too: while the account's or the address's failed
    sign-ins are over their limit, no code is checked (or the sign-ins opened beforehand would
    each buy fresh guesses). None to go on, else the 429 answer with Retry-After."""
    now = utcnow()
    try:
        throttle.admit(_throttle_keys(user), now)
        return None
    except throttle.SignInLimited as limited:
        audit.record("login.limited", obj=user, user_id=user.id, outcome=audit.DENIED,
                     detail=f"code step: too many failed sign-ins from this {limited.scope}")
        return limited_answer(form, limited, now, template, **context)


def _finish_sign_in(pending, detail: str) -> str:
    """Complete a pending sign-in; returns where to go next."""
    target = safe_next(session.get(AFTER_SIGN_IN_KEY), url_for("home.home"))
    throttle.forget_account(_throttle_keys(pending.user))  # both steps passed: the account's count ends
    complete_sign_in(pending)
    audit.record("login.mfa_success", obj=pending.user, user_id=pending.user.id, detail=detail)
    audit.record("login.success", obj=pending.user, user_id=pending.user.id)
    return target


def _checked(form, action: str, user: User, check, *, back: str | None = None, signing_in: bool = False):
    """Run a code check for `user` under their login session's row lock. A refused code is
    counted against the session (5 end it) and, while `signing_in`, as a failed sign-in of the
    account and address (so the password step is limited once they reach their limits, and
    starting over buys no fresh guesses); it is audited, and answered with a redirect back, so
    the counts commit with the request: a 4xx would roll them back (lifecycle.py). Returns
    (done, result, response): response is set when the view must answer with it."""
    login_session = current_login_session()
    lock_row(login_session)  # concurrent guesses take turns and each sees the others' count
    try:
        with db.session.begin_nested():
            return True, check(), None
    except CodeRefused as refused:
        if signing_in:
            throttle.record_failure(_throttle_keys(user), utcnow())
        left = count_code_failure(login_session)
        detail = f"{refused.why}; {left} tries left" if left else f"{refused.why}; too many wrong codes, session ended"
        audit.record(action, obj=user, user_id=user.id, outcome=audit.FAILURE, detail=detail)
        if not left:
            flash("Too many wrong codes; please sign in again.", "error")
            return False, None, redirect(url_for("accounts.login"))
        flash(f"{refused.reasons['code']} ({left} {'try' if left == 1 else 'tries'} left)", "error")
        return False, None, redirect(back or request.path)
    except DomainError as err:
        err.apply_to(form)
        return False, None, None


@bp.route("/login/code", methods=["GET", "POST"])
@access.during_sign_in
def code():
    pending = pending_sign_in()
    if pending is None:
        return redirect(url_for("home.home"))
    if pending.stage != CODE_DUE:
        return redirect(url_for(access.SECOND_STEP_PAGES[pending.stage]))
    form = SignInCodeForm()
    if form.validate_on_submit():
        limited = _code_step_limited(pending.user, form, "mfa/code.html", user=pending.user)
        if limited is not None:
            return limited
        done, accepted, response = _checked(form, "login.mfa_failure", pending.user,
                                            lambda: services.check_code(pending.user, form.code.data, utcnow()),
                                            signing_in=True)
        if response is not None:
            return response
        if done:
            recovery = accepted.kind == "recovery code"
            target = _finish_sign_in(pending, f"recovery code; {accepted.recovery_left} left" if recovery
                                     else accepted.kind)
            if recovery:  # after _finish_sign_in: starting the signed-in session clears the old one
                flash(f"Signed in with a recovery code. {accepted.recovery_left} recovery codes left; "
                      "make new ones from Two-step sign-in when you run low.",
                      "info" if accepted.recovery_left > 2 else "error")
            return redirect(target)
    elif form.is_submitted():
        audit.record("login.mfa_failure", obj=pending.user, user_id=pending.user.id, outcome=audit.FAILURE,
                     detail="not a code (not counted)")
    return render_form("mfa/code.html", form, user=pending.user)


@bp.route("/account/two-step/enrol", methods=["GET", "POST"])
@access.during_sign_in
def enrol():
    pending = pending_sign_in()
    if pending is not None and pending.stage != ENROL_DUE:
        return redirect(url_for(access.SECOND_STEP_PAGES[pending.stage]))
    user = pending.user if pending is not None else current_user._get_current_object()
    if services.is_enrolled(user.id):
        if pending is None:
            return redirect(url_for("mfa.overview"))
        # Enrolled in another tab meanwhile: this sign-in now needs a code (the settings page
        # would send a half-signed-in session straight back here, round and round).
        require_code_instead(pending)
        return redirect(url_for("mfa.code"))
    form = TotpForm()
    if form.validate_on_submit():
        if pending is not None:
            limited = _code_step_limited(user, form, "mfa/enrol.html", offer=services.begin_enrolment(user),
                                         user=user, during_sign_in=True)
            if limited is not None:
                return limited
        done, codes, response = _checked(form, "mfa.enrol", user,
                                         lambda: services.confirm_enrolment(user, form.code.data, utcnow()),
                                         signing_in=pending is not None)
        if response is not None:
            return response
        if done:
            audit.record("mfa.enrol", obj=user, user_id=user.id)
            target = url_for("mfa.overview")
            if pending is not None:
                target = _finish_sign_in(pending, "enrolled an authenticator")
            return render_template("mfa/recovery_codes.html", codes=codes, next_url=target, enrolled=True)
    elif form.is_submitted():
        audit.record("mfa.enrol", obj=user, user_id=user.id, outcome=audit.FAILURE, detail="not a code")
    offer = services.begin_enrolment(user)
    return render_form("mfa/enrol.html", form, offer=offer, user=user, during_sign_in=pending is not None)


@bp.route("/account/two-step")
@access.permission("account.own")
def overview():
    return _overview_page(current_user._get_current_object())


@bp.route("/account/two-step/recovery-codes", methods=["POST"])
@access.permission("account.own")
def regenerate():
    def show(codes):
        return render_template("mfa/recovery_codes.html", codes=codes, next_url=url_for("mfa.overview"))
    return _confirmed_by_code("regenerate", "mfa.recovery_codes", services.regenerate_recovery_codes, show)


@bp.route("/account/two-step/turn-off", methods=["POST"])
@access.permission("account.own")
def turn_off():
    def done(_):
        flash("Two-step sign-in is off for your account.", "success")
        return redirect(url_for("mfa.overview"))
    return _confirmed_by_code("off", "mfa.turn_off", services.turn_off, done)


def _confirmed_by_code(prefix: str, action: str, operation, on_done):
    """A change to one's own two-step settings that a current code confirms: `operation(user,
    code, now)` runs under _checked's counting; `on_done(result)` answers a success. A refused
    form is shown again on the settings page (the form is passed as `<prefix>_form`)."""
    user = current_user._get_current_object()
    form = TotpForm(prefix=prefix)
    if form.validate_on_submit():
        done, result, response = _checked(form, action, user, lambda: operation(user, form.code.data, utcnow()),
                                          back=url_for("mfa.overview"))
        if response is not None:
            return response
        if done:
            audit.record(action, obj=user, user_id=user.id)
            return on_done(result)
    audit.record(action, obj=user, user_id=user.id, outcome=audit.FAILURE, detail="refused")
    return _overview_page(user, **{f"{prefix}_form": form})


def _overview_page(user: User, **forms):
    """One's own two-step settings; with a refused form (422) when one is given."""
    context = dict(enrolled=services.is_enrolled(user.id), required=services.mfa_required(user),
                   recovery_left=services.recovery_codes_left(user.id),
                   regenerate_form=TotpForm(prefix="regenerate", formdata=None),
                   off_form=TotpForm(prefix="off", formdata=None))
    context.update(forms)
    return render_template("mfa/overview.html", **context), 422 if forms else 200


@bp.route("/users/<id:user_id>/authenticator-reset", methods=["GET", "POST"])
@access.permission("users.manage")
def reset(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ResetAuthenticatorForm()
    done, _ = submit(form, lambda: services.reset_authenticator(user, by=current_user._get_current_object()))
    if done:
        audit.record("user.mfa_reset", obj=user, detail=form.reason.data.strip())
        flash(f"Authenticator reset for {user.username}; they set up a new one at their next sign-in.", "success")
        return redirect(url_for("accounts.user_list"))
    if form.is_submitted():
        audit.record("user.mfa_reset", obj=user, outcome=audit.FAILURE, detail="refused")
    return render_form("mfa/reset.html", form, user=user, enrolled=services.is_enrolled(user.id))


@bp.route("/settings/two-step", methods=["GET", "POST"])
@access.permission("users.manage")
def policy():
    required = services.required_roles()
    form = PolicyForm(roles=[r for r in ROLES if r in required]) if request.method == "GET" else PolicyForm()
    done, _ = submit(form, lambda: services.set_required_roles(form.roles.data,
                                                               by=current_user._get_current_object()))
    if done:
        audit.record("settings.mfa", detail="required for: " + (", ".join(form.roles.data) or "no role"))
        flash("Saved. It applies from each user's next sign-in.", "success")
        return redirect(url_for("mfa.policy"))
    if form.is_submitted():
        audit.record("settings.mfa", outcome=audit.FAILURE, detail="refused")
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    return render_form("mfa/policy.html", form, users=users, enrolled_ids=services.enrolled_user_ids(),
                       required=required)
