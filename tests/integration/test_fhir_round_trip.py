"""The FHIR export and the import agree on a patient's values: what leaves as a FHIR Patient comes back
as the same patient (issue 25, points 1 and 3)."""
from __future__ import annotations

from datetime import date

import pytest

from ketamine_integration.fhir.export import validated
from ketamine_integration.fhir.people import patient_resource
from ketamine_integration.imports.patient_rows import RowChecker
from ketamine_integration.patients.models import Patient

PATIENT_FIELDS = ("mrn", "given_name", "family_name", "preferred_name", "date_of_birth", "phone", "email",
                  "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone")


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
    """Found by the demo clinic's round trip: each row a value the export changed or dropped."""
    patient = Patient(id=7, mrn="RT-0007", given_name="Rowan", family_name="Quillfeather",
                      date_of_birth=date(1979, 2, 28), **fields)
    resource = validated(patient_resource(patient)).model_dump(mode="json")
    with app.test_request_context():
        row = RowChecker().fhir("line 1", resource)
    assert {name: row.fields[name] for name in expected} == expected
    assert row.fields | {"mrn": row.mrn} == {name: getattr(patient, name) for name in PATIENT_FIELDS}
