"""The clinic tablet (issue 26, point 3): staff start an in-clinic signing on the course's forms page and
hand the device to the patient, who signs the forms of their packet left to sign, and nothing else.

Handing over ends the staff member's session on the device (and any portal session it held): the
browser then holds only the signing's token, in the cookie session under TABLET_KEY (the server keeps
its SHA-256, signed_forms.services). While that token names a live signing, `check` (web/access.py asks
it first, for every request) lets through the @tablet_page views and the stylesheet only: any other
page's GET is sent to the tablet's list of forms, anything else is 403, each refusal audited; nothing of
the page asked for is read. The signing ends when the patient presses "Done: return the tablet to the
clinic", when staff end it, or 30 minutes after it started; the device then shows a page with nothing
of the patient on it, and is an ordinary signed-out browser again. Signatures made here are in-clinic
signatures witnessed by the staff member who started the signing.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from ..accounts.sessions import end_current_session
from ..audit import services as audit
from ..signed_forms import services as signed_forms
from ..signed_forms.page_forms import ButtonForm
from ..web import access
from ..web.forms import INVALID_FORM_STATUS
from ..web.lifecycle import commit_refusal
from . import signing
from .sessions import current_visit, end_portal_session

bp = Blueprint("tablet", __name__, url_prefix="/tablet")

#: the cookie-session key of the tablet's token (never a staff or portal key: the three never mix)
TABLET_KEY = "tablet_token"
#: what the device shows once no signing is open on it
CLOSED = "tablet/closed.html"


def hand_over(token: str) -> None:
    """The device goes to the patient: the staff session on it ends (a staff member who started the
    signing signs in again to use it), as does a portal session it held; it keeps only the token."""
    end_portal_session(current_visit(), "sign_out")
    end_current_session("logout")  # clears the whole cookie session: the staff keys and the portal's
    session[TABLET_KEY] = token


def current_signing():
    """The live in-clinic signing this browser holds the token of, or None (once per request). A token
    whose signing has ended is dropped from the cookie; one whose 30 minutes are over ends its signing
    (expired, audited) first, and durably: the request that finds it is refused."""
    if "tablet_signing" in g:
        return g.tablet_signing
    token = session.get(TABLET_KEY)
    g.tablet_signing = signed_forms.tablet_signing_for(token) if token else None
    if token and g.tablet_signing is None:
        session.pop(TABLET_KEY, None)
        if signed_forms.expire_tablet_signing(token) is not None:
            commit_refusal(403)  # the refusal below (or the closed page) must not roll the ending back
        # how it ended, for the closed page (once: the token is gone from the cookie after this request)
        g.tablet_ended = signed_forms.ended_tablet_signing(token)
    return g.tablet_signing


def check(tablet_page: bool):
    """web/access.py's first question: None lets the request go on to its endpoint's rule."""
    if not tablet_page and TABLET_KEY not in session:
        return None  # the usual case: no tablet token, nothing to read
    signing_now = current_signing()
    if tablet_page:
        return None if signing_now is not None else _closed()
    if signing_now is None or request.endpoint == "static":
        return None
    audit.denial(f"the clinic tablet opens its signing pages only, not {request.endpoint}",
                 patient_id=signing_now.patient_id)
    if request.method == "GET":
        return redirect(url_for("tablet.forms"))
    abort(403)


def _closed(status: int = 403):
    """The page of a device with no signing open (ended, expired, or never started here): how it ended when
    this request found it ended, and staff sign in back to that course's forms page."""
    ended = g.get("tablet_ended")
    return render_template(CLOSED, ended=False, ended_reason=ended.ended_reason if ended else None,
                           sign_in=_staff_sign_in(ended.course_id if ended else None)), status


def _staff_sign_in(course_id: int | None) -> str:
    """Staff sign in again on the device, and go on to the course's forms page (the login page keeps only a
    local path as its next, web.forms.safe_next)."""
    if course_id is None:
        return url_for("accounts.login")
    return url_for("accounts.login", next=url_for("signed_forms.packet", course_id=course_id))


def _packet(signing_now):
    return signed_forms.packet_status(signing_now.course)


@bp.route("/")
@access.tablet_page
def forms():
    """The patient's forms left to sign, and "Done"."""
    signing_now = current_signing()
    status = _packet(signing_now)
    left = signing.left_to_sign(status)
    audit.record("forms.tablet_view", obj=signing_now.course, patient_id=signing_now.patient_id,
                 detail=f"in-clinic signing {signing_now.id}: {len(left)} to sign")
    return render_template("tablet/list.html", signing=signing_now, left=left, status=status,
                           words=signing.STATE_WORDS, done_form=ButtonForm())


@bp.route("/forms/<form_id>", methods=["GET", "POST"])
@access.tablet_page
def sign(form_id: str):
    signing_now = current_signing()
    course = signing_now.course
    item = signing.item_to_sign(_packet(signing_now), form_id)
    if item is None:
        flash("That form is not waiting for a signature.", "info")
        return redirect(url_for("tablet.forms"))
    form = signing.answer_form(item)
    if form.is_submitted():
        done, signed = signing.sign(course, item, form, method="in_clinic", witness=signing_now.started_by)
        if done:  # audited by the service (forms.sign)
            flash(f"Thank you: “{signed.title}” is signed.", "success")
            return redirect(url_for("tablet.forms"))
        if not form.adding_rows:  # more medication rows asked for: nothing was refused
            audit.record("forms.sign", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                         detail=f"{form_id} refused, in-clinic signing {signing_now.id}"[:200])
        return _sign_page(signing_now, item, form), (200 if form.adding_rows else INVALID_FORM_STATUS)
    audit.record("forms.tablet_view", obj=course, patient_id=course.patient_id,
                 detail=f"{form_id[:60]}, in-clinic signing {signing_now.id}")
    return _sign_page(signing_now, item, form)


def _sign_page(signing_now, item, form) -> str:
    return render_template("tablet/sign.html", signing=signing_now, item=item, form=form,
                           patient_name=signing_now.course.patient.full_name)


@bp.route("/done", methods=["POST"])
@access.tablet_page
def done():
    """ "Done: return the tablet to the clinic": the signing ends and the device shows nothing of the patient."""
    signing_now = current_signing()
    if not ButtonForm().validate_on_submit():
        abort(400)
    signed_forms.end_tablet_signing(signing_now, reason="completed")  # audited by the service (forms.tablet_end)
    session.pop(TABLET_KEY, None)
    return render_template(CLOSED, ended=True, sign_in=_staff_sign_in(signing_now.course_id))
