"""The code step every portal page with a code shares (signing in, enrolling a factor, switching
it): the limits, the row lock, counting wrong codes, and what the page shows for each factor."""
from __future__ import annotations

from typing import Callable

from flask import flash, redirect, request, url_for

from ..accounts import throttle
from ..accounts.views import limited_answer
from ..audit import services as audit
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..db.types import utcnow
from ..extensions import db
from . import factors
from .accounts import throttle_keys
from .models import EMAIL_CODE, TOTP
from .sessions import PortalVisit, end_portal_session


def step_context(visit: PortalVisit) -> dict:
    """What the code page shows: the QR code while enrolling an app; for emailed codes, the address
    (a code is sent on the first visit of the step)."""
    factor = factors.factor_of(visit.row, visit.account)
    context = {"factor": factor, "email": visit.account.email, "enrolling": visit.row.enrolling}
    if factor == TOTP and visit.row.enrolling == TOTP:
        context["offer"] = factors.offer_authenticator(visit.row, visit.account)
    if factor == EMAIL_CODE and visit.row.email_codes_sent == 0:
        try:
            factors.send_email_code(visit.row, visit.account, utcnow())
        except DomainError as err:
            flash(" ".join(err.reasons.values()), "error")
    return context


def run_step(visit: PortalVisit, form, template: str, on_done: Callable[[str], object], *, signing_in: bool):
    """Check the submitted code; `on_done(factor)` answers an accepted one. A refused code counts
    against the session (5 end it) and, while signing in, as a failed sign-in of the account and
    address; it is answered with a redirect back so the counts commit. None: show the page."""
    now = utcnow()
    keys = throttle_keys(visit.account.email, request.remote_addr)
    if signing_in:
        try:
            throttle.admit(keys, now)
        except throttle.SignInLimited as limited:
            audit.record("portal.code_failure", outcome=audit.DENIED, patient_id=visit.account.patient_id,
                         portal_account_id=visit.account.id, detail="too many failed sign-ins")
            return limited_answer(form, limited, now, template, **step_context(visit))
    lock_row(visit.row)
    try:
        with db.session.begin_nested():
            factor = factors.check_step(visit.row, visit.account, form.code.data, now)
    except factors.CodeRefused as refused:
        if signing_in:
            throttle.record_failure(keys, now)
        left = factors.count_failure(visit.row)
        audit.record("portal.code_failure", outcome=audit.FAILURE, patient_id=visit.account.patient_id,
                     portal_account_id=visit.account.id, detail=f"{refused.why}; {left} tries left")
        if not left:
            end_portal_session(visit, "code_failures")
            flash("Too many wrong codes; please sign in again.", "error")
            return redirect(url_for("portal_sign_in.sign_in"))
        flash(f"{refused.reasons['code']} ({left} {'try' if left == 1 else 'tries'} left)", "error")
        return redirect(request.path)
    if signing_in:
        throttle.forget_account(keys)
    return on_done(factor)
