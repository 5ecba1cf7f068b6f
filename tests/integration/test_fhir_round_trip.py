"""The demo clinic through the FHIR bulk export and back through the import (issue 25, point 1's round
trip; the import is point 3): `flask export fhir`, then `flask import patients` and `flask import measures`
into an empty migrated database, and every patient and measure response the importer claims to carry is
compared field by field with the source database itself (not with the export's files). What the export
writes and the import leaves out is listed in NOT_IMPORTED, each with the README's reason, and checked
to be present in the files, so nothing is dropped silently.

SQLite in `make test`, PostgreSQL in `make test-all-engines` (not `both_engines`): what is compared are
values both commands carry through Python (strings, dates, JSON answer lists); the engine-specific parts
of each half (the importer's checks and savepoints, the exporter's batched reads) run on both engines in
`make test` already (test_imports.py, test_fhir_export.py). This test costs about 6 s past the demo
clinic's copy (the export of the whole clinic about 4 of them, the import 1.2), paid once per engine."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ketamine_integration import create_app
from ketamine_integration.accounts.models import User
from ketamine_integration.domain.measures import MEASURES
from ketamine_integration.extensions import db
from ketamine_integration.fhir.export import validated
from ketamine_integration.fhir.people import patient_resource
from ketamine_integration.imports.patient_rows import RowChecker
from ketamine_integration.notes.models import MeasureResponse
from ketamine_integration.notes.services import void_measure
from ketamine_integration.patients.models import Patient
from ketamine_integration.patients.services import archive_patient, register_patient
from tests.databases import app_settings
from tests.factories import Factories

SUITE = "FHIR round trip"

#: what the importer reads from a FHIR Patient (README, Imports) and the round trip compares. The Patient
#: model holds no sex or gender field, so neither half carries one.
PATIENT_FIELDS = ("mrn", "given_name", "family_name", "preferred_name", "date_of_birth", "phone", "email",
                  "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone")
#: a measure response is found by its patient's MRN, its measure and its day (the clinic's day it was
#: administered: the export writes it as a date, so no zone can shift it); these are its values. The band is
#: recomputed by the import's scoring: compared too.
RESPONSE_FIELDS = ("answers", "total", "band")

#: (file, what) -> why the import leaves it out (README, Imports and FHIR export). Each key is checked to
#: occur in the export's files, so the list cannot name what is not there.
NOT_IMPORTED = {
    ("Patient", "active"): "an archived patient is registered again as active: the import registers "
                           "patients, it does not archive them",
    ("Patient", "id"): "the new database numbers its own rows: the MRN is the patient's identity",
    ("QuestionnaireResponse", "entered-in-error"): "a voided entry is not a record to import",
    ("QuestionnaireResponse", "item difficulty"): "the difficulty question is passed over",
    ("QuestionnaireResponse", "author"): "recorded as the importing user's entry: who entered it, "
                                         "whether the patient answered in the portal, and the portal's "
                                         "moment are not carried",
    ("Observation", "issued"): "the time an entry was made (UTC); the import dates it by its day and "
                               "enters it at the time of the import",
    ("Observation", "derivedFrom"): "a measure's total and items again: the response is imported instead",
    ("Observation", "vital-signs"): "dosing records are not imported",
    ("CareTeam", "*"): "imported patients have no care team yet: add it on each patient's page",
    ("Practitioner", "*"): "users are not imported; the importing user enters the measure history",
    ("EpisodeOfCare", "*"): "courses are not imported: enrol the patient, and measures file under the course",
    ("Questionnaire", "*"): "the registry defines the measures; a response names its questionnaire by url",
    ("Appointment", "*"): "bookings are not imported",
    ("Encounter", "*"): "held sessions and doses are not imported",
    ("MedicationAdministration", "*"): "dosing records are not imported",
    ("Consent", "*"): "releases of information are not imported",
    ("DocumentReference", "*"): "notes, discharge summaries and reports are not imported",
    ("CarePlan", "*"): "treatment plans are not imported: a plan is written and signed for the course here",
    ("Goal", "*"): "a plan's objectives are not imported, with their plan",
    ("Communication", "*"): "coordination notes are not imported",
    ("AdverseEvent", "*"): "dosing records, and their adverse events, are not imported",
}
#: read by the import (Patient.ndjson for patients; the three for measures, the Patients resolving references)
IMPORTED_FILES = ("Patient", "QuestionnaireResponse", "Observation")


def _add_edge_cases() -> None:
    """What the demo clinic lacks, added to its copy (fictional): a preferred name equal to the given name,
    an emergency contact without a relationship, an emergency phone without a name, an archived patient
    with nothing but the required fields, a voided measure."""
    register_patient(mrn="RT-0001", given_name="Rowan", family_name="Quillfeather", preferred_name="Rowan",
                     date_of_birth=date(1979, 2, 28), emergency_contact_name="Ash Quillfeather",
                     emergency_contact_phone="555-0142")
    register_patient(mrn="RT-0002", given_name="Moss", family_name="Ivybank", date_of_birth=date(2000, 2, 29),
                     emergency_contact_phone="555-0143", email="Moss.Ivybank@example.org")
    archived = register_patient(mrn="RT-0003", given_name="Tamsin", family_name="Sorrel",
                                date_of_birth=date(1961, 12, 31))
    admin = db.session.scalar(select(User).order_by(User.id))
    archive_patient(archived, admin)
    response = db.session.scalar(select(MeasureResponse).where(MeasureResponse.measure == "phq9")
                                 .order_by(MeasureResponse.id))
    void_measure(response, reason="Entered for the wrong patient (round trip test).", by=admin)


def _patients() -> dict[str, tuple]:
    return {p.mrn: tuple(getattr(p, f) for f in PATIENT_FIELDS) for p in db.session.scalars(select(Patient))}


def _responses(voided: bool = False) -> dict[tuple, tuple]:
    """(MRN, measure, day) -> the response's values, of the entries that are not void (or only of those)."""
    rows = db.session.execute(select(Patient.mrn, MeasureResponse).join(Patient, Patient.id == MeasureResponse.patient_id)
                              .where(MeasureResponse.voided_at.is_not(None) if voided
                                     else MeasureResponse.voided_at.is_(None)))
    out = {}
    for mrn, r in rows:
        key = (mrn, r.measure, r.administered_on)
        assert voided or key not in out, f"two stored responses share {key}"
        out[key] = (list(r.answers), r.total, r.band)
    return out


def _source_coverage() -> Counter:
    """The cases the comparison must meet at least once, counted in the source (so it cannot pass vacuously)."""
    responses = db.session.scalars(select(MeasureResponse)).all()
    patients = db.session.scalars(select(Patient)).all()
    return Counter({
        "archived patients": sum(p.archived_at is not None for p in patients),
        "preferred names": sum(p.preferred_name is not None for p in patients),
        "emergency contacts": sum(p.emergency_contact_name is not None for p in patients),
        "voided responses": sum(r.voided_at is not None for r in responses),
        "responses with difficulty": sum(r.difficulty is not None for r in responses),
        "responses by the patient": sum(r.completed_by_patient for r in responses),
        "skipped items": sum(a is None for r in responses if r.voided_at is None for a in r.answers),
        "measures": len({r.measure for r in responses}),
    })


def _cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _joined(folder: Path, kinds: tuple[str, ...]) -> Path:
    """One NDJSON file of the export's files of `kinds`: a response's subject is a reference to a Patient,
    which the import resolves to an MRN from the Patients of the same file (README, Imports)."""
    out = folder.parent / "measures.ndjson"
    out.write_text("".join((folder / f"{kind}.ndjson").read_text(encoding="utf-8") for kind in kinds),
                   encoding="utf-8")
    return out


def _exported(folder: Path) -> dict[str, list[dict]]:
    return {path.stem: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for path in folder.glob("*.ndjson")}


def _not_imported_present(files: dict[str, list[dict]]) -> dict[tuple[str, str], bool]:
    """Whether each NOT_IMPORTED entry occurs in the files (a key or a value the importer passes over)."""
    def occurs(kind: str, what: str) -> bool:
        text = [json.dumps(r) for r in files.get(kind, [])]
        if what == "*":
            return bool(text)
        if what == "item difficulty":
            return any(i["linkId"] == "difficulty" for r in files[kind] for i in r.get("item", []))
        if what == "active":
            return any(r.get("active") is False for r in files[kind])
        return any(f'"{what}"' in t for t in text)
    return {key: occurs(*key) for key in NOT_IMPORTED}


def _import(target_app, target: Factories, bulk: Path) -> str:
    """Into the empty database: an importing user, the patients, a course for each (the import files
    measures under a course and imports none), then the measure history."""
    target.user("staff", username="importer")
    therapist, prescriber = target.user("therapist"), target.user("prescriber")
    out = _cli(target_app, "import", "patients", str(bulk / "Patient.ndjson"), "--as", "importer")
    ids = target.query(lambda: db.session.scalars(select(Patient.id).order_by(Patient.id)).all())
    for patient_id in ids:
        target.course(patient_id, therapist, prescriber)
    return out + _cli(target_app, "import", "measures", str(_joined(bulk, IMPORTED_FILES)), "--as", "importer")


def _mismatches(fields: tuple[str, ...], source: dict, imported: dict) -> list[tuple]:
    missing = (None,) * len(fields)
    return [(key, name, was, now) for key, values in source.items()
            for name, was, now in zip(fields, values, imported.get(key, missing)) if was != now]


@pytest.mark.demo_clinic
def test_the_demo_clinic_goes_out_as_fhir_and_comes_back_the_same(app, make, databases, tmp_path, figures):
    make.run(_add_edge_cases)
    source_patients, source_responses = make.query(_patients), make.query(_responses)
    voided, coverage = make.query(lambda: _responses(voided=True)), make.query(_source_coverage)
    bulk = tmp_path / "bulk"
    _cli(app, "export", "fhir", "--out", str(bulk))
    files = _exported(bulk)

    target_app = create_app(app_settings(databases.fresh()))  # PostgreSQL: the worker's database, emptied
    target_app.instance_path = str(tmp_path)
    target = Factories(target_app, "Fictional-round-trip-0219")
    try:
        output = _import(target_app, target, bulk)
        imported_patients, imported_responses = target.query(_patients), target.query(_responses)
    finally:
        with target_app.app_context():
            db.session.remove()
            db.engine.dispose()

    assert min(coverage.values()) > 0, coverage
    assert {measure for (_mrn, measure, _day) in source_responses} == set(MEASURES)  # every measure of the registry
    assert f"Imported {len(source_patients)} patients row(s)" in output
    assert f"Imported {len(source_responses)} measure history row(s)" in output
    assert set(imported_patients) == set(source_patients)
    assert set(imported_responses) == set(source_responses)  # voided entries are not among them
    mismatches = (_mismatches(PATIENT_FIELDS, source_patients, imported_patients)
                  + _mismatches(RESPONSE_FIELDS, source_responses, imported_responses))
    assert mismatches == []
    assert _not_imported_present(files) == {key: True for key in NOT_IMPORTED}
    assert set(files) - set(IMPORTED_FILES) == {kind for kind, what in NOT_IMPORTED if what == "*"}

    items = sum(1 for answers, _total, _band in source_responses.values() for a in answers if a is not None)
    figures.record(SUITE, "compared with the source database",
                   f"{len(source_patients)} patients × {len(PATIENT_FIELDS)} fields, {len(source_responses)} "
                   f"responses ({coverage['measures']} measures), {items} item answers, totals and bands: "
                   f"{len(mismatches)} mismatches; {len(voided)} voided and {len(NOT_IMPORTED)} kinds of element "
                   "not imported, each listed", engine=databases.name)


@pytest.mark.parametrize("fields, expected", [
    # a preferred name equal to the given name was dropped by the export (written only when it differed)
    ({"preferred_name": "Rowan"}, {"preferred_name": "Rowan"}),
    # a contact without a relationship came back with the role's words "Emergency contact" as one
    ({"emergency_contact_name": "Ash Quillfeather", "emergency_contact_phone": "555-0142"},
     {"emergency_contact_name": "Ash Quillfeather", "emergency_contact_relationship": None,
      "emergency_contact_phone": "555-0142"}),
    # an emergency phone without a name was not exported at all
    ({"emergency_contact_phone": "555-0143"}, {"emergency_contact_phone": "555-0143"}),
    # the relationship, when written, is carried as text
    ({"emergency_contact_name": "Ash", "emergency_contact_relationship": "sibling",
      "emergency_contact_phone": "555-0144"}, {"emergency_contact_relationship": "sibling"}),
])
def test_a_patients_edge_values_leave_and_come_back_unchanged(app, fields, expected):
    """Found by the round trip above: each row a value the export changed or dropped."""
    patient = Patient(id=7, mrn="RT-0007", given_name="Rowan", family_name="Quillfeather",
                      date_of_birth=date(1979, 2, 28), **fields)
    resource = validated(patient_resource(patient)).model_dump(mode="json")
    with app.test_request_context():
        row = RowChecker().fhir("line 1", resource)
    assert {name: row.fields[name] for name in expected} == expected
    assert row.fields | {"mrn": row.mrn} == {name: getattr(patient, name) for name in PATIENT_FIELDS}
