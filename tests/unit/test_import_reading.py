"""Import files read without a database: limits, CSV shape, FHIR documents, and LOINC-coded
questionnaires mapped to the measure registry (tables, a comment per row)."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.imports import reading
from ketamine_integration.imports.measure_rows import fhir_measure
from ketamine_integration.imports.patient_rows import CSV_HEADER, CSV_REQUIRED, MRN_SYSTEM
from ketamine_integration.imports.reading import Budget, FileRefused, NotARow, RowRefused

NY = ZoneInfo("America/New_York")
PHQ9 = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")


@pytest.mark.parametrize("data, expected", [
    ("given_name\n".encode("utf-8-sig"), "given_name\n"),         # a spreadsheet's byte-order mark is dropped
    ("Zoë\n".encode(), "Zoë\n"),                                   # UTF-8 letters kept
])
def test_decode_accepts_utf8_with_or_without_a_bom(data, expected):
    assert reading.decode("f.csv", data) == expected


@pytest.mark.parametrize("data, message", [
    (b"", "f.csv: is empty."),                                      # nothing at all
    (b"  \n", "f.csv: is empty."),                                  # blank lines only
    ("Zoë".encode("latin-1"), "f.csv: is not UTF-8 text (byte 3)"),  # a Latin-1 export
    (b"x" * (reading.MAX_BYTES + 1), "larger than 2 MB"),            # one byte over the limit
])
def test_decode_refuses_naming_the_file(data, message):
    with pytest.raises(FileRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        reading.decode("f.csv", data)


def _csv(text: str, **limits) -> list:
    return list(reading.csv_rows("f.csv", text, CSV_HEADER, CSV_REQUIRED, Budget("f.csv", **limits)))


@pytest.mark.parametrize("text, message", [
    ("given_name,family_name\n", "lacks the column(s) date_of_birth"),                  # a required column missing
    ("given_name,family_name,date_of_birth,ssn\n", "unknown column(s) ssn"),           # a column nobody reads
    ("given_name,family_name,date_of_birth,given_name\n", "names a column twice"),     # repeated
    ('given_name,family_name,date_of_birth\n"A,B,1980-01-01\n', "row 2 is not valid CSV"),  # an open quote
])
def test_a_header_or_quoting_the_file_cannot_be_read_by_refuses_the_file(text, message):
    with pytest.raises(FileRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        _csv(text)


def test_csv_rows_are_numbered_as_a_spreadsheet_numbers_them_and_blank_lines_are_skipped():
    rows = _csv("Given_Name , family_name,date_of_birth\r\nA,B,1980-01-01\r\n\r\nC,D\r\n,,\r\n")
    assert rows == [("row 2", {"given_name": "A", "family_name": "B", "date_of_birth": "1980-01-01"}),
                    ("row 4", {"": "has 2 values; the header has 3 columns."})]


def test_rows_past_the_limit_refuse_the_file_counting_not_timing():
    text = "given_name,family_name,date_of_birth\n" + "A,B,1980-01-01\n" * 4
    assert len(_csv(text, max_rows=4)) == 4
    with pytest.raises(FileRefused, match="more than 3 rows"):
        _csv(text, max_rows=3)


def test_the_time_limit_refuses_the_file_at_the_next_row():
    with pytest.raises(FileRefused, match="took longer than -1 s to read"):                # a deadline passed already
        _csv("given_name,family_name,date_of_birth\nA,B,1980-01-01\n", seconds=-1)


@pytest.mark.parametrize("text, where", [
    ('{"resourceType": "Patient"}', ["resource 1"]),                                           # one resource
    ('{"resourceType": "Bundle", "entry": [{"resource": {}}, {"resource": {}}]}', ["entry 1", "entry 2"]),
    ('{"resourceType": "Patient"}\n\n{"resourceType": "Patient"}\n', ["line 1", "line 3"]),   # NDJSON
    ('{"resourceType": "Bundle"}', []),                                                         # an empty Bundle
])
def test_fhir_documents_give_their_resources_with_where_they_are(text, where):
    assert [w for w, _ in reading.fhir_resources("f.json", text, Budget("f.json"))] == where


@pytest.mark.parametrize("text, message", [
    ("[" * 33 + "]" * 33, "nests JSON deeper than 32 levels"),                   # a nesting bomb, before json.loads
    ('{"a": "' + "[" * 40 + '"}', None),                                          # brackets inside a string do not count
    ('["Patient"]', "should start with '{'"),                                     # not an object
    ('{"resourceType": "Bundle", "entry": {}}', "Bundle.entry is not a list"),
    ('{}\n{"half": ', "line 2 is not JSON"),                                      # a broken NDJSON line
])
def test_fhir_documents_that_are_not_read(text, message):
    if message is None:
        assert len(list(reading.fhir_resources("f.json", text, Budget("f.json")))) == 1
        return
    with pytest.raises(FileRefused, match=message.replace("(", r"\(")):
        list(reading.fhir_resources("f.json", text, Budget("f.json")))


def _qr(answers, authored="2026-03-02", total=None, **changes) -> dict:
    items = [{"linkId": code, "answer": [answer if isinstance(answer, dict) else {"valueInteger": answer}]}
             for code, answer in zip(PHQ9, answers)]
    if total is not None:
        items.append({"linkId": "/44261-6", "answer": [{"valueInteger": total}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://loinc.org/q/44249-1|2.72", "authored": authored, "item": items,
            "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000001"}}, **changes}


CODED = {"valueCoding": {"system": "http://loinc.org", "code": "LA6571-9"}}   # "Nearly every day": 3


@pytest.mark.parametrize("resource, day, answers", [
    (_qr([0] * 9), date(2026, 3, 2), (0,) * 9),                                   # scores as integers
    (_qr([CODED] + [1] * 8, total=11), date(2026, 3, 2), (3,) + (1,) * 8),          # a LOINC answer code; total agrees
    # the clinic's day of a moment with an offset: 04:30 UTC on 8 March is 23:30 on 7 March in New York (EST)
    (_qr([0] * 9, authored="2026-03-08T04:30:00Z"), date(2026, 3, 7), (0,) * 9),
    # ...and 04:30 UTC on 1 November 2026 is 00:30 EDT on 1 November, the day the clocks go back
    (_qr([0] * 9, authored="2026-11-01T04:30:00Z"), date(2026, 11, 1), (0,) * 9),
    (_qr([0] * 9, authored="2026-03-08T23:30:00+01:00"), date(2026, 3, 8), (0,) * 9),  # 18:30 EDT in New York
])
def test_a_questionnaire_response_maps_to_the_phq9_by_loinc(resource, day, answers):
    row = fhir_measure("line 1", resource, NY)
    assert (row.measure, row.mrn, row.administered_on, row.answers) == ("phq9", "KI-000001", day, answers)


def _problems(resource) -> set[tuple[str, str]]:
    with pytest.raises(RowRefused) as refused:
        fhir_measure("line 1", resource, NY)
    return {(r.field, r.problem.split(";")[0].split(" (")[0]) for r in refused.value.refusals}


@pytest.mark.parametrize("resource, expected", [
    (_qr([1] * 9, total=8), {("total", "disagrees with the sum of the item answers")}),   # 9 ≠ 8
    (_qr([4] + [0] * 8), {("item[0]", "is not an answer PHQ-9 item 1 offers.")}),           # 4 is off the scale
    (_qr([0] * 8), {("item", "PHQ-9 item 9")}),                                              # item 9 unanswered
    (_qr([0] * 9, status="in-progress"), {("status", "is in-progress")}),                   # not completed
    (_qr([0] * 9, questionnaire="http://loinc.org/q/93245-9"), {("questionnaire", "names no measure this clinic records")}),
    (_qr([0] * 9, subject={"reference": "Patient/1"}), {("subject", "must name the patient by an identifier of system urn:ketamine-integration:mrn")}),
    (_qr([0] * 9, authored=None), {("authored", "is missing or not a full date")}),
    (_qr([0] * 9, authored="2026-03-08T23:30:00"), {("authored", "DateTime value string does not match spec regex.")}),  # FHIR: a time needs its offset
    ({"status": "final"}, {("resourceType", "is missing")}),
])
def test_a_questionnaire_response_refused_names_the_element(resource, expected):
    assert _problems({k: v for k, v in resource.items() if v is not None}) == expected


INTEGER = "must be a whole number written as one (1, not \"1\", true or 1.0): FHIR's valueInteger is an integer."
OTHER_SYSTEM = "codes its answer LA6571-9 in http://snomed.info/sct: an answer code is read in http://loinc.org or urn:ketamine-integration:measure only."


@pytest.mark.parametrize("answer, field, problem", [
    # review finding (issue 25): pydantic read each of these as the score 1
    ({"valueInteger": "1"}, "item[0].answer[0].valueInteger", INTEGER),    # a string
    ({"valueInteger": True}, "item[0].answer[0].valueInteger", INTEGER),   # a boolean
    ({"valueInteger": 1.0}, "item[0].answer[0].valueInteger", INTEGER),    # a decimal, however whole
    # a LOINC answer code under another system is not LOINC's answer
    ({"valueCoding": {"system": "http://snomed.info/sct", "code": "LA6571-9"}}, "item[0]", OTHER_SYSTEM),
    # ...nor under none
    ({"valueCoding": {"code": "LA6571-9"}}, "item[0]",
     "codes its answer LA6571-9 in no system: an answer code is read in http://loinc.org or urn:ketamine-integration:measure only."),
    # the export's own code under LOINC's system is no answer either
    ({"valueCoding": {"system": "http://loinc.org", "code": "phq9-1-3"}}, "item[0]", "is not an answer PHQ-9 item 1 offers."),
])
def test_a_score_is_read_as_fhir_types_it_and_a_code_in_its_own_system(answer, field, problem):
    with pytest.raises(RowRefused) as refused:
        fhir_measure("line 1", _qr([answer] + [0] * 8), NY)
    assert [(r.row, r.field, r.problem) for r in refused.value.refusals] == [("line 1", field, problem)]


def test_a_total_or_a_component_written_loosely_is_refused_by_its_element():
    codes = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "69737-5"}]},
                   "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000002"}},
                   "effectiveDateTime": "2026-02-01", "valueInteger": "7",
                   "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": c}]},
                                  "valueInteger": 1} for c in codes]}
    observation["component"][4]["valueInteger"] = False
    with pytest.raises(RowRefused) as refused:
        fhir_measure("entry 1", observation, NY)
    assert {r.field for r in refused.value.refusals} == {"valueInteger", "component[4].valueInteger"}


def test_an_observation_with_components_and_a_quantity_total_maps_to_the_gad7():
    codes = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "69737-5"}]},
                   "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000002"}},
                   "effectiveDateTime": "2026-02-01", "valueQuantity": {"value": 7, "unit": "{score}"},
                   "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": c}]},
                                  "valueInteger": 1} for c in codes]}
    row = fhir_measure("entry 1", observation, NY)
    assert (row.measure, row.answers, row.total) == ("gad7", (1,) * 7, 7)
    # review of issue 25: a total is a whole number written as one, as a valueInteger is
    for value in (7.0, 7.5):
        observation["valueQuantity"] = {"value": value}
        assert _problems(observation) == {("valueQuantity.value", "must be a whole number written as one")}


@pytest.mark.parametrize("text, message", [
    ('{"resourceType": "Patient", "x": 1' + "0" * 5000 + "}", "holds a number too long to read"),   # one document
    ('{"resourceType": "Patient"}\n{"x": 1' + "0" * 5000 + "}", "line 2 holds a number too long"),  # NDJSON
])
def test_a_number_python_will_not_read_refuses_the_file_not_the_server(text, message):
    with pytest.raises(FileRefused, match=message):
        list(reading.fhir_resources("f.json", text, Budget("f.json")))


@pytest.mark.parametrize("resource, kind", [
    ({"resourceType": "Patient"}, "Patient"),                                      # an export Bundle's patient
    (_qr([0] * 9, status="entered-in-error"), "QuestionnaireResponse entered in error"),   # voided at the source
    ({"resourceType": "Observation", "status": "final", "code": {"text": "PHQ-9 item 1"},
      "derivedFrom": [{"reference": "QuestionnaireResponse/measure-1"}]},
     "Observation derived from a QuestionnaireResponse"),                          # the response carries its answers
    ({"resourceType": "Observation", "status": "final", "effectiveDateTime": "2026-03-01T14:00:00Z",
      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs"}]}],
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "valueQuantity": {"value": 72},
      "subject": {"reference": "Patient/patient-1"}},
     r"Observation \(vital signs\)"),                                              # the export's dosing readings (round trip)
])
def test_resources_that_are_not_measures_to_import_are_counted_not_refused(resource, kind):
    with pytest.raises(NotARow, match=kind):
        fhir_measure("entry 1", resource, NY)


def test_the_apps_own_export_shape_is_read_by_item_number_and_patient_reference():
    """A QuestionnaireResponse as the FHIR export writes it: the clinic's own questionnaire url, items
    numbered 1..n, answers coded (LOINC answer codes, or the measure system's key-item-score), the subject
    a reference to a Patient of the same Bundle; the difficulty item is left out."""
    answer = {"valueCoding": {"system": "urn:ketamine-integration:measure", "code": "phq9-1-2"}}
    items = [{"linkId": "1", "answer": [answer]}] + [
        {"linkId": str(n), "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}]}
        for n in range(2, 10)] + [{"linkId": "difficulty", "answer": [{"valueCoding": {"code": "phq9-difficulty-very"}}]}]
    resource = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-01-05",
                "questionnaire": "urn:ketamine-integration:questionnaire:phq9", "item": items,
                "subject": {"reference": "Patient/patient-7"}}
    row = fhir_measure("entry 4", resource, NY, {"Patient/patient-7": "KI-000007"})
    assert (row.mrn, row.measure, row.answers, row.total) == ("KI-000007", "phq9", (2,) + (1,) * 8, 10)
    with pytest.raises(RowRefused, match="refer to a Patient in the file"):
        fhir_measure("entry 4", resource, NY, {})                                  # the Patient is not in the file


def test_a_measure_without_loinc_codes_is_read_by_the_exports_questionnaire_and_skipped_items_stay_skipped():
    """The C-SSRS screener: questions 3-5 only after a yes to question 2; the export leaves them out."""
    items = [{"linkId": str(n), "answer": [{"valueInteger": v}]} for n, v in ((1, 1), (2, 0), (6, 0))]
    resource = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-01-05",
                "questionnaire": "urn:ketamine-integration:questionnaire:cssrs", "item": items,
                "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000007"}}}
    row = fhir_measure("line 1", resource, NY)
    assert (row.measure, row.answers) == ("cssrs", (1, 0, None, None, None, 0))
