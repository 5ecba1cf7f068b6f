"""What a right-of-access copy holds (45 CFR 164.524): the patient's designated record set read from the
record, as the plain data of documents/record_summary.py, plus the coordination reports' own PDFs.

Included: demographics, every course with its phases and signed doses, the sessions attended, every
measure not voided with its total and band, every signed session note's regular content (its sections,
themes, action steps and addenda), the treatment plans, case formulations, safety plans and shared journal
entries (care_content.py), the coordination reports sent about the patient and the patient's releases of
information. Excluded: psychotherapy notes (164.524(a)(1)(i); the ProcessNote table is never read here),
drafts and discarded notes (not yet part of the record), journal entries the patient keeps private, and
what the clinic keeps about its own operations (the audit trail, messages' delivery).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload, undefer

from ..bookings.models import ATTENDED, KINDS, Appointment
from ..coordination.models import CATEGORIES, CoordinationReport, ReleaseOfInformation
from ..courses.models import TreatmentCourse
from ..courses.services import phase_history
from ..db.clinic_time import clinic_today, format_local
from ..documents.record_summary import (CourseRecord, DoseRow, Fact, MeasureRow, NoteRecord, NoteSection,
                                        PhaseRow, RecordSummary, ReleaseRow, ReportRow, SessionRow)
from ..domain import measures as scoring
from ..domain.dosing import route_label
from ..experience.models import SIGNED as DOSING_SIGNED
from ..experience.models import DosingSession
from ..extensions import db
from ..notes.forms import FIELDS, FORMS
from ..notes.models import SIGNED, MeasureResponse, SessionNote
from ..patients.models import Patient
from .care_content import formulation_records, journal_rows, plan_records, safety_plan_records

MODALITIES = {"in_person": "In person", "telehealth": "Telehealth"}


@dataclass(frozen=True)
class ReportFile:
    """A coordination report's PDF as it was sent, for the zip."""
    path: str
    pdf: bytes


@dataclass(frozen=True)
class DesignatedRecordSet:
    summary: RecordSummary
    reports: tuple[ReportFile, ...]


def designated_record_set(patient: Patient, *, requested: str, now: datetime) -> DesignatedRecordSet:
    """The patient's record as a right-of-access copy carries it; `requested`: who asked, in words."""
    courses = _courses(patient.id)
    reports = _reports(patient.id)
    files = tuple(ReportFile(_report_path(r), r.pdf) for r in reports)
    summary = RecordSummary(
        clinic=current_app.config["CLINIC_NAME"], generated=format_local(now), requested=requested,
        patient_name=patient.full_name, mrn=patient.mrn, demographics=_demographics(patient),
        courses=_course_records(courses), sessions=_sessions(patient.id, now),
        measures=_measures(patient.id), notes=_notes(patient.id), plans=plan_records(patient.id),
        formulations=formulation_records(patient.id), safety_plans=safety_plan_records(patient.id),
        journal=journal_rows(patient.id),
        reports=tuple(_report_row(r, path.path) for r, path in zip(reports, files)),
        releases=_releases(patient.id))
    return DesignatedRecordSet(summary=summary, reports=files)


def _demographics(patient: Patient) -> tuple[Fact, ...]:
    facts = [("Legal name", patient.full_name), ("Preferred name", patient.preferred_name),
             ("Date of birth", patient.date_of_birth.isoformat()), ("MRN", patient.mrn),
             ("Phone", patient.phone), ("Email", patient.email),
             ("Emergency contact", ", ".join(v for v in (patient.emergency_contact_name,
                                                         patient.emergency_contact_relationship,
                                                         patient.emergency_contact_phone) if v))]
    return tuple(Fact(label, value or "—") for label, value in facts)


def _courses(patient_id: int) -> list[TreatmentCourse]:
    return list(db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                                   .options(selectinload(TreatmentCourse.transitions))
                                   .order_by(TreatmentCourse.start_date, TreatmentCourse.id)))


def _course_records(courses: list[TreatmentCourse]) -> tuple[CourseRecord, ...]:
    doses: dict[int, list[DosingSession]] = {c.id: [] for c in courses}
    for session in _signed_doses([c.id for c in courses]):
        doses[session.course_id].append(session)
    return tuple(_course(c, doses[c.id]) for c in courses)


def _course(course: TreatmentCourse, doses: list[DosingSession]) -> CourseRecord:
    version = course.protocol_version
    facts = (Fact("Protocol", f"{version.name} (version {version.version})"),
             Fact("Indication", course.indication), Fact("Started", course.start_date.isoformat()),
             Fact("Phase now", course.current_phase.label))
    phases = tuple(PhaseRow(row["phase"].label, format_local(row["started"]),
                            format_local(row["ended"]) if row["ended"] else "—") for row in phase_history(course))
    return CourseRecord(title=f"{version.name}, from {course.start_date.isoformat()}", facts=facts, phases=phases,
                        doses=tuple(_dose(s) for s in doses))


def _signed_doses(course_ids: list[int]) -> list[DosingSession]:
    """The signed dosing records of these courses, in one statement (their people loaded alongside)."""
    return list(db.session.scalars(select(DosingSession).where(DosingSession.course_id.in_(course_ids),
                                                               DosingSession.status == DOSING_SIGNED)
                                   .options(selectinload(DosingSession.administered_by),
                                            selectinload(DosingSession.monitored_by),
                                            selectinload(DosingSession.signed_by))
                                   .order_by(DosingSession.course_id, DosingSession.sequence)))


def _dose(session: DosingSession) -> DoseRow:
    dose = f"{session.dose_mg} mg" + (f" ({session.dose_mg_per_kg} mg/kg)" if session.dose_mg_per_kg else "")
    people = "; ".join(f"{words} {person.display_name}" for words, person in (
        ("administered by", session.administered_by), ("monitored by", session.monitored_by),
        ("signed by", session.signed_by)) if person is not None)
    return DoseRow(sequence=session.sequence, when=format_local(session.started_at),
                   medication=session.medication or "—", route=route_label(session.route) if session.route else "—",
                   dose=dose, people=people[:1].upper() + people[1:] if people else "—",
                   monitoring=f"{session.monitoring_minutes} min" if session.monitoring_minutes else "—",
                   adverse_events=tuple(f"{e.event_type} ({e.severity})" + (f": {e.action_taken}" if e.action_taken
                                                                           else "") for e in session.adverse_events))


def _sessions(patient_id: int, now: datetime) -> tuple[SessionRow, ...]:
    """The sessions the patient attended (their outcome recorded as attended), oldest first."""
    rows = db.session.scalars(select(Appointment).where(Appointment.patient_id == patient_id,
                                                        Appointment.status == ATTENDED,
                                                        Appointment.starts_at <= now)
                              .order_by(Appointment.starts_at))
    return tuple(SessionRow(when=format_local(a.starts_at), kind=KINDS.get(a.kind, a.kind),
                            clinician=a.clinician.display_name, modality=MODALITIES.get(a.modality, a.modality))
                 for a in rows)


def _measures(patient_id: int) -> tuple[MeasureRow, ...]:
    """Every measure not voided, with its total and band (a voided entry was entered in error)."""
    rows = db.session.scalars(select(MeasureResponse).where(MeasureResponse.patient_id == patient_id,
                                                            MeasureResponse.voided_at.is_(None))
                              .order_by(MeasureResponse.administered_on, MeasureResponse.id))
    return tuple(MeasureRow(day=r.administered_on.isoformat(), measure=_measure_name(r.measure), total=str(r.total),
                            band=r.band, entered="The patient, in the portal" if r.completed_by_patient
                            else r.entered_by.display_name)
                 for r in rows)


def _measure_name(key: str) -> str:
    measure = scoring.MEASURES.get(key)
    return measure.name if measure is not None else key


def _notes(patient_id: int) -> tuple[NoteRecord, ...]:
    """Every signed session note's regular content. A process note is a row of its own table, which
    this module never reads: nothing here can carry one."""
    notes = db.session.scalars(select(SessionNote).where(SessionNote.patient_id == patient_id,
                                                         SessionNote.status == SIGNED,
                                                         SessionNote.discarded_at.is_(None))
                               .order_by(SessionNote.session_date, SessionNote.id))
    return tuple(_note(n) for n in notes)


def _note(note: SessionNote) -> NoteRecord:
    sections = [*_content_sections(note), *_themes(note), *_steps(note)]
    return NoteRecord(title=f"{note.label}, {note.session_date.isoformat()}",
                      signed=f"Signed by {note.author.display_name} on {format_local(note.signed_at)}",
                      sections=tuple(sections),
                      addenda=tuple(NoteSection(f"Addendum by {a.author.display_name}, {format_local(a.created_at)}",
                                                a.body) for a in note.addenda))


def _content_sections(note: SessionNote) -> Iterable[NoteSection]:
    """The note's narrative fields under their form labels, choices in words; empty ones left out."""
    form = FORMS[note.kind]
    for name in FIELDS[note.kind]:
        value = (note.content or {}).get(name)
        if value in (None, "", []):
            continue
        field = getattr(form, name, None)
        label = field.args[0] if field is not None and field.args else name.replace("_", " ").capitalize()
        choices = {str(c.value): c.label for c in (field.kwargs.get("choices") or [])} if field is not None else {}
        values = value if isinstance(value, list) else [value]
        yield NoteSection(label, ", ".join(choices.get(str(v), str(v)) for v in values))


def _themes(note: SessionNote) -> Iterable[NoteSection]:
    for row in note.themes:
        yield NoteSection("Theme", row.name + (f": “{row.patient_words}”" if row.patient_words else ""))


def _steps(note: SessionNote) -> Iterable[NoteSection]:
    for step in note.new_steps:
        yield NoteSection("Action step agreed", f"{step.what} ({step.how_often})")


def _reports(patient_id: int) -> list[CoordinationReport]:
    return list(db.session.scalars(select(CoordinationReport).where(CoordinationReport.patient_id == patient_id)
                                   .options(undefer(CoordinationReport.pdf))
                                   .order_by(CoordinationReport.created_at, CoordinationReport.id)))


def _report_path(report: CoordinationReport) -> str:
    return f"reports/coordination-report-{clinic_today(report.created_at).isoformat()}-{report.id}.pdf"


def _report_row(report: CoordinationReport, path: str) -> ReportRow:
    return ReportRow(day=clinic_today(report.created_at).isoformat(), recipient=report.recipient.display_name,
                     author=report.created_by.display_name,
                     contents="; ".join(CATEGORIES.get(c, c) for c in report.categories), file=path)


def _releases(patient_id: int) -> tuple[ReleaseRow, ...]:
    rows = db.session.scalars(select(ReleaseOfInformation).where(ReleaseOfInformation.patient_id == patient_id)
                              .order_by(ReleaseOfInformation.effective_on, ReleaseOfInformation.id))
    return tuple(ReleaseRow(recipient=r.recipient_label, purpose=r.purpose,
                            categories="; ".join(CATEGORIES.get(c, c) for c in r.categories),
                            period=r.effective_on.isoformat() + " to " + (r.expires_on.isoformat() if r.expires_on
                                                                          else "no end date"),
                            state=f"Revoked {r.revoked_on.isoformat()}" if r.revoked_on else "Not revoked")
                 for r in rows)
