"""The clinic's side of the portal, from the patient page: invite, send again, revoke; and for an
accepted account (portal/manage.py) turn it off (after a confirmation page) or on again, send a
reset link or cancel it. Staff may for any patient, a therapist for their care-team patients
(patients.access.load_patient); permission portal.invite throughout."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from ..audit import services as audit
from ..db.errors import DomainError
from ..db.types import utcnow
from ..extensions import db
from ..patients.access import load_patient
from ..web import access
from ..web.forms import render_form, submit
from . import invitations, manage
from .forms import TurnOffForm

bp = Blueprint("portal_invites", __name__)

#: action -> (service, audit action, what the page says when done)
ACTIONS = {
    "invite": (invitations.invite, "portal.invite", "Invitation sent to {email}; the link works for 72 hours."),
    "resend": (invitations.resend, "portal.invite_resend",
               "A new invitation was sent to {email}; the earlier link no longer works."),
    "revoke": (invitations.revoke, "portal.invite_revoke", "Invitation revoked: its link no longer works."),
    "turn_on": (manage.turn_on, "portal.turn_on",
                "Portal account turned on again: {email} signs in with their password and second step as before."),
    "reset": (manage.send_reset, "portal.reset",
              "A reset link was sent to {email}; it works once, for 72 hours. The current password works until "
              "the patient uses it."),
    "reset_cancel": (manage.cancel_reset, "portal.reset_cancel",
                     "Reset link cancelled: it no longer works; the password and second step are unchanged."),
}


def _act(patient_id: int, name: str):
    patient = load_patient(patient_id)
    operation, action, message = ACTIONS[name]
    try:
        with db.session.begin_nested():
            done = operation(patient, by=current_user._get_current_object(), now=utcnow())
    except DomainError as err:
        audit.record(action, object_type="patient", object_id=patient.id, patient_id=patient.id,
                     outcome=audit.FAILURE, detail="refused")
        flash("Not done: " + " ".join(err.reasons.values()), "error")
    else:
        audit.record(action, obj=done, patient_id=patient.id)  # the link, or the account turned on
        flash(message.format(email=done.email), "success")
    return redirect(_card(patient.id))


def _card(patient_id: int) -> str:
    return url_for("patients.patient_detail", patient_id=patient_id) + "#portal-heading"


@bp.route("/patients/<id:patient_id>/portal/invite", methods=["POST"])
@access.permission("portal.invite")
def invite(patient_id: int):
    return _act(patient_id, "invite")


@bp.route("/patients/<id:patient_id>/portal/resend", methods=["POST"])
@access.permission("portal.invite")
def resend(patient_id: int):
    return _act(patient_id, "resend")


@bp.route("/patients/<id:patient_id>/portal/revoke", methods=["POST"])
@access.permission("portal.invite")
def revoke(patient_id: int):
    return _act(patient_id, "revoke")


@bp.route("/patients/<id:patient_id>/portal/turn-off", methods=["GET", "POST"])
@access.permission("portal.invite")
def turn_off(patient_id: int):
    """A page to confirm turning the account off, with why; the account stops working on submit."""
    patient = load_patient(patient_id)
    status = invitations.portal_status(patient.id, utcnow())
    form = TurnOffForm()
    done, account = submit(form, lambda: manage.turn_off(patient, by=current_user._get_current_object(),
                                                         why=form.why.data, now=utcnow()))
    if done:
        audit.record("portal.turn_off", obj=account, patient_id=patient.id)
        flash("Portal account turned off: its open sessions have ended and signing in is refused until it is "
              "turned on again.", "success")
        return redirect(_card(patient.id))
    if form.is_submitted():
        audit.record("portal.turn_off", object_type="patient", object_id=patient.id, patient_id=patient.id,
                     outcome=audit.FAILURE, detail="refused")
    else:
        audit.record("portal.turn_off_view", obj=patient, patient_id=patient.id)
    return render_form("portal/turn_off.html", form, patient=patient, portal=status)


@bp.route("/patients/<id:patient_id>/portal/turn-on", methods=["POST"])
@access.permission("portal.invite")
def turn_on(patient_id: int):
    return _act(patient_id, "turn_on")


@bp.route("/patients/<id:patient_id>/portal/reset", methods=["POST"])
@access.permission("portal.invite")
def reset(patient_id: int):
    return _act(patient_id, "reset")


@bp.route("/patients/<id:patient_id>/portal/reset/cancel", methods=["POST"])
@access.permission("portal.invite")
def reset_cancel(patient_id: int):
    return _act(patient_id, "reset_cancel")
