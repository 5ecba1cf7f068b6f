"""The home page each role lands on, and the health check for load balancers."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from .. import access
from ..accounts.models import CLINICAL_ROLES
from ..audit import services as audit
from ..extensions import db
from ..patients.access import caseload, sees_all_patients
from ..patients.models import Patient

bp = Blueprint("core", __name__)

RECENT_LIMIT = 10


@bp.route("/")
@access.signed_in
def home():
    active = select(Patient).where(Patient.archived_at.is_(None))
    my_patients = []
    if current_user.has_role(*CLINICAL_ROLES):
        # Clinicians' own caseload, even when they also hold a staff role.
        my_patients = db.session.scalars(
            caseload(current_user, active)
            .order_by(Patient.family_name, Patient.given_name).limit(200)).all()
    recent, total = [], None
    if sees_all_patients(current_user):
        recent = db.session.scalars(active.order_by(Patient.created_at.desc()).limit(RECENT_LIMIT)).all()
        total = db.session.scalar(select(func.count()).select_from(active.subquery()))
    if my_patients or recent:
        audit.record("patient.list", detail=f"home page; {len(my_patients) + len(recent)} shown")
    return render_template("core/home.html", my_patients=my_patients, recent=recent, total=total)


@bp.route("/healthz")
@access.public
def healthz():
    """Liveness and database reachability, with no data in the answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")
