"""Where each resource comes from: one query per kind of row, filtered to one patient or read in
batches by primary key, and the function that turns a row into resources. Each query loads what its
mapping reads, so a batch costs the same few statements whatever the clinic's size."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased, defaultload, joinedload, lazyload, selectinload, undefer, with_expression

from ..accounts.models import User
from ..bookings.models import Appointment
from ..coordination.models import CoordinationNote, CoordinationReport, ReleaseOfInformation
from ..courses.models import TreatmentCourse
from ..discharge.models import DischargeSummary
from ..experience.models import DRAFT, SIGNED, AdverseEvent, DosingSession
from ..extensions import db
from ..notes.models import SIGNED as NOTE_SIGNED, MeasureResponse, NoteAddendum, SessionNote
from ..patients.models import CareTeamMember, Patient
from ..plans.models import SIGNED as PLAN_SIGNED, PlanObjective, TreatmentPlan
from ..plans.progress import ObjectiveProgress
from . import care, measures, people, plans, records


@dataclass(frozen=True)
class Source:
    """One kind of row: its query (every row of the clinic), how to narrow it to one patient, how
    many rows a batch reads, and the resources one row becomes."""
    name: str
    query: Callable[[], Select]
    patient_filter: Callable[[Select, int], Select]
    to_fhir: Callable[..., Iterable[dict | None]]
    batch: int = 500
    #: the primary key column batches are read in order of
    key: Callable[[], object] = field(default=lambda: None)


def _by_column(column):
    return lambda stmt, patient_id: stmt.where(column == patient_id)


def _dosing_by_patient(stmt, patient_id):
    return stmt.join(TreatmentCourse, DosingSession.course_id == TreatmentCourse.id).where(
        TreatmentCourse.patient_id == patient_id)


def _dose(session: DosingSession, today) -> Iterator[dict | None]:
    yield care.dose_encounter(session)
    yield care.administration_resource(session)
    yield from care.vital_observations(session)
    yield from care.adverse_event_resources(session)


def _signed_plans() -> Select:
    """Signed plan revisions, each knowing whether a later one of its course is signed (its CarePlan's
    status), with its objectives, their progress (and the notes that recorded it) and its techniques."""
    later = aliased(TreatmentPlan)
    superseded = exists().where(later.course_id == TreatmentPlan.course_id, later.revision > TreatmentPlan.revision,
                                later.status == PLAN_SIGNED)
    progress = defaultload(TreatmentPlan.objectives).defaultload(PlanObjective.progress)
    return select(TreatmentPlan).where(TreatmentPlan.status == PLAN_SIGNED).options(
        lazyload("*"), with_expression(TreatmentPlan.superseded, superseded),
        joinedload(TreatmentPlan.author), joinedload(TreatmentPlan.course).lazyload("*"),
        selectinload(TreatmentPlan.techniques),
        selectinload(TreatmentPlan.objectives).selectinload(PlanObjective.progress).lazyload("*"),
        progress.joinedload(ObjectiveProgress.note).lazyload("*"),
        progress.joinedload(ObjectiveProgress.note).joinedload(SessionNote.author))


def _appointment(appointment: Appointment, today) -> Iterator[dict]:
    yield care.appointment_resource(appointment)
    if appointment.status == "attended":
        yield care.appointment_encounter(appointment)


def _patient(patient: Patient, today) -> Iterator[dict]:
    yield people.patient_resource(patient)
    yield people.care_team_resource(patient)


SOURCES = (
    Source("patients", lambda: select(Patient).options(
        selectinload(Patient.care_team).joinedload(CareTeamMember.user)),
        _by_column(Patient.id), _patient, key=lambda: Patient.id),
    Source("courses", lambda: select(TreatmentCourse).options(
        selectinload(TreatmentCourse.transitions), joinedload(TreatmentCourse.therapist)),
        _by_column(TreatmentCourse.patient_id), lambda course, today: [care.episode_resource(course)],
        key=lambda: TreatmentCourse.id),
    Source("appointments", lambda: select(Appointment),
        _by_column(Appointment.patient_id), _appointment, key=lambda: Appointment.id),
    Source("doses", lambda: select(DosingSession).where(DosingSession.status.in_((DRAFT, SIGNED))).options(
        lazyload("*"), joinedload(DosingSession.course).lazyload("*"), joinedload(DosingSession.administered_by),
        selectinload(DosingSession.vitals), selectinload(DosingSession.vital_corrections),
        selectinload(DosingSession.appointment).lazyload("*"),
        selectinload(DosingSession.adverse_event_rows).joinedload(AdverseEvent.entered_by)),
        _dosing_by_patient, _dose, key=lambda: DosingSession.id),
    Source("measures", lambda: select(MeasureResponse).options(lazyload(MeasureResponse.patient)),
        _by_column(MeasureResponse.patient_id), lambda r, today: measures.response_resources(r),
        key=lambda: MeasureResponse.id),
    Source("releases", lambda: select(ReleaseOfInformation),
        _by_column(ReleaseOfInformation.patient_id), lambda r, today: [records.consent_resource(r, today)],
        key=lambda: ReleaseOfInformation.id),
    Source("notes", lambda: select(SessionNote).where(
        SessionNote.status == NOTE_SIGNED, SessionNote.discarded_at.is_(None)).options(
        lazyload("*"), joinedload(SessionNote.author),
        selectinload(SessionNote.addenda).joinedload(NoteAddendum.author)),
        _by_column(SessionNote.patient_id), lambda n, today: [records.note_document(n)],
        key=lambda: SessionNote.id),
    Source("plans", _signed_plans, _by_column(TreatmentPlan.patient_id),
        lambda plan, today: plans.plan_resources(plan), key=lambda: TreatmentPlan.id),
    Source("coordination", lambda: select(CoordinationNote),
        _by_column(CoordinationNote.patient_id), lambda n, today: records.communication_resources(n),
        key=lambda: CoordinationNote.id),
    Source("discharge", lambda: select(DischargeSummary).where(DischargeSummary.signed_at.is_not(None)),
        _by_column(DischargeSummary.patient_id), lambda s, today: [records.discharge_document(s)],
        key=lambda: DischargeSummary.id),
    # a report carries its PDF: fewer rows a batch, so a batch's memory stays small
    Source("reports", lambda: select(CoordinationReport).options(undefer(CoordinationReport.pdf)),
        _by_column(CoordinationReport.patient_id), lambda r, today: [records.report_document(r)],
        batch=50, key=lambda: CoordinationReport.id),
)


def patient_rows(source: Source, patient_id: int) -> list:
    stmt = source.patient_filter(source.query(), patient_id).order_by(source.key())
    return list(db.session.scalars(stmt).unique())


def batches(source: Source, batch: int | None = None) -> Iterator[list]:
    """Every row of the clinic, `batch` rows a statement, in key order (keyset: no OFFSET, so each
    batch costs the same). The caller empties the session between batches."""
    size, last = batch or source.batch, None
    while True:
        stmt = source.query()
        if last is not None:
            stmt = stmt.where(source.key() > last)
        rows = list(db.session.scalars(stmt.order_by(source.key()).limit(size)).unique())
        if not rows:
            return
        last = rows[-1].id
        yield rows
        if len(rows) < size:
            return


def user_batches(batch: int = 500) -> Iterator[list[User]]:
    last = 0
    while True:
        rows = db.session.scalars(select(User).where(User.id > last).order_by(User.id).limit(batch)).all()
        if not rows:
            return
        last = rows[-1].id
        yield rows
