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
from ..coordination.due import LATEST_REPORT, DueReport, describe_due, pending_reports
from ..courses.models import TreatmentCourse
from ..db.clinic_time import to_clinic
from ..db.types import utcnow
from ..domain.phases import Phase
from ..experience.windows import WindowSummary
from ..extensions import db
from ..patients.access import active_caseload
from ..patients.models import Patient, display_name
from ..plans.services import NO_PLAN, review_rule, review_status
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
    #: the most urgent integration window: its status and what covers it
    summary: WindowSummary | None
    alerts: int
    #: "no plan" or "plan review due" on a live course (plans.services.review_status), else None
    plan: str | None = None


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


def caseload_rows(patients: list[CaseloadPatient], alerts: list,
                  versions: list[ProtocolVersion] | None = None) -> list[CaseloadRow]:
    """Each patient's current course, phase, window status and open alerts: a constant number of
    queries however long the caseload. Courses are read as column rows: the page shows their id
    and phase, and building a hundred course objects was a fifth of its time. `versions`: every
    registered protocol version, when the caller has read them."""
    now = utcnow()
    latest = _latest_courses(TreatmentCourse.patient_id.in_([p.id for p in patients]))
    live = [c for c in latest.values() if not Phase(c.phase).ended]
    summaries = course_summaries([c.id for c in live], now, versions)
    open_count = Counter(alert.patient_id for alert in alerts)
    by_id = {v.id: v for v in versions or ()} or {v.id: v for v in db.session.scalars(select(ProtocolVersion))}
    plans = review_status({c.id: review_rule(by_id[c.protocol_version_id]) for c in live},
                          to_clinic(now).date())
    return [_caseload_row(p, latest.get(p.id), summaries, open_count[p.id], plans) for p in patients]


def pending_reports_of(user: User, now: datetime, versions: dict[int, ProtocolVersion], courses: Select
                       ) -> list[tuple]:
    """The prescriber reports due on the user's own courses (the latest course of each patient on
    their active caseload, live, with the user as its therapist), as coordination.due.pending_reports
    finds them: what the home page's count and the menu's badge count (home.waiting), and what its
    list shows (reports_listed). Two queries; `versions`: every registered protocol version, by id;
    `courses`: own_courses(user), which home.waiting builds once per user."""
    latest = _latest_of(db.session.execute(courses))
    mine = [c for c in latest.values() if c.therapist_id == user.id and not Phase(c.phase).ended]
    return pending_reports([(c, versions[c.protocol_version_id]) for c in mine], now,
                           latest={c.id: c.latest_report for c in mine})


def own_courses(user: User) -> Select:
    """The statement pending_reports_of runs: the courses of the patients on the user's active caseload,
    with each patient's name and each course's latest report. It holds nothing but the user's id and
    roles, so it can be built once and run on every request (home.waiting)."""
    return _latest_courses_statement(TreatmentCourse.patient_id.in_(active_caseload(user)), for_reports=True)


def reports_listed(pending: list[tuple], versions: dict[int, ProtocolVersion], today: date) -> list[ReportDue]:
    """The reports `pending_reports_of` found, as the home page lists them: with since when, why and
    what each still needs (two queries)."""
    return [ReportDue(d.course.id, PatientName(d.course.patient_id, display_name(
        d.course.given_name, d.course.preferred_name, d.course.family_name)),
        versions[d.course.protocol_version_id].name, d) for d in describe_due(pending, today)]


def _latest_courses(patients: ColumnElement[bool]) -> dict:
    """The latest course of each patient `patients` selects (as a column row), by patient id."""
    return _latest_of(db.session.execute(_latest_courses_statement(patients)))


def _latest_courses_statement(patients: ColumnElement[bool], *, for_reports: bool = False) -> Select:
    """The courses of the patients `patients` selects, oldest first (as column rows); for the reports
    due, with the patient's name and the course's latest report."""
    columns = [TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.phase, TreatmentCourse.therapist_id,
               TreatmentCourse.start_date, TreatmentCourse.protocol_version_id]
    stmt = select(*columns).where(patients)
    if for_reports:
        stmt = stmt.join(Patient, Patient.id == TreatmentCourse.patient_id).add_columns(
            Patient.given_name, Patient.preferred_name, Patient.family_name, LATEST_REPORT.label("latest_report"))
    return stmt.order_by(TreatmentCourse.start_date, TreatmentCourse.id)


def _latest_of(courses) -> dict:
    """The latest of the courses (rows of _latest_courses_statement, oldest first) of each patient, by patient id."""
    return {course.patient_id: course for course in courses}


def _caseload_row(patient: CaseloadPatient, course, summaries: dict, alerts: int, plans: dict) -> CaseloadRow:
    if course is None:
        return CaseloadRow(patient=patient, course_id=None, phase=None, summary=None, alerts=alerts)
    return CaseloadRow(patient=patient, course_id=course.id, phase=Phase(course.phase),
                       summary=summaries.get(course.id), alerts=alerts,
                       plan=_plan_words(plans.get(course.id, None)) if course.id in plans else None)


def _plan_words(status) -> str | None:
    return status if status == NO_PLAN else "plan review due" if status is not None else None
