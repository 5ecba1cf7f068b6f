"""The home page each role lands on, and the health check for load balancers."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import load_only

from .. import access
from ..accounts.models import CLINICAL_ROLES, THERAPIST
from ..audit import services as audit
from ..coordination.services import reports_due
from ..courses.models import TreatmentCourse
from ..courses.services import window_summaries
from ..db_types import utcnow
from ..notes.models import SessionNote
from ..notes.services import open_alerts
from ..scheduling.models import Appointment
from ..extensions import db
from ..patients.access import caseload, sees_all_patients
from ..patients.models import Patient

bp = Blueprint("core", __name__)

RECENT_LIMIT = 10
#: what the caseload table and the reports due read of each patient and course
CASELOAD_PATIENT_COLUMNS = (Patient.id, Patient.mrn, Patient.given_name, Patient.family_name, Patient.preferred_name)
CASELOAD_COURSE_COLUMNS = (TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.protocol_version_id,
                           TreatmentCourse.start_date, TreatmentCourse.therapist_id, TreatmentCourse.phase)


@bp.route("/")
@access.signed_in
def home():
    active = select(Patient).where(Patient.archived_at.is_(None))
    my_patients = []
    if current_user.has_role(*CLINICAL_ROLES):
        # Clinicians' own caseload, even when they also hold a staff role.
        # the columns a caseload row shows: a clinician's caseload is a hundred patients or so
        my_patients = db.session.scalars(
            caseload(current_user, active).options(load_only(*CASELOAD_PATIENT_COLUMNS))
            .order_by(Patient.family_name, Patient.given_name).limit(200)).all()
    recent, total = [], None
    if sees_all_patients(current_user):
        recent = db.session.scalars(active.order_by(Patient.created_at.desc()).limit(RECENT_LIMIT)).all()
        total = db.session.scalar(select(func.count()).select_from(active.subquery()))
    if my_patients or recent:
        audit.record("patient.list", detail=f"home page; {len(my_patients) + len(recent)} shown")
    alerts = open_alerts(p.id for p in my_patients)
    caseload_rows, due = _caseload(my_patients, alerts) if my_patients else ([], [])
    return render_template("core/home.html", my_patients=my_patients, recent=recent, total=total,
                           caseload_rows=caseload_rows, alerts=alerts, reports_due=due)


@dataclass(frozen=True)
class CaseloadRow:
    """One line of the clinician's caseload table."""

    patient: Patient
    course: TreatmentCourse | None
    #: the most urgent integration window, in a few words
    summary: str | None
    next: datetime | None
    alerts: int
    drafts: int


def _caseload(patients: list[Patient], alerts: list) -> tuple[list[CaseloadRow], list]:
    """Each patient's current course, phase, next session, window status, open alerts and the
    user's unsigned notes, and the reports due on the user's own courses: a constant number of
    queries however long the caseload (window statuses come from the stored open windows)."""
    now = utcnow()
    ids = [p.id for p in patients]
    courses = {}
    for course in db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id.in_(ids))
                                     .options(load_only(*CASELOAD_COURSE_COLUMNS))
                                     .order_by(TreatmentCourse.start_date, TreatmentCourse.id)):
        courses[course.patient_id] = course  # the latest course of each patient
    live = [c for c in courses.values() if not c.current_phase.ended]
    summaries = window_summaries(live, now)
    next_session = dict(db.session.execute(
        select(Appointment.patient_id, func.min(Appointment.starts_at)).where(
            Appointment.patient_id.in_(ids), Appointment.status == "booked", Appointment.starts_at >= now)
        .group_by(Appointment.patient_id)).all())
    open_count = Counter(alert.patient_id for alert in alerts)
    drafts = dict(db.session.execute(
        select(SessionNote.patient_id, func.count()).where(
            SessionNote.patient_id.in_(ids), SessionNote.author_id == current_user.id, SessionNote.status == "draft")
        .group_by(SessionNote.patient_id)).all())
    rows = [CaseloadRow(patient=p, course=courses.get(p.id),
                        summary=summaries.get(courses[p.id].id) if p.id in courses else None,
                        next=next_session.get(p.id), alerts=open_count[p.id], drafts=drafts.get(p.id, 0))
            for p in patients]
    due = []
    if current_user.has_role(THERAPIST):
        due = reports_due([c for c in live if c.therapist_id == current_user.id], now)
    return rows, due


@bp.route("/healthz")
@access.public
def healthz():
    """Liveness and database reachability, with no data in the answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")
