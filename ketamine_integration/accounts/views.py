"""Sign-in, sign-out, and the admin's user management pages."""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..audit import services as audit
from ..db.types import utcnow
from ..domain.throttling import wait_text
from ..extensions import db
from ..web.lifecycle import commit_refusal
from ..web.forms import INVALID_FORM_STATUS, render_form, safe_next, submit
from . import second_step, services
from .forms import LoginForm, NewUserForm, PasswordResetForm, UserForm
from .models import PATIENT_DATA_ROLES, ROLE_LABELS, User
from .sessions import AFTER_SIGN_IN_KEY, SIGNED_IN, end_current_session, pending_sign_in
from .throttle import ACCOUNT, TOO_MANY_REQUESTS, SignInLimited

bp = Blueprint("accounts", __name__)

_GUARDED = [ROLE_LABELS[r] for r in PATIENT_DATA_ROLES]
#: beside the roles on an admin's own edit page: what services.update_user refuses there, said before saving
OWN_ROLES_HINT = ("Your own account: you cannot give yourself the "
                  + ", ".join(_GUARDED[:-1]) + " or " + _GUARDED[-1]
                  + " role (they read patient records; another admin must grant them), remove your admin role "
                  "or disable yourself.")



@bp.route("/login", methods=["GET", "POST"])
@access.public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    pending = pending_sign_in()
    if pending is not None and request.method == "GET":
        return redirect(url_for(access.SECOND_STEP_PAGES[pending.stage]))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        now = utcnow()
        try:
            stage = services.authenticate(form.username.data, form.password.data,
                                          address=request.remote_addr, now=now)
        except SignInLimited as limited:
            return _limited(form, limited, now)
        if stage is not None:
            target = safe_next(form.next.data, url_for("home.home"))
            if stage == SIGNED_IN:
                return redirect(target)
            session[AFTER_SIGN_IN_KEY] = target
            return redirect(url_for(access.SECOND_STEP_PAGES[stage]))
        form.form_errors.append("Username or password is not correct, or the account is disabled.")
        form.password.data = ""
        commit_refusal(INVALID_FORM_STATUS)  # the failure must count before the next attempt
    elif form.is_submitted():
        audit.record("login.failure", outcome=audit.FAILURE, detail="incomplete or over-long form")
    return render_form("accounts/login.html", form)


def _limited(form: LoginForm, limited: SignInLimited, now):
    form.password.data = ""
    return limited_answer(form, limited, now, "accounts/login.html")


def limited_answer(form, limited: SignInLimited, now, template: str, /, **context):
    """A sign-in step refused by the limits (nothing was checked): 429 with Retry-After, the
    page saying why and how long to wait."""
    seconds = limited.seconds_left(now)
    source = "this account" if limited.scope == ACCOUNT else "this network address"
    form.form_errors.append(f"Too many failed sign-in attempts for {source}. Sign-in is paused: "
                            f"try again in {wait_text(seconds)}.")
    html, _ = render_form(template, form, **context)
    return html, TOO_MANY_REQUESTS, {"Retry-After": str(math.ceil(seconds))}


@bp.route("/logout", methods=["POST"])
@access.during_sign_in
def logout():
    pending = pending_sign_in()
    user = pending.user if pending is not None else current_user._get_current_object()
    audit.record("logout", obj=user, user_id=user.id)
    end_current_session("logout")
    flash("You have been signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/users/")
@access.permission("users.manage")
def user_list():
    users = db.session.scalars(select(User).order_by(User.active.desc(), User.full_name)).all()
    enrolled_ids = second_step.current().enrolled_user_ids()
    return render_template("accounts/user_list.html", users=users, enrolled_ids=enrolled_ids,
                           role_changes=services.fetch_role_changes(),
                           names={u.id: u.display_name for u in users})


def _user_fields(form) -> dict:
    return dict(username=form.username.data, full_name=form.full_name.data,
                credentials=form.credentials.data, email=form.email.data, phone=form.phone.data,
                licence_type=form.licence_type.data or None, licence_number=form.licence_number.data,
                roles=form.roles.data, active=form.active.data, video_room_url=form.video_room_url.data)


@bp.route("/users/new", methods=["GET", "POST"])
@access.permission("users.manage")
def user_create():
    form = NewUserForm()
    done, user = submit(form, lambda: services.create_user(password=form.password.data,
                                                           **_user_fields(form)))
    if done:
        audit.record("user.create", obj=user, detail=services.role_change_detail((), user.roles))
        flash(f"Created {user.username}.", "success")
        return redirect(url_for("accounts.user_list"))
    return render_form("accounts/user_form.html", form, title="New user")


@bp.route("/users/<id:user_id>/edit", methods=["GET", "POST"])
@access.permission("users.manage")
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user, roles=sorted(user.roles)) if request.method == "GET" else UserForm()
    done, role_change = submit(form, lambda: services.update_user(user, acting_user=current_user,
                                                                  **_user_fields(form)))
    if done:
        audit.record("user.update", obj=user, detail=role_change)
        flash(f"Saved {user.username}.", "success")
        return redirect(url_for("accounts.user_list"))
    if form.errors:
        # A refused edit (an admin giving themselves a clinical role, say) is worth seeing in the trail.
        audit.record("user.update", obj=user, outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(sorted(k or 'form' for k in form.errors))}"[:200])
    return render_form("accounts/user_form.html", form, title=f"Edit {user.username}", user=user,
                       roles_hint=OWN_ROLES_HINT if user.id == current_user.id else None)


@bp.route("/users/<id:user_id>/password", methods=["GET", "POST"])
@access.permission("users.manage")
def user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = PasswordResetForm()
    done, _ = submit(form, lambda: services.set_password(user, form.password.data))
    if done:
        audit.record("user.password_reset", obj=user)
        flash(f"Password changed for {user.username}; their sessions were ended.", "success")
        return redirect(url_for("accounts.user_list"))
    return render_form("accounts/password_form.html", form, user=user)
