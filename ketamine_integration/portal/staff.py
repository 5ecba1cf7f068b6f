"""The clinic's side of portal invitations, from the patient page: invite, send again, revoke.
Staff may for any patient, a therapist for their care-team patients (patients.access.load_patient)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from ..audit import services as audit
from ..db.errors import DomainError
from ..db.types import utcnow
from ..extensions import db
from ..patients.access import load_patient
from ..web import access
from . import invitations

bp = Blueprint("portal_invites", __name__)

#: action -> (service, audit action, what the page says when done)
ACTIONS = {
    "invite": (invitations.invite, "portal.invite", "Invitation sent to {email}; the link works for 72 hours."),
    "resend": (invitations.resend, "portal.invite_resend",
               "A new invitation was sent to {email}; the earlier link no longer works."),
    "revoke": (invitations.revoke, "portal.invite_revoke", "Invitation revoked: its link no longer works."),
}


def _act(patient_id: int, name: str):
    patient = load_patient(patient_id)
    operation, action, message = ACTIONS[name]
    try:
        with db.session.begin_nested():
            invitation = operation(patient, by=current_user._get_current_object(), now=utcnow())
    except DomainError as err:
        audit.record(action, object_type="patient", object_id=patient.id, patient_id=patient.id,
                     outcome=audit.FAILURE, detail="refused")
        flash("Not done: " + " ".join(err.reasons.values()), "error")
    else:
        audit.record(action, obj=invitation, patient_id=patient.id)
        flash(message.format(email=invitation.email), "success")
    return redirect(url_for("patients.patient_detail", patient_id=patient.id) + "#portal-heading")


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
