"""The clinician's caseload on the home page: each patient's phase, next session, integration
window, open alerts and drafts, and the reports due on the user's own courses; a constant number
of queries however long the caseload."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask_login import current_user
from sqlalchemy import Select, func, select

from ..bookings.models import BOOKED, Appointment
from ..coordination.due import DueReport, reports_due
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..domain.phases import Phase
from ..experience.window_store import window_summaries
from ..experience.windows import WindowSummary
from ..extensions import db
from ..patients.models import Patient, display_name
from ..protocols.models import ProtocolVersion

#: patients the table lists (a caseload is a hundred patients or so)
CASELOAD_LIMIT = 200


@dataclass(frozen=True)
class CaseloadPatient:
    """What the home page shows of a patient on the user's caseload."""

    id: int
    mrn: str
    display_name: str
    #: the patient's next booked appointment (one under way included), and the user's unsigned
    #: notes on them (those with anything written: a note started and left blank is not unsigned work)
    next_session: datetime | None
    drafts: int


def caseload_patients(patients: Select, now: datetime, drafts: Counter) -> list[CaseloadPatient]:
    """The caseload's patients, as rows of what its table shows: their next booking is a column of
    the same query; `drafts`: the user's drafts to sign, by patient.

    The next session is the first booking not yet over: one that started a minute ago is still the
    session of the day (asked as "starts from now on", the caseload said "—" once it began)."""
    next_session = select(func.min(Appointment.starts_at)).where(
        Appointment.patient_id == Patient.id, Appointment.status == BOOKED, Appointment.ends_at > now)
    rows = db.session.execute(patients.with_only_columns(
        Patient.id, Patient.mrn, Patient.given_name, Patient.preferred_name, Patient.family_name,
        next_session.scalar_subquery().label("next_session"))
        .order_by(Patient.family_name, Patient.given_name).limit(CASELOAD_LIMIT)).all()
    return [CaseloadPatient(r.id, r.mrn, display_name(r.given_name, r.preferred_name, r.family_name),
                            r.next_session, drafts.get(r.id, 0)) for r in rows]


@dataclass(frozen=True)
class CaseloadRow:
    """One line of the clinician's caseload table."""

    patient: CaseloadPatient
    #: the patient's latest course (id and phase), if any
    course_id: int | None
    phase: Phase | None
    #: the most urgent integration window: its status and what covers it
    summary: WindowSummary | None
    alerts: int


@dataclass(frozen=True)
class ReportDue:
    """A course of the user's whose prescriber report fell due (coordination.due)."""

    course_id: int
    patient: CaseloadPatient
    protocol_name: str
    #: since when, why, and what it still needs before it can be generated
    report: DueReport


def caseload_rows(patients: list[CaseloadPatient], alerts: list) -> tuple[list[CaseloadRow], list[ReportDue]]:
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
