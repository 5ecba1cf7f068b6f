"""Imports checked against the clinic's records and applied all or nothing: patients, measure history.

A file is read before the request's transaction (read_upload: no database), then checked here row by
row against what is stored (an MRN in use, the same person twice, a patient without a course, a
measure recorded already). A file with any refused row imports nothing: the report lists every
refused row, field and problem, and the user fixes the file and uploads it again.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from sqlalchemy import func, select

from ..accounts.models import User
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today, clinic_zone
from ..db.errors import DomainError
from ..extensions import db
from ..notes.models import MeasureResponse
from ..notes.services import earliest_measure_day, record_measure
from ..patients.models import Patient
from ..patients.services import hold_registrations, register_patient
from . import reading
from .measure_rows import MeasureRow, fhir_measure
from .patient_rows import CSV_HEADER, CSV_REQUIRED, MRN_SYSTEM, PatientRow, RowChecker, person_key

PATIENTS, MEASURES = "patients", "measures"
KINDS = {PATIENTS: "patients", MEASURES: "measure history"}
#: what each kind reads: file name endings
FORMATS = {PATIENTS: (".csv", ".json", ".ndjson"), MEASURES: (".json", ".ndjson")}


@dataclass
class Report:
    """A file read and checked: the rows ready to import, those skipped (already recorded the same
    way) and those refused; or the whole file refused."""
    kind: str
    filename: str
    digest: str
    rows: int = 0
    ready: list = field(default_factory=list)
    skipped: list[reading.Refusal] = field(default_factory=list)
    refusals: list[reading.Refusal] = field(default_factory=list)
    refused_rows: int = 0
    #: why the whole file was not read (None: it was)
    file_refusal: str | None = None
    #: not read because the same user's previous upload was still being read
    concurrent: bool = False
    #: resources not imported as rows, by kind (reading.Read.ignored)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def importable(self) -> bool:
        return self.file_refusal is None and not self.refused_rows and bool(self.ready)

    @property
    def unlisted(self) -> int:
        """Refused rows past the listed ones (reading.MAX_REFUSALS)."""
        return max(0, self.refused_rows - len({r.row for r in self.refusals}))

    def refuse(self, row: str, column: str, problem: str) -> None:
        self.refused_rows += 1
        if len(self.refusals) < reading.MAX_REFUSALS:
            self.refusals.append(reading.Refusal(row, column, problem))


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_upload(kind: str, filename: str, data: bytes, limits: reading.Limits = reading.WEB_LIMITS) -> Report:
    """Read a file without touching the database (a view runs this before its transaction): its
    candidate rows and the refusals of rows that are wrong whatever the database holds."""
    report = Report(kind, filename, file_digest(data))
    try:
        read = _read(kind, filename, data, limits)
    except reading.FileRefused as refused:
        report.file_refusal = str(refused)
        return report
    report.rows, report.ready, report.refused_rows = read.rows, read.candidates, read.refused_rows
    report.ignored = read.ignored
    report.refusals = list(read.refusals)
    if not read.rows:
        report.file_refusal = f"{filename}: has no {KINDS[kind]} to import."
    return report


#: users with an import file being read in this server process (as the busy-time upload keeps them): with N
#: processes one user keeps at most N of them busy reading, each for at most WEB_LIMITS.seconds
_READING: set[int] = set()
_READING_LOCK = threading.Lock()


def read_upload_once(user_id: int, kind: str, filename: str, data: bytes) -> Report:
    """read_upload, one file at a time per user: a second upload while the first is read is refused."""
    with _READING_LOCK:
        if user_id in _READING:
            return Report(kind, filename, file_digest(data), concurrent=True, file_refusal=(
                f"{filename}: not read: your previous upload is still being read. Wait for it, then upload again."))
        _READING.add(user_id)
    try:
        return read_upload(kind, filename, data)
    finally:
        with _READING_LOCK:
            _READING.discard(user_id)


def _read(kind: str, filename: str, data: bytes, limits: reading.Limits) -> reading.Read:
    name = filename.lower()
    if not name.endswith(FORMATS[kind]):
        *others, last = FORMATS[kind]
        raise reading.FileRefused(filename, f"is not a file this import reads: an import of {KINDS[kind]} reads "
                                            f"{', '.join(others)} or {last} files.")
    text = reading.decode(filename, data, limits.max_bytes)
    budget = reading.Budget(filename, limits.max_rows, limits.seconds)
    read = reading.Read(filename)
    if name.endswith(".csv"):
        return reading.read_rows(read, reading.csv_rows(filename, text, CSV_HEADER, CSV_REQUIRED, budget),
                                 RowChecker().csv)
    resources = reading.fhir_resources(filename, text, budget)
    if kind == PATIENTS:
        return reading.read_rows(read, resources, RowChecker().fhir)
    resources = list(resources)  # twice: the file's Patients first, whom its responses may refer to
    reader = partial(fhir_measure, zone=clinic_zone(), patients=mrns_by_reference(resources))
    return reading.read_rows(read, iter(resources), reader)


def mrns_by_reference(resources: list) -> dict[str, str]:
    """"Patient/<id>" -> MRN, for the Patient resources of a file that carry one (a FHIR export's Bundle)."""
    found = {}
    for _where, resource in resources:
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            continue
        identifiers = resource.get("identifier") if isinstance(resource.get("identifier"), list) else []
        mrn = next((i.get("value") for i in identifiers if isinstance(i, dict) and i.get("system") == MRN_SYSTEM
                    and isinstance(i.get("value"), str) and i.get("value").strip()), None)
        if mrn and isinstance(resource.get("id"), str):
            found[f"Patient/{resource['id']}"] = mrn.strip()
    return found


# -- patients --------------------------------------------------------------------------------------

def check_patients(report: Report) -> Report:
    """Refuse the rows whose MRN is in use or repeated in the file, and the rows of a person already
    registered (same names and date of birth) or listed twice."""
    rows: list[PatientRow] = report.ready
    # two imports of one file at once: the second waits, then finds the first's patients registered
    # (on PostgreSQL both read "nobody of these names" and registered everyone twice)
    hold_registrations()
    mrns = {r.mrn.lower() for r in rows if r.mrn}
    taken = set(db.session.scalars(select(func.lower(Patient.mrn)).where(func.lower(Patient.mrn).in_(mrns)))) \
        if mrns else set()
    births = {r.fields["date_of_birth"] for r in rows}
    known = {person_key(g, f, d) for g, f, d in db.session.execute(
        select(Patient.given_name, Patient.family_name, Patient.date_of_birth)
        .where(Patient.date_of_birth.in_(births)))} if births else set()
    seen_mrn, seen_person, ready = {}, {}, []
    for row in rows:
        mrn = (row.mrn or "").lower()
        refusal = _clash(row, mrn, taken, known, seen_mrn, seen_person)
        if refusal:
            report.refuse(row.where, *refusal)
        else:
            ready.append(row)
        if mrn:
            seen_mrn.setdefault(mrn, row.where)
        seen_person.setdefault(row.identity, row.where)
    report.ready = ready
    return report


def _clash(row: PatientRow, mrn: str, taken: set, known: set, seen_mrn: dict, seen_person: dict) -> tuple | None:
    """(field, problem) when the row's MRN or person is stored already or earlier in the file."""
    if mrn and mrn in taken:
        return "mrn", "Another patient already has this MRN."
    if mrn and mrn in seen_mrn:
        return "mrn", f"The file gives this MRN twice (also {seen_mrn[mrn]})."
    if row.identity in known:
        return "given_name", "A patient with these names and this date of birth is registered already."
    if row.identity in seen_person:
        return "given_name", f"The file lists this person twice (also {seen_person[row.identity]})."
    return None


def import_patients(report: Report) -> list[tuple[PatientRow, Patient]]:
    """Register every ready row, or none: a refused row anywhere refuses the file (DomainError)."""
    _refuse_unless_importable(report)
    # A row refused here (an MRN registered by someone else since the check) refuses the file; the
    # caller's savepoint (web.forms.submit, or the CLI's transaction) undoes the rows added before it.
    return [(row, register_patient(mrn=row.mrn, **row.fields)) for row in report.ready]


def _refuse_unless_importable(report: Report) -> None:
    if report.file_refusal:
        raise DomainError({"import_file": report.file_refusal})
    if report.refused_rows:
        raise DomainError({"import_file": f"{report.filename}: {report.refused_rows} row(s) refused; nothing was "
                                          "imported. Correct them and upload the file again."})
    if not report.ready:
        raise DomainError({"import_file": f"{report.filename}: nothing to import (every row is recorded "
                                          "already)."})


# -- measure history -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeasureTarget:
    """A measure row with the course it is filed under."""
    row: MeasureRow
    course: TreatmentCourse


def _courses_by_mrn(mrns: set[str]) -> dict[str, tuple[Patient, list[TreatmentCourse]]]:
    """Each known MRN (lower case) with its patient and their courses, oldest first."""
    found: dict[str, tuple[Patient, list[TreatmentCourse]]] = {}
    if not mrns:
        return found
    patients = db.session.scalars(select(Patient).where(func.lower(Patient.mrn).in_(mrns))).all()
    for patient in patients:
        found[patient.mrn.lower()] = (patient, [])
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id.in_(
        [p.id for p in patients])).order_by(TreatmentCourse.start_date, TreatmentCourse.id)).all()
    by_id = {p.id: p for p in patients}
    for course in courses:
        found[by_id[course.patient_id].mrn.lower()][1].append(course)
    return found


def course_for(courses: list[TreatmentCourse], day: date) -> TreatmentCourse:
    """The course a measure of `day` is filed under: the last one started on or before it; a measure
    before the first course (a baseline, a referral's scores) goes to the first."""
    started = [c for c in courses if c.start_date <= day]
    return started[-1] if started else courses[0]


def _lock_patients(patient_ids: list[int]) -> None:
    """Hold the file's patients until the transaction ends, before reading what they have recorded: two
    imports of one file at once take turns, and the second finds the first's questionnaires recorded
    (on PostgreSQL both read "nothing recorded" and both wrote, two safety alerts too; SQLite's writers
    take turns already). In id order, so two files of the same patients cannot deadlock."""
    if patient_ids:
        db.session.execute(select(Patient.id).where(Patient.id.in_(patient_ids)).order_by(Patient.id)
                           .with_for_update(key_share=True))


def _recorded(patient_ids: list[int]) -> dict[tuple, list]:
    if not patient_ids:
        return {}
    rows = db.session.execute(select(MeasureResponse.patient_id, MeasureResponse.measure,
                                     MeasureResponse.administered_on, MeasureResponse.answers)
                              .where(MeasureResponse.patient_id.in_(patient_ids),
                                     MeasureResponse.voided_at.is_(None)))
    recorded: dict[tuple, list] = {}
    for patient_id, measure, day, answers in rows:
        recorded.setdefault((patient_id, measure, day), []).append(tuple(answers))
    return recorded


def check_measures(report: Report, today: date) -> Report:
    """Match each row to its patient (by MRN) and course; refuse an unknown or archived patient, a
    patient without a course, a date in the future or before the record allows, and a questionnaire of
    the same measure and day recorded with other answers; skip one recorded with the same answers."""
    rows: list[MeasureRow] = report.ready
    courses = _courses_by_mrn({r.mrn.lower() for r in rows})
    patient_ids = sorted(patient.id for patient, _courses in courses.values())
    _lock_patients(patient_ids)
    recorded = _recorded(patient_ids)
    ready, seen = [], {}
    for row in rows:
        target = _target(report, row, courses, today)
        if target is None:
            continue
        key = (target.course.patient_id, row.measure, row.administered_on)
        if row.answers in recorded.get(key, ()):
            report.skipped.append(reading.Refusal(row.where, "", "recorded already with the same answers: skipped."))
        elif key in recorded:
            report.refuse(row.where, "answers", "A questionnaire of this measure is recorded for this patient on "
                                                "this day with other answers: void it first, or correct the file.")
        elif key in seen:
            report.refuse(row.where, "answers", f"The file gives this measure for this patient and day twice "
                                                f"(also {seen[key]}).")
        else:
            ready.append(target)
            seen[key] = row.where
    report.ready = ready
    return report


def _target(report: Report, row: MeasureRow, courses: dict, today: date) -> MeasureTarget | None:
    found = courses.get(row.mrn.lower())
    if found is None:
        report.refuse(row.where, "subject.identifier", "No patient has this MRN: import the patient first.")
        return None
    patient, patient_courses = found
    # archived first: enrolling is closed to an archived record (patients/detail.html), so telling
    # staff to enrol such a patient sent them to a button that is not there
    if patient.is_archived:
        report.refuse(row.where, "subject.identifier", "This patient's record is archived: restore the "
                                                       "record first.")
        return None
    if not patient_courses:
        report.refuse(row.where, "subject.identifier", "This patient has no treatment course to file the "
                                                       "measure under: enrol them first.")
        return None
    course = course_for(patient_courses, row.administered_on)
    if row.administered_on > today:
        report.refuse(row.where, "date", "The date is in the future.")
        return None
    earliest = earliest_measure_day(course)
    if row.administered_on < earliest:
        report.refuse(row.where, "date", f"The date is before {earliest.isoformat()}, a year before the "
                                         "patient was registered.")
        return None
    return MeasureTarget(row, course)


def import_measures(report: Report, *, by: User, today: date) -> list[tuple[MeasureTarget, MeasureResponse]]:
    """Record every ready questionnaire, or none (DomainError). Each is recorded as a clinician's entry
    is (notes.services.record_measure): scored, and raising the safety alert its answers meet."""
    _refuse_unless_importable(report)
    return [(target, record_measure(target.course, measure=target.row.measure, answers=list(target.row.answers),
                                    difficulty=None, administered_on=target.row.administered_on, by=by,
                                    today=today))
            for target in report.ready]


def check(report: Report) -> Report:
    """The database's checks for the report's kind (nothing to check for a refused file)."""
    if report.file_refusal:
        return report
    return check_patients(report) if report.kind == PATIENTS else check_measures(report, clinic_today())


def import_file(report: Report, *, by: User, today: date, audit_user_id: int | None = None) -> int:
    """Import the report's rows, all or nothing, and audit each: one row per patient registered or
    questionnaire recorded, naming the patient and the file's row it came from (`audit_user_id`: the
    actor of a command-line import, which has no signed-in user)."""
    if report.kind == PATIENTS:
        for row, patient in import_patients(report):
            audit.record("patient.import", obj=patient, patient_id=patient.id, user_id=audit_user_id,
                         detail=f"{report.filename[:120]}, {row.where}")
    else:
        for target, response in import_measures(report, by=by, today=today):
            audit.record("measure.import", obj=response, patient_id=response.patient_id, user_id=audit_user_id,
                         detail=f"{response.measure}; {report.filename[:120]}, {target.row.where}")
    return len(report.ready)


def summary(report: Report) -> str:
    """An audit row's detail for a file: its name and counts, never a row's content."""
    if report.file_refusal:
        return f"file refused: {report.file_refusal}"[:200]
    return (f"{KINDS[report.kind]}: {report.filename[:100]}; {report.rows} rows, {len(report.ready)} ready, "
            f"{report.refused_rows} refused, {len(report.skipped)} skipped")[:200]
