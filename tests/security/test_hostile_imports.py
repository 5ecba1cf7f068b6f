"""Hostile FHIR resources: every element of a valid QuestionnaireResponse, Observation and Patient
replaced by arbitrary JSON is refused by row (RowRefused), never an exception that would answer 500.
(The fuzzing that found the cases it keeps: a null Observation.code, an unhashable resourceType, a
contact's given names holding nulls; numbers of more than 4,300 digits: tests/unit/test_import_reading.py.)"""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from ketamine_integration.imports.measure_rows import fhir_measure
from ketamine_integration.imports.patient_rows import MRN_SYSTEM, RowChecker
from ketamine_integration.imports.reading import NotARow, RowRefused

NY = ZoneInfo("America/New_York")
LOINC = "http://loinc.org"
PHQ9 = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")
BASES = {
    "questionnaire": {"resourceType": "QuestionnaireResponse", "status": "completed",
                      "questionnaire": "http://loinc.org/q/44249-1", "authored": "2026-01-02",
                      "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000001"}},
                      "item": [{"linkId": code, "answer": [{"valueInteger": 1}]} for code in PHQ9]},
    "observation": {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": LOINC,
                                                                                          "code": "69737-5"}]},
                    "subject": {"identifier": {"system": MRN_SYSTEM, "value": "KI-000001"}},
                    "effectiveDateTime": "2026-02-01", "valueInteger": 1,
                    "component": [{"code": {"coding": [{"system": LOINC, "code": "69725-0"}]}, "valueInteger": 1}]},
    "patient": {"resourceType": "Patient", "identifier": [{"system": MRN_SYSTEM, "value": "A-1"}],
                "name": [{"family": "Fictional", "given": ["Gale"]}, {"use": "nickname", "given": ["G"]}],
                "birthDate": "1980-01-01", "telecom": [{"system": "email", "value": "gale@example.org"}],
                "contact": [{"name": {"given": ["Kin"]}, "relationship": [{"coding": [{"display": "sibling"}]}],
                             "telecom": [{"system": "phone", "value": "555-0100"}]}]},
}
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10 ** 20), st.floats(allow_nan=False),
                   st.text(max_size=12), st.sampled_from(["LA6568-5", "44250-9", "final", "completed", "2026-01-01",
                                                          "2026-01-01T10:00:00Z", "phone", MRN_SYSTEM, "usual"]))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["value", "code", "given", "family", "text", "system"]) | st.text(max_size=6),
                    inner, max_size=3)), max_leaves=10)


def _paths(value, path=()):
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _paths(inner, (*path, key))


def _replaced(base, path, value):
    copy = json.loads(json.dumps(base))
    if not path:
        return value
    here = copy
    for key in path[:-1]:
        here = here[key]
    here[path[-1]] = value
    return copy


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(sorted(BASES)), data=st.data(), value=VALUES)
def test_any_element_replaced_by_any_json_is_read_or_refused_by_row(app, kind, data, value):
    path = data.draw(st.sampled_from(list(_paths(BASES[kind]))), label="element")
    resource = _replaced(BASES[kind], path, value)
    with app.test_request_context():
        try:
            if kind == "patient":
                RowChecker().fhir("line 1", resource)
            else:
                fhir_measure("line 1", resource, NY)
        except RowRefused as refused:
            assert all(r.row == "line 1" and r.problem for r in refused.refusals)
        except NotARow as kind_read:
            # another resource type (a patients import counts a Bundle's Practitioners...), or a measure
            # entered in error: counted, not a row; a Patient is always read or refused
            assert kind != "patient" or str(kind_read) != "Patient"
