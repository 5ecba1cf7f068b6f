"""Imports (issue 25, point 3): patients from CSV and FHIR Patient, measure history from FHIR
QuestionnaireResponse and Observation; refused rows reported by row and field; a broken file changes
nothing. Both engines: the checks and the all-or-nothing write run against the real database."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.imports.patient_rows import MRN_SYSTEM
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text, todays_world

# Parsing and refusing a file happens before any SQL: those tests run on SQLite in `make test`.

CSV_GOOD = ("\ufeffmrn,given_name,family_name,preferred_name,date_of_birth,phone,email,emergency_contact_name,"
            "emergency_contact_relationship,emergency_contact_phone\r\n"
            "EXT-001,Wren,Quillfeather,,1984-03-07,555-0100,wren@example.org,Ash Quillfeather,sibling,555-0101\r\n"
            "EXT-002,Moss,Ivybank,Mo,1990-11-30,,,,,\r\n")
PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")
ANSWER = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}


@pytest.fixture
def clinic(make):
    """Staff, a therapist and a prescriber, and one patient (KI-900001) on their care team. Built once per
    day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "imports_clinic", lambda: _clinic_world(make))


def _clinic_world(make) -> dict:
    ids = {"staff": make.user("staff", username="desk"), "therapist": make.user("therapist", username="ther"),
           "prescriber": make.user("prescriber", username="pres")}
    ids["patient"] = make.patient(given_name="Tamsin", family_name="Sorrel", mrn="KI-900001",
                                  therapists=[ids["therapist"]], prescribers=[ids["prescriber"]])
    return ids


def _check(auth, kind: str, content, filename: str):
    return auth.post("/imports/check", {"kind": kind, "import_file": (BytesIO(_bytes(content)), filename)},
                     content_type="multipart/form-data")


def _run(auth, kind: str, content, filename: str, digest: str):
    return auth.post("/imports/run", {"kind": kind, "digest": digest,
                                      "import_file": (BytesIO(_bytes(content)), filename)},
                     content_type="multipart/form-data")


def _bytes(content) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8")


def _digest(response) -> str:
    return re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', response.get_data(as_text=True)).group(1)


def _count(make, model) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def _import(auth, kind, content, filename):
    checked = _check(auth, kind, content, filename)
    assert checked.status_code == 200, page_text(checked)
    return checked, _run(auth, kind, content, filename, _digest(checked))


@pytest.mark.both_engines  # lower(mrn) IN, dates IN, the all-or-nothing write
def test_a_csv_of_patients_is_checked_then_imported_whole_with_one_audit_row_each(clinic, make, auth):
    auth.sign_in("desk")
    checked, done = _import(auth, "patients", CSV_GOOD, "patients.csv")
    assert "Import 2 patients" in page_text(checked)
    assert done.status_code == 302
    # the patients have no care team yet: the message says what to do next
    assert ("Imported 2 patients from patients.csv. They have no care team yet: choose it with Edit on each patient's page."
            in page_text(auth.client.get(done.headers["Location"])))
    wren = make.query(lambda: db.session.scalar(select(Patient.id).where(Patient.mrn == "EXT-001")))
    page = auth.client.get(f"/patients/{wren}").get_data(as_text=True)
    assert f'href="/patients/{wren}/edit">Choose the care team</a>' in page
    patients = make.query(lambda: {p.mrn: (p.given_name, p.preferred_name, p.date_of_birth, p.email,
                                           p.emergency_contact_phone)
                                   for p in db.session.scalars(select(Patient).where(Patient.mrn.like("EXT-%")))})
    assert patients == {"EXT-001": ("Wren", None, date(1984, 3, 7), "wren@example.org", "555-0101"),
                        "EXT-002": ("Moss", "Mo", date(1990, 11, 30), None, None)}
    rows = make.query(lambda: [(r.action, r.patient_id is not None, r.detail) for r in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient.import").order_by(AuditEvent.id))])
    assert rows == [("patient.import", True, "patients.csv, row 2"), ("patient.import", True, "patients.csv, row 3")]


def test_refused_rows_are_reported_by_row_and_field_and_nothing_is_imported(clinic, make, auth):
    content = ("mrn,given_name,family_name,date_of_birth,phone,email,emergency_contact_name\n"
               "EXT-010,Rue,Okafor,1984-03-07,,,\n"                                  # fine on its own
               "EXT-011,,Okafor,1984-13-07,12,not-an-email,\n"                       # three fields wrong
               "KI-900001,Sol,Brightwater,1970-01-01,,,\n"                           # MRN in use
               "EXT-010,Tor,Okafor,1975-01-01,,,\n"                                  # MRN repeated in the file
               "EXT-012,Tamsin,Sorrel,1980-05-17,,,\n"                               # registered already
               "EXT-013,Vale,Ferns,1980-05-17,,,Kin Ferns\n"                         # a contact nobody can call
               "EXT-014,Too,Few\n")                                                  # too few values
    auth.sign_in("desk")
    before = _count(make, Patient)
    response = _check(auth, "patients", content, "clinic-export.csv")
    assert response.status_code == 422
    text = page_text(response)
    table = re.findall(r"<tr><td data-label=\"In the file\">([^<]+)</td><td data-label=\"Field\">([^<]+)</td>"
                       r"<td data-label=\"Problem\">([^<]+)</td></tr>", response.get_data(as_text=True))
    assert {(row, field) for row, field, _ in table} == {
        ("row 3", "given_name"), ("row 3", "date_of_birth"), ("row 3", "phone"), ("row 3", "email"),
        ("row 4", "mrn"), ("row 5", "mrn"), ("row 6", "given_name"), ("row 7", "emergency_contact_phone"),
        ("row 8", "(whole row)")}
    assert "Another patient already has this MRN." in text and "also row 2" in text
    assert "Import " not in re.sub(r"Import patients or measures|Import from", "", text.split("Report:")[1])
    # the confirmation cannot be forged past the report: the file is checked again and refused
    forged = _run(auth, "patients", content, "clinic-export.csv", "0" * 64)
    assert forged.status_code == 422 and _count(make, Patient) == before


@pytest.mark.parametrize("given, family, problem", [
    # review finding (issue 25): a Cyrillic letter for a Latin one made another person
    ("T\u0430msin", "Sorrel", "registered already"),               # Cyrillic а in the given name
    ("Tamsin", "\u0405\u043errel", "registered already"),          # Cyrillic Ѕ and о in the family name
    ("\uff34\uff41\uff4d\uff53\uff49\uff4e", "SORREL", "registered already"),  # full-width letters, any case
    # review finding (issue 25): capitals were folded before the lookup and found no Latin letter
    ("\u0422amsin", "Sorrel", "registered already"),               # Cyrillic capital Т
    ("\u03a4amsin", "\u0405orrel", "registered already"),          # Greek capital Τ, Cyrillic capital Ѕ
    # review finding (issue 25): characters that show nothing, and accents, made another person
    ("Tam\u200bsin", "Sorrel", "registered already"),              # zero-width space
    ("Tams\u200din", "Sorrel", "registered already"),              # zero-width joiner
    ("Tamsin", "Sor\u00adrel", "registered already"),               # soft hyphen
    ("\ufeffTamsin", "Sorrel", "registered already"),               # byte order mark
    ("Tamsin", "Sorrel\u200e", "registered already"),               # left-to-right mark
    ("Tamsin", "So\u034frrel", "registered already"),               # combining grapheme joiner
    ("Tamsin", "Sorre\u0301l", "registered already"),               # combining acute accent
    ("T\u00e1msin", "Sorrel", "registered already"),                # accented letter: one person (decided)
])
def test_a_lookalike_of_a_registered_patient_is_the_same_person(clinic, make, auth, given, family, problem):
    auth.sign_in("desk")
    before = _count(make, Patient)
    response = _check(auth, "patients", f"mrn,given_name,family_name,date_of_birth\nEXT-020,{given},{family},1980-05-17\n",
                      "p.csv")
    assert response.status_code == 422
    assert "A patient with these names and this date of birth is registered already." in page_text(response)
    assert _count(make, Patient) == before


def test_a_file_listing_one_person_twice_in_two_scripts_is_refused(clinic, make, auth):
    content = ("mrn,given_name,family_name,date_of_birth\n"
               "EXT-030,Wren,Quillfeather,1984-03-07\n"
               "EXT-031,\uff37\u0433en,Quillfe\u0430ther,1984-03-07\n"   # full-width W, Cyrillic г and а
               "EXT-032,Wren,Quillfeather,1985-03-07\n")                   # another day of birth: another person
    auth.sign_in("desk")
    text = page_text(_check(auth, "patients", content, "p.csv"))
    assert "The file lists this person twice (also row 2)." in text
    assert text.count("lists this person twice") == 1


@pytest.mark.parametrize("filename, content, message", [
    ("p.csv", b"\xff\xfe\x00m\x00r", "p.csv: is not UTF-8 text"),                       # UTF-16
    ("p.csv", b"name,dob\nA,1\n", "p.csv: row 1 (the header) names unknown column(s) name, dob"),
    ("p.csv", b"given_name,family_name\nA,B\n", "lacks the column(s) date_of_birth"),
    ("p.txt", b"given_name\n", "p.txt: is not a file this import reads: an import of patients reads .csv, .json "
                               "or .ndjson files."),
    ("p.json", b"[" * 100 + b"]" * 100, "nests JSON deeper than 32 levels"),
    ("p.json", b"{\"resourceType\": \"Bundle\", \"entry\": 5}", "Bundle.entry is not a list"),
    ("p.ndjson", b"{}\n{not json\n", "p.ndjson: line 2 is not JSON"),
    ("p.csv", b"given_name,family_name,date_of_birth\n" + b"A,B,1980-01-01\n" * 2001, "more than 2,000 rows"),
    ("p.csv", b"", "p.csv: is empty."),
])
def test_a_broken_file_is_refused_naming_it_and_changes_nothing(clinic, make, auth, filename, content, message):
    auth.sign_in("desk")
    before = _count(make, Patient)
    response = _check(auth, "patients", content, filename)
    assert response.status_code == 422 and message in page_text(response)
    assert _count(make, Patient) == before


@pytest.mark.both_engines  # a unique key's refusal inside a savepoint
def test_an_mrn_taken_between_the_check_and_the_import_refuses_the_whole_file(clinic, make, auth):
    auth.sign_in("desk")
    checked = _check(auth, "patients", CSV_GOOD, "patients.csv")
    make.patient(given_name="Late", family_name="Arrival", mrn="EXT-002")      # someone registered it meanwhile
    before = _count(make, Patient)
    response = _run(auth, "patients", CSV_GOOD, "patients.csv", _digest(checked))
    assert response.status_code == 422 and "Another patient already has this MRN." in page_text(response)
    assert _count(make, Patient) == before                                    # EXT-001 was not kept either


def _fhir_patient(mrn: str, given: str, family: str, birth: str, **extra) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
            "name": [{"use": "official", "family": family, "given": [given]}], "birthDate": birth, **extra}


def test_fhir_patients_in_a_bundle_and_in_ndjson(clinic, make, auth):
    first = _fhir_patient("EXT-100", "Juno", "Larkspur", "1979-04-02",
                          telecom=[{"system": "phone", "value": "555-0110"}, {"system": "email",
                                                                              "value": "juno@example.org"}],
                          contact=[{"name": {"text": "Pax Larkspur"}, "relationship": [{"text": "partner"}],
                                    "telecom": [{"system": "phone", "value": "555-0111"}]}])
    first["name"].append({"use": "nickname", "given": ["Jay"]})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": first}]}
    auth.sign_in("desk")
    assert _import(auth, "patients", json.dumps(bundle), "patients.json")[1].status_code == 302
    second = _fhir_patient("EXT-101", "Kit", "Marram", "1988-08-08")
    assert _import(auth, "patients", json.dumps(second) + "\n", "more.ndjson")[1].status_code == 302
    found = make.query(lambda: {p.mrn: (p.display_name, p.phone, p.email, p.emergency_contact_name,
                                        p.emergency_contact_relationship) for p in db.session.scalars(
        select(Patient).where(Patient.mrn.in_(["EXT-100", "EXT-101"])))})
    assert found == {"EXT-100": ("Juno (Jay) Larkspur", "555-0110", "juno@example.org", "Pax Larkspur", "partner"),
                     "EXT-101": ("Kit Marram", None, None, None, None)}


def test_a_fhir_patient_that_fhir_itself_refuses_is_reported_by_element(clinic, make, auth):
    bad = _fhir_patient("EXT-200", "Lee", "Nettle", "1985-02-30")                # no 30 February
    bad["favouriteColour"] = "teal"                                              # no such element
    auth.sign_in("desk")
    response = _check(auth, "patients", json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": bad}, {"resource": {"resourceType": "Observation"}}]}), "p.json")
    assert response.status_code == 422
    text = page_text(response)
    assert "entry 1" in text and "birthDate" in text and "favouriteColour" in text
    assert "Not imported: Observation 1" in text and "entry 2" not in text   # another kind is counted, not refused


def _questionnaire(mrn: str, answers, authored: str, total: int | None = None) -> dict:
    items = [{"linkId": code, "answer": [{"valueCoding": {"system": "http://loinc.org", "code": ANSWER[a]}}]}
             for code, a in zip(PHQ9_ITEMS, answers)]
    if total is not None:
        items.append({"linkId": "44261-6", "answer": [{"valueInteger": total}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://loinc.org/q/44249-1", "subject": {"identifier": {"system": MRN_SYSTEM,
                                                                                      "value": mrn}},
            "authored": authored, "item": items}


def _observation(mrn: str, answers, when: str, total: int) -> dict:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "69737-5"}]},
            "subject": {"identifier": {"system": MRN_SYSTEM, "value": mrn}}, "effectiveDateTime": when,
            "valueInteger": total,
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "valueInteger": a}
                          for code, a in zip(("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8",
                                              "69736-7"), answers)]}


@pytest.mark.both_engines  # lower(mrn) IN
def test_measure_history_is_matched_by_mrn_filed_under_the_course_and_scored(clinic, make, auth):
    course = make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    day = date.today() - timedelta(days=3)
    ndjson = "\n".join(json.dumps(r) for r in (
        _questionnaire("KI-900001", [1, 1, 2, 1, 0, 1, 1, 0, 1], f"{day}T14:00:00-05:00", total=8),
        _observation("ki-900001", [2, 2, 1, 1, 0, 1, 0], f"{day}T10:00:00Z", total=7)))
    auth.sign_in("desk")
    done = _import(auth, "measures", ndjson, "history.ndjson")[1]
    assert done.status_code == 302
    stored = make.query(lambda: sorted((r.measure, r.course_id, r.administered_on, r.total, r.band, r.answers)
                                       for r in db.session.scalars(select(MeasureResponse))))
    assert stored == [("gad7", course, day, 7, "Mild", [2, 2, 1, 1, 0, 1, 0]),
                      ("phq9", course, day, 8, "Mild", [1, 1, 2, 1, 0, 1, 1, 0, 1])]
    # item 9 answered above 0 raises the safety alert, as a clinician's entry would
    assert _count(make, SafetyAlert) == 1
    # the same file again: every questionnaire is recorded already, so nothing is imported twice
    again = _check(auth, "measures", ndjson, "history.ndjson")
    assert "Nothing to import: every row is recorded already." in page_text(again)
    assert _count(make, MeasureResponse) == 2


def test_measure_rows_refused_by_row_and_field(clinic, make, auth):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    no_course = make.patient(given_name="Ula", family_name="Thorn", mrn="KI-900002")
    assert no_course
    future = date.today() + timedelta(days=3)
    past = date.today() - timedelta(days=2)
    wrong_total = _questionnaire("KI-900001", [0] * 9, f"{past}", total=5)
    bad_answer = _questionnaire("KI-900001", [0] * 9, f"{past}")
    bad_answer["item"][3]["answer"] = [{"valueInteger": 7}]
    missing_item = _questionnaire("KI-900001", [0] * 8, f"{past}")
    text_score = _questionnaire("KI-900001", [0] * 9, f"{past}")
    text_score["item"][2]["answer"] = [{"valueInteger": "1"}]
    other_system = _questionnaire("KI-900001", [0] * 9, f"{past}")
    other_system["item"][5]["answer"][0]["valueCoding"]["system"] = "http://snomed.info/sct"
    rows = [wrong_total,                                                           # line 1: total disagrees
            bad_answer,                                                            # line 2: 7 is no answer
            missing_item,                                                          # line 3: item 9 missing
            _questionnaire("KI-404", [0] * 9, f"{past}"),                          # line 4: unknown MRN
            _questionnaire("KI-900002", [0] * 9, f"{past}"),                       # line 5: no course
            _questionnaire("KI-900001", [0] * 9, f"{future}"),                     # line 6: the future
            _questionnaire("KI-900001", [0] * 9, "1990-01-01"),                    # line 7: before the record
            dict(_questionnaire("KI-900001", [0] * 9, f"{past}"), status="in-progress"),  # line 8
            text_score,                                                            # line 9: "1" is no integer
            other_system]                                                          # line 10: LOINC's code, not LOINC
    auth.sign_in("desk")
    response = _check(auth, "measures", "\n".join(json.dumps(r) for r in rows), "h.ndjson")
    assert response.status_code == 422
    table = {(row, field) for row, field in re.findall(
        r"<tr><td data-label=\"In the file\">([^<]+)</td><td data-label=\"Field\">([^<]+)</td>", response.get_data(as_text=True))}
    assert table == {("line 1", "total"), ("line 2", "item[3]"), ("line 3", "item"),
                     ("line 4", "subject.identifier"), ("line 5", "subject.identifier"), ("line 6", "date"),
                     ("line 7", "date"), ("line 8", "status"), ("line 9", "item[2].answer[0].valueInteger"),
                     ("line 10", "item[5]")}
    assert "disagrees with the sum of the item answers" in page_text(response)
    assert "FHIR's valueInteger is an integer" in page_text(response)
    assert "codes its answer LA6568-5 in http://snomed.info/sct" in page_text(response)
    assert _count(make, MeasureResponse) == 0


@pytest.mark.parametrize("with_course", [
    False,  # review finding (issue 25): told "enrol them first", but enrolling is closed to an archived record
    True,   # with a course, the same words
])
def test_an_archived_patient_s_measures_are_refused_asking_to_restore_the_record(clinic, make, auth, with_course):
    if with_course:
        make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    make.run(lambda: setattr(db.session.get(Patient, clinic["patient"]), "archived_at", utcnow()))
    auth.sign_in("desk")
    past = date.today() - timedelta(days=2)
    response = _check(auth, "measures", json.dumps(_questionnaire("KI-900001", [0] * 9, f"{past}")), "h.ndjson")
    assert response.status_code == 422
    text = page_text(response)
    assert "This patient's record is archived: restore the record first." in text
    assert "enrol them first" not in text
    assert _count(make, MeasureResponse) == 0


def test_the_page_says_what_a_file_holds_without_sending_staff_to_the_readme(clinic, auth):
    # new-user review (issue 25): the page pointed front-desk staff at a README they do not have
    auth.sign_in("desk")
    text = page_text(auth.client.get("/imports/"))
    assert "README" not in text
    assert ("mrn, given_name, family_name, preferred_name, date_of_birth, phone, email, emergency_contact_name, "
            "emergency_contact_relationship, emergency_contact_phone in any order; given_name, family_name, "
            "date_of_birth are required") in re.sub(r" ([,;])", r"\1", text)


def test_import_is_for_the_roles_that_register_patients(clinic, make, auth):
    auth.sign_in("ther")
    assert auth.client.get("/imports/").status_code == 403
    assert _check(auth, "patients", CSV_GOOD, "patients.csv").status_code == 403
    assert _count(make, Patient) == 1


@pytest.mark.both_engines  # the CLI's transaction, all or nothing
def test_the_command_line_checks_and_imports_all_or_nothing(clinic, make, app, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(CSV_GOOD, encoding="utf-8")
    bad.write_text(CSV_GOOD + "EXT-003,,X,1980-01-01,,,,,,\n", encoding="utf-8")
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["import", "patients", str(bad), "--as", "desk"])
    assert refused.exit_code == 1 and "row 4, given_name" in refused.output and _count(make, Patient) == 1
    checked = runner.invoke(args=["import", "patients", str(good), "--as", "desk", "--check"])
    assert checked.exit_code == 0 and "2 ready" in checked.output and _count(make, Patient) == 1
    done = runner.invoke(args=["import", "patients", str(good), "--as", "desk"])
    assert done.exit_code == 0, done.output
    assert _count(make, Patient) == 3
    assert runner.invoke(args=["import", "patients", str(good), "--as", "ther"]).exit_code == 1


def test_the_example_file_the_readme_points_to_imports(clinic, make, auth):
    content = (Path(__file__).parents[2] / "docs" / "imports" / "patients-example.csv").read_bytes()
    auth.sign_in("desk")
    assert _import(auth, "patients", content, "patients-example.csv")[1].status_code == 302
    assert _count(make, Patient) == 4


def test_a_second_upload_while_the_first_is_read_is_refused_429(clinic, make, auth, monkeypatch):
    from ketamine_integration.imports import services
    staff = clinic["staff"]
    monkeypatch.setattr(services, "_READING", {staff})                      # the first is still being read
    auth.sign_in("desk")
    response = _check(auth, "patients", CSV_GOOD, "patients.csv")
    assert response.status_code == 429 and "your previous upload is still being read" in page_text(response)
    monkeypatch.setattr(services, "_READING", set())
    assert _check(auth, "patients", CSV_GOOD, "patients.csv").status_code == 200


@pytest.mark.both_engines  # a refusal inside a savepoint undoes the rows before it
def test_a_row_refused_at_the_import_itself_refuses_the_file_and_says_why(clinic, make, auth, monkeypatch):
    """The race the second check cannot see: the MRN registered between the check and the write."""
    from ketamine_integration.imports import services
    auth.sign_in("desk")
    checked = _check(auth, "patients", CSV_GOOD, "patients.csv")
    make.patient(given_name="Late", family_name="Arrival", mrn="EXT-002")
    monkeypatch.setattr(services, "check_patients", lambda report: report)    # as if registered after it
    before = _count(make, Patient)
    response = _run(auth, "patients", CSV_GOOD, "patients.csv", _digest(checked))
    assert response.status_code == 422
    assert "Nothing was imported: Another patient already has this MRN." in page_text(response)
    assert _count(make, Patient) == before                                    # EXT-001 rolled back too


def test_a_bundle_shaped_as_the_fhir_export_writes_it_imports_its_measures(clinic, make, auth):
    """Patient, QuestionnaireResponse (the app's questionnaire url, numbered items, a reference to the
    Patient), its derived Observations and a voided response: the response is imported, the rest counted."""
    course = make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    day = (date.today() - timedelta(days=1)).isoformat()
    ref = {"reference": "Patient/patient-1"}
    answer = {"valueCoding": {"system": "http://loinc.org", "code": "LA6568-5"}}
    qr = {"resourceType": "QuestionnaireResponse", "id": "measure-1", "status": "completed", "subject": ref,
          "questionnaire": "urn:ketamine-integration:questionnaire:gad7", "authored": day,
          "item": [{"linkId": str(n), "answer": [answer]} for n in range(1, 8)]}
    derived = {"resourceType": "Observation", "status": "final", "subject": ref, "effectiveDateTime": day,
               "code": {"coding": [{"system": "http://loinc.org", "code": "70274-6"}]}, "valueInteger": 0,
               "derivedFrom": [{"reference": "QuestionnaireResponse/measure-1"}]}
    voided = dict(qr, id="measure-2", status="entered-in-error")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in (
        {"resourceType": "Patient", "id": "patient-1",
         "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": "KI-900001"}]}, qr, derived, voided)]}
    auth.sign_in("desk")
    checked, done = _import(auth, "measures", json.dumps(bundle), "fhir-record.json")
    assert "Not imported: Observation derived from a QuestionnaireResponse" in page_text(checked)
    assert done.status_code == 302
    stored = make.query(lambda: [(r.measure, r.course_id, r.total) for r in db.session.scalars(select(MeasureResponse))])
    assert stored == [("gad7", course, 0)]


def test_an_imported_phone_needs_digits_to_dial(clinic, make, auth):
    """The import reads with the registration form's rules (imports/patient_rows.py): a phone of dots
    or brackets only was imported. A quoted MRN ending in line breaks is trimmed like every value before
    the check (so it passes as EXT-022); the registration form, which does not trim, refuses one."""
    content = ("mrn,given_name,family_name,date_of_birth,phone,emergency_contact_name,emergency_contact_phone\r\n"
               "EXT-020,Rue,Okafor,1984-03-07,.......,,\r\n"                       # no digit
               "EXT-021,Tor,Okafor,1975-01-01,555-0100,Kin Okafor,(((())))\r\n"    # the contact's: none either
               '"EXT-022\n\n",Sel,Okafor,1975-01-01,555-0100,,\r\n'                 # trimmed: passes
               "EXT-023,Ula,Okafor,1975-02-01,555-0101,,\r\n")                     # fine
    auth.sign_in("desk")
    before = _count(make, Patient)
    response = _check(auth, "patients", content, "phones.csv")
    assert response.status_code == 422
    table = re.findall(r"<tr><td data-label=\"In the file\">([^<]+)</td><td data-label=\"Field\">([^<]+)</td>"
                       r"<td data-label=\"Problem\">([^<]+)</td></tr>", response.get_data(as_text=True))
    assert {(row, field) for row, field, _ in table} == {("row 2", "phone"), ("row 3", "emergency_contact_phone")}
    assert _count(make, Patient) == before


def test_a_patient_page_s_own_fhir_bundle_imports_its_patient_and_counts_the_rest(clinic, make, auth):
    """The Bundle a patient page exports holds Practitioners, a CareTeam, an EpisodeOfCare... beside the
    Patient: a patients import reads the Patient and counts the others as not imported (the new user's
    review found the whole Bundle refused, one refusal per entry)."""
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    auth.sign_in("ther")
    bundle = auth.client.get(f"/patients/{clinic['patient']}/export/fhir").get_json()
    auth.logout()
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Practitioner", "CareTeam", "EpisodeOfCare"} <= kinds
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    for identifier in patient["identifier"]:   # the same person arriving from another clinic's records
        if identifier.get("system") == MRN_SYSTEM:
            identifier["value"] = "EXT-300"
    patient["name"] = [{"use": "official", "given": ["Oriel"], "family": "Brackwater"}]
    auth.sign_in("desk")
    checked, done = _import(auth, "patients", json.dumps(bundle), "patient-record.json")
    report = page_text(checked)
    assert "Import 1 patient" in report and "Refused 0" in report, report
    assert re.search(r"Not imported: [^.]*Practitioner", report), report
    assert done.status_code == 302
    assert make.query(lambda: db.session.scalars(select(Patient).where(Patient.mrn == "EXT-300")).one().display_name) \
        == "Oriel Brackwater"


def _quantity(**given) -> dict:
    return {"value": 1, **given}


def _observation_with(change) -> dict:
    # a date the import accepts whenever the suite runs: not ahead of today, not a year before the
    # patient was registered (a fixed date here was refused from its first anniversary on)
    obs = _observation("KI-900001", [1] * 7, f"{date.today() - timedelta(days=5)}T10:00:00-05:00", 7)
    change(obs)
    return obs


def _component_quantity(quantity):
    def change(obs):
        del obs["component"][0]["valueInteger"]
        obs["component"][0]["valueQuantity"] = quantity
    return change


def _total_quantity(quantity):
    def change(obs):
        del obs["valueInteger"]
        obs["valueQuantity"] = quantity
    return change


def _total_component(value):
    def change(obs):
        obs["component"].append({"code": {"coding": [{"system": "http://loinc.org", "code": "70274-6"}]},
                                 "valueInteger": value})
    return change


def _report_fields(response) -> set[str]:
    return set(re.findall(r"<td data-label=\"Field\">([^<]+)</td>", response.get_data(as_text=True)))


@pytest.mark.parametrize("change, field, message", [
    # review finding (issue 25): a valueQuantity slipped past the strictness of valueInteger
    (_component_quantity(_quantity(value="1")), "component[0].valueQuantity.value", "a score is a whole number"),
    (_component_quantity(_quantity(value=1.0)), "component[0].valueQuantity.value", "a score is a whole number"),
    (_component_quantity(_quantity(comparator=">=")), "component[0].valueQuantity.comparator", "a score is exact"),
    (_component_quantity(_quantity(unit="kg", system="http://unitsofmeasure.org", code="kg")),
     "component[0].valueQuantity.unit", "a score has no other unit"),
    (_total_quantity({"value": "7"}), "valueQuantity.value", "a score is a whole number"),
    (_total_quantity({"value": 7.0}), "valueQuantity.value", "a score is a whole number"),
    (_total_quantity({"value": 7, "comparator": ">="}), "valueQuantity.comparator", "a score is exact"),
    (_total_quantity({"value": 7, "code": "kg"}), "valueQuantity.code", "a score has no other unit"),
    # review finding (issue 25): a total component that disagreed with the Observation's value was ignored
    (_total_component(20), "component[7]", "a total given twice must agree"),
])
def test_a_loose_quantity_or_a_total_given_two_ways_refuses_the_observation(clinic, make, auth, change, field,
                                                                              message):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    auth.sign_in("desk")
    response = _check(auth, "measures", json.dumps(_observation_with(change)), "o.json")
    assert response.status_code == 422
    assert field in _report_fields(response) and message in page_text(response)
    assert _count(make, MeasureResponse) == 0


@pytest.mark.parametrize("text", [
    '{"value": 2e0}',     # the exponent form of 2: JSON reads it as a float
    '{"value": 1E0}',     # and of 1, capital E
])
def test_a_quantity_written_as_no_whole_number_refuses_the_observation(clinic, make, auth, text):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    obs = _observation_with(_component_quantity("@quantity@"))
    auth.sign_in("desk")
    response = _check(auth, "measures", json.dumps(obs).replace('"@quantity@"', text), "o.json")
    assert response.status_code == 422
    assert "component[0].valueQuantity.value" in _report_fields(response)


@pytest.mark.parametrize("change", [
    _component_quantity({"value": 1, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"}),
    _component_quantity({"value": 1}),                # no unit named
    _total_quantity({"value": 7, "unit": "{score}"}),
    _total_component(7),                              # the total twice, agreeing
])
def test_a_score_as_a_whole_quantity_or_an_agreeing_total_is_imported(clinic, make, auth, change):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    auth.sign_in("desk")
    done = _import(auth, "measures", json.dumps(_observation_with(change)), "o.json")[1]
    assert done.status_code == 302
    stored = make.query(lambda: [(r.measure, r.answers, r.total) for r in db.session.scalars(select(MeasureResponse))])
    assert stored == [("gad7", [1] * 7, 7)]
