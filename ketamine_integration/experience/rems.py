"""Esketamine REMS Patient Monitoring Forms: which are due (and by patient), and the printable form."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import BindParameter, Select, func, select
from sqlalchemy.orm import contains_eager, lazyload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..documents.rems_form import rems_form_pdf
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import Patient
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from ..db.clinic_time import clinic_zone
from .models import SIGNED, VITAL_TIMEPOINTS, DosingSession
from .signatures import signed_content

#: the form is due this many days after the session (BRIEF: esketamine REMS)
DUE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class RemsRow:
    session: DosingSession
    patient: Patient
    session_date: date
    due: date
    overdue: bool


@dataclass(frozen=True)
class RemsPatientForms:
    """One patient's outstanding forms: the worklist's line (how many, the oldest due), expandable."""

    patient: Patient
    rows: tuple[RemsRow, ...]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def oldest_due(self) -> date:
        return min(r.due for r in self.rows)

    @property
    def overdue(self) -> int:
        return sum(r.overdue for r in self.rows)


def by_patient(rows: list[RemsRow]) -> list[RemsPatientForms]:
    """The rows grouped by patient, each group in session order; the patient whose oldest form is
    due first comes first (then by name, then by id: two patients may share a name)."""
    groups: dict[int, list[RemsRow]] = {}
    for row in rows:
        groups.setdefault(row.patient.id, []).append(row)
    found = [RemsPatientForms(rows[0].patient, tuple(sorted(rows, key=lambda r: (r.session_date, r.session.sequence))))
             for rows in groups.values()]
    return sorted(found, key=lambda g: (g.oldest_due, g.patient.display_name, g.patient.id))


def rems_versions(versions: list[ProtocolVersion] | None = None) -> list[int]:
    """The ids of the protocol versions whose doses need a REMS form (`versions`: every registered
    version, when the caller has read them)."""
    if versions is None:
        versions = db.session.scalars(select(ProtocolVersion)).all()
    return [v.id for v in versions if protocol_of(v).experience.rems_monitoring_form]


def _outstanding(user: User, stmt: Select, versions: list[int] | BindParameter) -> Select:
    """`stmt` (over DosingSession) narrowed to the signed sessions of REMS versions whose form is not
    submitted, of the user's own care team (REMS forms are clinical)."""
    return caseload(user, stmt.join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
                    .join(Patient, Patient.id == TreatmentCourse.patient_id)
                    .where(DosingSession.status == SIGNED, DosingSession.rems_submitted_on.is_(None),
                           TreatmentCourse.protocol_version_id.in_(versions)))


def count_forms_outstanding(user: User, versions: list[int] | BindParameter) -> Select:
    """A SELECT of how many forms `forms_outstanding` lists (the home page's count, the menu's badge);
    `versions`: rems_versions(), or an expanding parameter bound to them when the SELECT is run."""
    return _outstanding(user, select(func.count(DosingSession.id)).select_from(DosingSession), versions)


def forms_outstanding(user: User, *, today: date) -> list[RemsRow]:
    """Signed sessions under a REMS protocol whose form is not yet submitted, for user's patients.

    Only courses on a REMS protocol version are read (the snapshots say which), and only what
    the list shows: every other signed session, with its vitals, was loaded and dropped here
    before, which made the prescriber's worklist grow with their whole dosing history."""
    stmt = (_outstanding(user, select(DosingSession), rems_versions())
            .options(lazyload("*"), contains_eager(DosingSession.course).contains_eager(TreatmentCourse.patient))
            .order_by(DosingSession.ended_at))
    rows = []
    zone = clinic_zone()
    for session in db.session.scalars(stmt).unique():
        session_date = session.ended_at.astimezone(zone).date()
        due = session_date + DUE_AFTER
        rows.append(RemsRow(session=session, patient=session.course.patient, session_date=session_date,
                            due=due, overdue=today > due))
    return rows


def monitoring_form_data(session: DosingSession) -> dict:
    """The Patient Monitoring Form as plain data (no ORM objects reach the document)."""
    content = signed_content(session)
    patient = session.course.patient
    names = {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(
        [i for i in (session.administered_by_id, session.monitored_by_id, session.signed_by_id) if i])))}
    zone = clinic_zone()

    def local(value):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if value else "—"

    return {
        "clinic": current_app.config["CLINIC_NAME"],
        "patient": {"name": patient.full_name, "mrn": patient.mrn, "dob": patient.date_of_birth.isoformat()},
        "session": {"sequence": session.sequence, "started": local(session.started_at),
                    "ended": local(session.ended_at), "discharged": local(session.discharged_at),
                    "ready_to_leave": local(session.ready_to_leave_at)},
        "dose_mg": content["dose_mg"], "lot_number": content["lot_number"] or "—",
        "monitoring_minutes": content["monitoring_minutes"],
        "vitals": [{"label": VITAL_TIMEPOINTS[tp], "bp": _bp(content["vitals"].get(tp)),
                    "hr": _at(content["vitals"].get(tp), 2), "spo2": _at(content["vitals"].get(tp), 3)}
                   for tp in VITAL_TIMEPOINTS],
        "acceptable_before_dosing": _answer(session.vitals_acceptable_before_dosing),
        "acceptable_before_discharge": _answer(session.vitals_acceptable_before_discharge),
        "sedation": session.sedation or "—", "dissociation": session.dissociation or "—",
        "concomitant": session.concomitant_sedating_medications or "—",
        "administered_by": names.get(session.administered_by_id, "—"),
        "monitored_by": names.get(session.monitored_by_id, "—"),
        "signed_by": names.get(session.signed_by_id, "—"), "signed_at": local(session.signed_at),
        "due": (session.ended_at.astimezone(zone).date() + DUE_AFTER).isoformat(),
        "submitted_on": session.rems_submitted_on.isoformat() if session.rems_submitted_on else None,
    }


def _answer(value: bool | None) -> str:
    return {True: "Yes", False: "No", None: "—"}[value]


def _bp(reading):
    return f"{reading[0]}/{reading[1]}" if reading and reading[0] is not None else "—"


def _at(reading, index):
    return reading[index] if reading and reading[index] is not None else "—"


def monitoring_form_pdf(session: DosingSession) -> bytes:
    return rems_form_pdf(monitoring_form_data(session))
