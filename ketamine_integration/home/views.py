"""The home page each role lands on, and the health check for load balancers."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..web import access
from ..audit import services as audit
from ..coordination.due import DueReport, reports_due
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..domain.phases import Phase
from ..experience.window_store import window_summaries
from ..notes.drafts import written_drafts
from ..notes.services import open_alerts
from ..bookings.models import Appointment
from ..extensions import db
from ..patients.access import caseload, sees_all_patients
from ..patients.models import Patient, display_name
from ..protocols.models import ProtocolVersion
from ..scheduling.attendance import unconfirmed

bp = Blueprint("home", __name__)

RECENT_LIMIT = 10


@bp.route("/")
@access.permission("account.own")
def home():
    active, now = select(Patient).where(Patient.archived_at.is_(None)), utcnow()
    my_patients, to_confirm = [], None
    if current_user.can("care_team.member"):
        # Clinicians' own caseload, even when they also hold a staff role.
        my_patients = _caseload_patients(caseload(current_user, active), now)
        if current_user.can("schedule.book"):
            # their own sessions whose time came with no outcome (issue 20, point 2)
            to_confirm = unconfirmed(now, clinician_id=current_user.id)
    recent, total = [], None
    if sees_all_patients(current_user):
        recent = db.session.scalars(active.order_by(Patient.created_at.desc()).limit(RECENT_LIMIT)).all()
        total = db.session.scalar(select(func.count()).select_from(active.subquery()))
    shown = len(my_patients) + len(recent) + (len(to_confirm.appointments) if to_confirm else 0)
    if shown:
        audit.record("patient.list", detail=f"home page; {shown} shown")
    # safety alerts come from measures, which only those who read clinical content see (not nurses)
    alerts = open_alerts(p.id for p in my_patients) if current_user.can("notes.read") else []
    caseload_rows, due = _caseload(my_patients, alerts) if my_patients else ([], [])
    return render_template("core/home.html", my_patients=my_patients, recent=recent, total=total,
                           caseload_rows=caseload_rows, alerts=alerts, reports_due=due, to_confirm=to_confirm)


@dataclass(frozen=True)
class CaseloadPatient:
    """What the home page shows of a patient on the user's caseload."""

    id: int
    mrn: str
    display_name: str
    #: the patient's next booked appointment, and the user's unsigned notes on them (those with
    #: anything written: a note started and left blank is not unsigned work)
    next_session: datetime | None
    drafts: int


def _caseload_patients(patients: Select, now: datetime) -> list[CaseloadPatient]:
    """The caseload's patients, as rows of what its table shows (a caseload is a hundred
    patients or so): their next booking is a column of the same query, the user's drafts one
    more query for them all."""
    next_session = select(func.min(Appointment.starts_at)).where(
        Appointment.patient_id == Patient.id, Appointment.status == "booked", Appointment.starts_at >= now)
    rows = db.session.execute(patients.with_only_columns(
        Patient.id, Patient.mrn, Patient.given_name, Patient.preferred_name, Patient.family_name,
        next_session.scalar_subquery().label("next_session"))
        .order_by(Patient.family_name, Patient.given_name).limit(200)).all()
    drafts = written_drafts(current_user.id, [r.id for r in rows])
    return [CaseloadPatient(r.id, r.mrn, display_name(r.given_name, r.preferred_name, r.family_name),
                            r.next_session, drafts.get(r.id, 0)) for r in rows]


@dataclass(frozen=True)
class CaseloadRow:
    """One line of the clinician's caseload table."""

    patient: CaseloadPatient
    #: the patient's latest course (id and phase), if any
    course_id: int | None
    phase: Phase | None
    #: the most urgent integration window, in a few words
    summary: str | None
    alerts: int


@dataclass(frozen=True)
class ReportDue:
    """A course of the user's whose prescriber report fell due (coordination.due)."""

    course_id: int
    patient: CaseloadPatient
    protocol_name: str
    #: since when, why, and what it still needs before it can be generated
    report: DueReport


def _caseload(patients: list[CaseloadPatient], alerts: list) -> tuple[list[CaseloadRow], list[ReportDue]]:
    """Each patient's current course, phase, window status and open alerts, and the reports due
    on the user's own courses: a constant number of queries however long the caseload. Courses
    are read as column rows: the page shows their id and phase, and building a hundred course
    objects was a fifth of its time."""
    now = utcnow()
    by_id = {p.id: p for p in patients}
    latest = _latest_courses(by_id)
    live = [c for c in latest.values() if not Phase(c.phase).ended]
    # every registered protocol version (a handful), for the windows and the reports due
    versions = {v.id: v for v in db.session.scalars(select(ProtocolVersion))}
    summaries = window_summaries([c.id for c in live], now, versions=list(versions.values()))
    open_count = Counter(alert.patient_id for alert in alerts)
    rows = [_caseload_row(p, latest.get(p.id), summaries, open_count[p.id]) for p in patients]
    due = []
    if current_user.can("reports.generate"):
        mine = [c for c in live if c.therapist_id == current_user.id]
        due = [ReportDue(d.course.id, by_id[d.course.patient_id], versions[d.course.protocol_version_id].name,
                         d)
               for d in reports_due([(c, versions[c.protocol_version_id]) for c in mine], now, clinic_today())]
    return rows, due


def _latest_courses(by_id: dict) -> dict:
    """The latest course of each patient (as a column row), by patient id."""
    latest = {}
    for course in db.session.execute(
            select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.phase, TreatmentCourse.therapist_id,
                   TreatmentCourse.start_date, TreatmentCourse.protocol_version_id)
            .where(TreatmentCourse.patient_id.in_(by_id)).order_by(TreatmentCourse.start_date, TreatmentCourse.id)):
        latest[course.patient_id] = course
    return latest


def _caseload_row(patient: CaseloadPatient, course, summaries: dict, alerts: int) -> CaseloadRow:
    if course is None:
        return CaseloadRow(patient=patient, course_id=None, phase=None, summary=None, alerts=alerts)
    return CaseloadRow(patient=patient, course_id=course.id, phase=Phase(course.phase),
                       summary=summaries.get(course.id), alerts=alerts)


@bp.route("/healthz")
@access.public
def healthz():
    """Liveness and database reachability, with no data in the answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")
