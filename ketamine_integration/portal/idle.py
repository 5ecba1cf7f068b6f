"""The portal page's idle timer (static/portal_idle.js): how long the session has left, "Stay signed
in", and signing out when the limit is reached, so that nothing private stays on the screen.

At the limit the script replaces the page at once, then posts to `timed_out`: the session ends
(reason idle, audited as the server's own expiry is) and the text of a form the patient had changed
on a page that keeps text (portal/recovery.py) is kept and offered back after signing in, as a form
submitted after the server's timeout is. The script keeps nothing in the browser but the time the
session ends (shared by the portal's tabs, so one in use keeps the others open).
"""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, request, url_for

from ..audit import services as audit
from ..db.types import utcnow
from ..web import access
from . import recovery
from .sessions import END_MESSAGES, current_visit, end_portal_session, seconds_left, touch

bp = Blueprint("portal_idle", __name__, url_prefix="/portal")

#: the warning comes this long before the limit ("You will be signed out in 1 minute")
WARN_SECONDS = 60
#: fields of the timer's post that are not the form's own
TIMER_FIELDS = ("csrf_token", "page", "kept_for")


@bp.app_template_global("portal_seconds_left")
def page_seconds_left() -> int:
    """For templates/portal/base.html: the signed-in session's seconds left as this page is sent."""
    visit = current_visit()
    return seconds_left(visit.row, utcnow()) if visit is not None and visit.signed_in else 0


@bp.route("/keep-alive", methods=["POST"])
@access.portal_page
def keep_alive():
    """ "Stay signed in": the session's activity is now; the script learns the seconds it has left."""
    return jsonify(seconds_left=touch(current_visit()))


@bp.route("/timed-out", methods=["POST"])
@access.public
def timed_out():
    """The page's timer reached the limit. The session ends (if the server had not ended it already:
    the page's clock counts, since the page is what stays on screen); a changed form's text is kept."""
    visit = current_visit()  # a session the server finds idle too is ended here, audited, with its message
    account_id = g.get("portal_timed_out_account")
    if visit is not None:
        account_id = visit.account.id if visit.signed_in else None
        audit.record("portal.session_expired", object_type="portal_session", object_id=visit.row.id,
                     patient_id=visit.account.patient_id, portal_account_id=visit.account.id,
                     detail="idle (the page's timer)")
        end_portal_session(visit, "idle")
    target = request.form.get("kept_for", "")
    kept = account_id is not None and recovery.recoverable_path(target) and recovery.keep(
        account_id, target, {k: v for k, v in request.form.lists() if k not in TIMER_FIELDS})
    flash(g.pop("portal_end_message", None) or END_MESSAGES["idle"], "info")
    if kept:
        flash("What you wrote is kept: sign in and it will be offered back on the same page.", "info")
    page = target if kept else request.form.get("page", "")
    return redirect(url_for("portal_sign_in.sign_in", next=page if page.startswith("/portal/") else None))
