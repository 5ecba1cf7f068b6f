"""The clinician's caseload on the home page: each patient's phase, next session, integration
window, open alerts and drafts; and the reports due on the user's own courses (listed on the home
page, counted by it and the menu's badge); a constant number of queries however long the caseload."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, func, select

from ..accounts.models import User
from ..bookings.models import BOOKED, Appointment
from ..coordination.due import DueReport, reports_due
from ..courses.models import TreatmentCourse
from ..db.types import utcnow
from ..domain.phases import Phase
from ..extensions import db
from ..patients.access import active_caseload
from ..patients.models import Patient, display_name
from ..protocols.models import ProtocolVersion
from ..scheduling.after_series import course_summaries

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
    #: the most urgent integration window, in a few words
    summary: str | None
    alerts: int


@dataclass(frozen=True)
class PatientName:
    id: int
    display_name: str


@dataclass(frozen=True)
class ReportDue:
    """A course of the user's whose prescriber report fell due (coordination.due)."""

    course_id: int
    patient: PatientName
    protocol_name: str
    #: since when, why, and what it still needs before it can be generated
    report: DueReport


def caseload_rows(patients: list[CaseloadPatient], alerts: list) -> list[CaseloadRow]:
    """Each patient's current course, phase, window status and open alerts: a constant number of
    queries however long the caseload. Courses are read as column rows: the page shows their id
    and phase, and building a hundred course objects was a fifth of its time."""
    now = utcnow()
    latest = _latest_courses(TreatmentCourse.patient_id.in_([p.id for p in patients]))
    live = [c for c in latest.values() if not Phase(c.phase).ended]
    summaries = course_summaries([c.id for c in live], now)
    open_count = Counter(alert.patient_id for alert in alerts)
    return [_caseload_row(p, latest.get(p.id), summaries, open_count[p.id]) for p in patients]


def reports_due_to(user: User, now: datetime, today: date) -> list[ReportDue]:
    """The prescriber reports due on the user's own courses (the latest course of each patient on
    their active caseload, live, with the user as its therapist): what the home page lists and what
    its count and the menu's badge count (home.waiting). A constant number of queries."""
    latest = _latest_courses(TreatmentCourse.patient_id.in_(active_caseload(user)), names=True)
    mine = [c for c in latest.values() if c.therapist_id == user.id and not Phase(c.phase).ended]
    if not mine:
        return []
    versions = {v.id: v for v in db.session.scalars(
        select(ProtocolVersion).where(ProtocolVersion.id.in_({c.protocol_version_id for c in mine})))}
    return [ReportDue(d.course.id, PatientName(d.course.patient_id, display_name(
        d.course.given_name, d.course.preferred_name, d.course.family_name)),
        versions[d.course.protocol_version_id].name, d)
        for d in reports_due([(c, versions[c.protocol_version_id]) for c in mine], now, today)]


def _latest_courses(patients: ColumnElement[bool], *, names: bool = False) -> dict:
    """The latest course of each patient `patients` selects (as a column row), by patient id; with
    `names`, the patient's name columns too."""
    columns = [TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.phase, TreatmentCourse.therapist_id,
               TreatmentCourse.start_date, TreatmentCourse.protocol_version_id]
    stmt = select(*columns).where(patients)
    if names:
        stmt = stmt.join(Patient, Patient.id == TreatmentCourse.patient_id).add_columns(
            Patient.given_name, Patient.preferred_name, Patient.family_name)
    latest = {}
    for course in db.session.execute(stmt.order_by(TreatmentCourse.start_date, TreatmentCourse.id)):
        latest[course.patient_id] = course
    return latest


def _caseload_row(patient: CaseloadPatient, course, summaries: dict, alerts: int) -> CaseloadRow:
    if course is None:
        return CaseloadRow(patient=patient, course_id=None, phase=None, summary=None, alerts=alerts)
    return CaseloadRow(patient=patient, course_id=course.id, phase=Phase(course.phase),
                       summary=summaries.get(course.id), alerts=alerts)
