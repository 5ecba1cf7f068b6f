"""FHIR export (issue 25 point 1): every resource of the demo clinic validates with fhir.resources'
R4B models, per patient and in the bulk files; a process note's text never leaves in either; the
download is the care-team therapist's and audited; the bulk writer reads in batches of constant cost."""
from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from sqlalchemy import event, select

from ketamine_integration.extensions import db
from ketamine_integration.fhir import codes
from ketamine_integration.fhir.export import bulk_steps, patient_bundle, write_bulk
from ketamine_integration.notes import services as notes
from ketamine_integration.notes.models import SIGNED, SessionNote
from ketamine_integration.patients.models import Patient
from tests.integration.test_coordination import PROCESS_SECRET, team  # noqa: F401  (the fixture)

# The export reads values through Python the same on both engines (see test_fhir_round_trip.py); the
# batched reads' statement counts run on both in `make test`, the rest on PostgreSQL in `make test-all-engines`.
CANARY = "Zq7-PROCESS-CANARY-fhir-0931"
#: every resource type the issue lists
EXPECTED_TYPES = {"Patient", "Practitioner", "CareTeam", "EpisodeOfCare", "Appointment", "Encounter",
                  "MedicationAdministration", "Observation", "QuestionnaireResponse", "Questionnaire", "Consent",
                  "DocumentReference", "CarePlan", "Goal", "Communication", "AdverseEvent"}


def _validate(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _read_ndjson(folder: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted(folder.glob("*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        out[path.stem] = [json.loads(line) for line in lines]
        assert all(r["resourceType"] == path.stem for r in out[path.stem]), path.name
    return out


def _readable(value) -> str:
    """`value` as JSON text, with every attachment's data decoded: a note's text goes out base64 (a PDF's
    bytes that are not UTF-8 are replaced; text in them still reads)."""
    return json.dumps(value) + "".join(base64.b64decode(data).decode("utf-8", "replace")
                                       for data in _attachment_data(value))


def _attachment_data(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["data"]] if "contentType" in value and isinstance(value.get("data"), str) else []
        return found + [d for v in value.values() for d in _attachment_data(v)]
    if isinstance(value, list):
        return [d for v in value for d in _attachment_data(v)]
    return []


def _add_process_canaries(limit: int = 5) -> int:
    """Each of a few signed demo notes gets a process note by its author holding the canary."""
    rows = db.session.scalars(select(SessionNote).where(SessionNote.status == SIGNED)
                              .order_by(SessionNote.id).limit(limit)).all()
    for note in rows:
        notes.save_process_note(note, body=f"{CANARY} note {note.id}", by=note.author, expected_version=None)
    db.session.commit()
    return len(rows)


@dataclass
class DemoExport:
    """The demo clinic's record as exported with a few process notes present: each patient's Bundle
    (in patient id order), the bulk files' folder and write_bulk's counts."""
    canaries: int
    bundles: list[dict]
    bulk: Path
    counts: dict[str, int]


#: one export per engine (per xdist worker): two tests read it, and the export and its validation
#: were most of their time (cProfile: the library's validation and serialisation of every resource)
_DEMO_EXPORTS: dict[str, DemoExport] = {}


@pytest.fixture
def demo_export(databases, request, tmp_path_factory) -> DemoExport:
    """The demo clinic exported per patient and in bulk files (batches of 7), made by the first test
    that asks, on its copy of the demo clinic. The canaries go in first, so no reader sees an export
    made without process notes; the app (a demo copy) is only made for the test that builds."""
    if databases.name not in _DEMO_EXPORTS:
        make = request.getfixturevalue("make")
        canaries = make.query(_add_process_canaries)
        patient_ids = make.query(lambda: db.session.scalars(select(Patient.id).order_by(Patient.id)).all())
        bundles = [make.query(lambda: patient_bundle(patient_id)) for patient_id in patient_ids]
        folder = tmp_path_factory.mktemp(f"fhir-demo-{databases.name}") / "bulk"
        result = make.query(lambda: write_bulk(folder, batch=7))
        _DEMO_EXPORTS[databases.name] = DemoExport(canaries, bundles, folder, result.counts)
    return _DEMO_EXPORTS[databases.name]


def _validate_once(resources, validated: set[str]) -> None:
    """Each distinct resource validated once: a patient's Bundle repeats the Questionnaires and its
    Practitioners, and the bulk files hold the same resources again; validation depends on the
    resource's content alone, so a second copy would pass or fail as the first did."""
    for resource in resources:
        key = json.dumps(resource, sort_keys=True)
        if key not in validated:
            _validate(resource)
            validated.add(key)


@pytest.mark.demo_clinic
def test_the_demo_clinic_validates_and_no_process_note_leaves(demo_export):
    assert demo_export.canaries == 5
    bundle_model, validated = get_fhir_model_class("Bundle"), set()
    per_patient, seen_ids = Counter(), Counter()
    bundle_model.model_validate(demo_export.bundles[0])  # a whole Bundle, entries as their own types
    for bundle in demo_export.bundles:
        text = _readable(bundle)
        assert CANARY not in text and "process_note" not in text
        # every Bundle, its entries each as its own resource type (test_a_bundle_validates_its_entries...)
        bundle_model.model_validate({k: v for k, v in bundle.items() if k != "entry"})
        assert all(entry.keys() == {"resource"} for entry in bundle["entry"])
        _validate_once((entry["resource"] for entry in bundle["entry"]), validated)
        for entry in bundle["entry"]:
            per_patient[entry["resource"]["resourceType"]] += 1
            seen_ids[(entry["resource"]["resourceType"], entry["resource"]["id"])] += 1
    assert set(per_patient) == EXPECTED_TYPES
    # shared: the Questionnaires; nothing else repeats oddly
    assert max(seen_ids.values()) == len(demo_export.bundles)

    files = _read_ndjson(demo_export.bulk)
    assert set(files) == EXPECTED_TYPES and demo_export.counts == {k: len(v) for k, v in files.items()}
    for resources in files.values():
        _validate_once(resources, validated)
        ids = [r["id"] for r in resources]
        assert len(ids) == len(set(ids)), "ids are unique within a type"
    assert CANARY not in "".join(p.read_text() for p in demo_export.bulk.glob("*.ndjson")) + _readable(files)
    # the clinic's files hold what the patients' bundles hold (Questionnaires and Practitioners once each)
    for kind, count in per_patient.items():
        if kind not in {"Questionnaire", "Practitioner"}:
            assert len(files[kind]) == count, kind


def test_a_bundle_validates_its_entries_each_as_its_own_resource_type():
    """What the demo clinic's test counts on to validate each resource once, alone: an entry the Bundle
    holds is validated as the model of its resourceType, so an entry validated alone is refused or taken
    as it is inside a Bundle."""
    bundle_model = get_fhir_model_class("Bundle")
    entry = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "PHQ-9 total"}}
    as_bundle = bundle_model.model_validate({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": entry}]})
    assert type(as_bundle.entry[0].resource) is get_fhir_model_class("Observation")
    without_code = {k: v for k, v in entry.items() if k != "code"}
    for broken in (without_code, {**entry, "effectiveDateTime": "2026-13-45"}, {**entry, "valueInteger": "twelve"},
                   {**entry, "notAnElement": 1}):
        with pytest.raises(ValidationError):
            _validate(broken)
        with pytest.raises(ValidationError):
            bundle_model.model_validate({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": broken}]})


@pytest.mark.demo_clinic
def test_references_in_the_bulk_files_resolve_and_measures_carry_loinc(demo_export):
    files = _read_ndjson(demo_export.bulk)
    known = {f"{kind}/{r['id']}" for kind, rows in files.items() for r in rows}
    dangling = {ref for rows in files.values() for r in rows for ref in _references(r) if ref not in known}
    assert dangling == set()
    totals = [o for o in files["Observation"] if o["code"]["coding"][0]["code"] == "44261-6"]
    assert totals and all(isinstance(o["valueInteger"], int) and o["derivedFrom"] for o in totals)
    item9 = [o for o in files["Observation"] if o["code"]["coding"][0]["code"] == "44260-8"]
    assert item9, "PHQ-9 item 9 is exported LOINC-coded"
    phq9 = next(q for q in files["Questionnaire"] if q["url"] == codes.QUESTIONNAIRE + "phq9")
    assert phq9["code"][0]["code"] == "44249-1" and len([i for i in phq9["item"] if i["linkId"] != "difficulty"]) == 9
    doses = files["MedicationAdministration"]
    assert any(d["dosage"]["route"]["coding"][0]["system"] == codes.SNOMED and d["dosage"]["dose"]["unit"] == "mg"
               for d in doses if "dosage" in d)
    bp = [o for o in files["Observation"] if o["code"]["coding"][0]["code"] == "85354-9"]
    assert bp and all({c["code"]["coding"][0]["code"] for c in o["component"]} <= {"8480-6", "8462-4"} for o in bp)
    assert all(r["identifier"][0]["system"] == codes.MRN for r in files["Patient"])


def _references(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def test_the_care_team_therapist_downloads_the_bundle_and_it_is_audited(app, make, auth, team):
    auth.sign_in("ther")
    response = auth.client.get(f"/patients/{team['patient']}/export/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="fhir-record-')
    body = response.get_data(as_text=True)
    assert PROCESS_SECRET not in body and "Countertransference" not in body
    bundle = json.loads(body)
    kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds["QuestionnaireResponse"] == 2 and kinds["MedicationAdministration"] == 1
    assert kinds["DocumentReference"] == 1  # the signed note; its process note stays with its author
    [row] = make.audit_rows(action="fhir.export")
    assert row.patient_id == team["patient"] and row.user_id == team["therapist"] and row.outcome == "success"


@pytest.mark.parametrize("username, status", [
    ("pres", 403),       # a prescriber learns the record through the reports a release allows
    ("desk", 403),       # staff see every patient's schedule, never clinical content
    ("elsewhere", 403),  # a clinician off the care team
])
def test_others_may_not_download_the_record(app, make, auth, team, username, status):
    auth.sign_in(username)
    assert auth.client.get(f"/patients/{team['patient']}/export/fhir").status_code == status
    assert make.audit_rows(action="fhir.export") == []


def test_a_resource_that_does_not_validate_refuses_the_download_with_a_message(app, make, auth, team, monkeypatch):
    """A mapping's bug: the therapist is sent back to the patient page with the reason (never an error
    page, never a Bundle without the resource); the attempt is audited as failed."""
    from ketamine_integration.fhir import export

    def broken(patient_id):
        raise export.InvalidResource("Patient/patient-1: a field the model refuses")
    monkeypatch.setattr(export, "patient_bundle", broken)
    auth.sign_in("ther")
    response = auth.client.get(f"/patients/{team['patient']}/export/fhir", follow_redirects=True)
    assert response.status_code == 200 and "FHIR file could not be made" in response.get_data(as_text=True)
    [row] = make.audit_rows(action="fhir.export")
    assert row.outcome == "failure" and row.patient_id == team["patient"]


def test_a_bulk_export_stopped_by_a_resource_leaves_no_files_and_says_why(app, make, team, tmp_path, monkeypatch):
    """Files written before the failure are removed: a part-export is never taken for a whole one, and
    the folder is free for the next run."""
    from ketamine_integration.fhir import export, people
    real, seen = people.practitioner_resource, []

    def second_fails(user):
        seen.append(user.id)
        if len(seen) == 2:
            raise export.InvalidResource(f"Practitioner/{user.id}: a field the model refuses")
        return real(user)
    monkeypatch.setattr(people, "practitioner_resource", second_fails)
    result = app.test_cli_runner().invoke(args=["export", "fhir", "--out", str(tmp_path / "out"), "--batch", "1"])
    assert result.exit_code != 0 and "did not validate, so no export was written" in result.output
    assert list((tmp_path / "out").glob("*.ndjson")) == []
    assert make.audit_rows(action="fhir.bulk_export") == []


def test_a_missing_patient_is_not_found(app, auth, team):
    auth.sign_in("ther")
    assert auth.client.get("/patients/999999/export/fhir").status_code == 404


def test_the_bulk_command_writes_the_files_audits_once_and_refuses_a_used_folder(app, make, team, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "fhir", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "Patient.ndjson: 4" not in result.output and "Patient.ndjson: 1" in result.output
    text = "".join(p.read_text() for p in (tmp_path / "out").glob("*.ndjson"))
    assert PROCESS_SECRET not in text and "Countertransference" not in text
    [row] = make.audit_rows(action="fhir.bulk_export")
    assert row.patient_id is None and "resources in" in row.detail
    again = runner.invoke(args=["export", "fhir", "--out", str(tmp_path / "out")])
    assert again.exit_code != 0 and "already holds NDJSON files" in again.output


def statements_per_step(app, make, folder: Path) -> list[int]:
    """The SQL statements each step of a bulk export with batches of one row runs."""
    with app.app_context():
        engine = db.engine
    counts: list[int] = []
    listener = lambda *args, **kwargs: counts.append(1)  # noqa: E731

    def steps():
        per_step, last = [], 0
        event.listen(engine, "before_cursor_execute", listener)
        try:
            for _ in bulk_steps(folder, batch=1):
                per_step.append(len(counts) - last)
                last = len(counts)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return per_step

    return make.query(steps)


@pytest.mark.both_engines  # SQL statement counts
def test_the_bulk_writer_reads_in_batches_of_constant_cost(app, make, team, tmp_path):
    """Each step is one batch; the statements a batch runs do not grow with the batches before it."""
    per_step = statements_per_step(app, make, tmp_path)
    # one patient, one course, 2 measures, 1 dose...: with a batch of one row, many steps, each a few statements
    assert len(per_step) >= 8 and max(per_step) <= 8, per_step


def test_the_patient_page_offers_the_download_to_the_treating_therapist_only(app, auth, team):
    auth.sign_in("ther")
    link = f"/patients/{team['patient']}/export/fhir"
    assert link in auth.client.get(f"/patients/{team['patient']}").get_data(as_text=True)
    auth.logout()
    auth.sign_in("pres")
    assert link not in auth.client.get(f"/patients/{team['patient']}").get_data(as_text=True)
