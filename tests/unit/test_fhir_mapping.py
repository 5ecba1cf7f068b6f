"""FHIR mappings of single rows, no database: times leave as the UTC instants they are stored as
(across the clinic's DST changes), a measure's answers carry LOINC codes and scores, a voided entry
is marked entered-in-error; every resource validates with the library."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment
from ketamine_integration.fhir.care import appointment_encounter, appointment_resource
from ketamine_integration.fhir.export import InvalidResource, validated
from ketamine_integration.fhir.measures import questionnaires, response_resources
from ketamine_integration.notes.models import MeasureResponse

CLINIC = ZoneInfo("America/New_York")


def _appointment(local: datetime, minutes: int = 50) -> Appointment:
    starts = local.replace(tzinfo=CLINIC).astimezone(timezone.utc)
    return Appointment(id=7, patient_id=3, course_id=2, kind="integration", status="attended", modality="telehealth",
                       starts_at=starts, ends_at=starts + timedelta(minutes=minutes),
                       created_at=starts, clinician=User(id=5, full_name="Hazel Quint"))


@pytest.mark.parametrize("local, start, end", [
    (datetime(2026, 3, 7, 9, 0), "2026-03-07T14:00:00Z", "2026-03-07T14:50:00Z"),   # the day before spring forward: EST
    (datetime(2026, 3, 8, 9, 0), "2026-03-08T13:00:00Z", "2026-03-08T13:50:00Z"),   # spring forward morning: EDT
    (datetime(2026, 10, 31, 9, 0), "2026-10-31T13:00:00Z", "2026-10-31T13:50:00Z"),  # the day before fall back: EDT
    (datetime(2026, 11, 1, 9, 0), "2026-11-01T14:00:00Z", "2026-11-01T14:50:00Z"),   # fall back morning: EST
    (datetime(2026, 11, 1, 1, 30), "2026-11-01T05:30:00Z", "2026-11-01T06:20:00Z"),  # the first 1:30 (EDT); 50 min
])
def test_session_times_leave_as_utc_instants(local, start, end):
    appointment = _appointment(local)
    for resource in (appointment_resource(appointment), appointment_encounter(appointment)):
        validated(resource)
    assert (appointment_resource(appointment)["start"], appointment_resource(appointment)["end"]) == (start, end)
    assert appointment_encounter(appointment)["period"] == {"start": start, "end": end}
    assert appointment_encounter(appointment)["class"]["code"] == "VR"  # telehealth is a virtual encounter


def _phq9(answers, voided=False) -> MeasureResponse:
    return MeasureResponse(id=11, patient_id=3, course_id=2, measure="phq9", administered_on=date(2026, 3, 8),
                           answers=answers, difficulty="somewhat", total=sum(answers), band="Moderate",
                           completed_by_patient=True, created_at=datetime(2026, 3, 8, 14, tzinfo=timezone.utc),
                           voided_at=datetime(2026, 3, 9, tzinfo=timezone.utc) if voided else None)


def test_a_phq9_is_a_response_with_loinc_coded_answers_and_observations():
    qr, *observations = response_resources(_phq9([1, 2, 1, 1, 2, 1, 1, 1, 2]))
    for resource in (qr, *observations):
        validated(resource)
    item9 = next(i for i in qr["item"] if i["linkId"] == "9")["answer"][0]["valueCoding"]
    assert item9["code"] == "LA6570-1" and item9["extension"][0]["valueDecimal"] == 2  # "More than half the days"
    total = next(o for o in observations if o["id"] == "measure-11-total")
    assert total["code"]["coding"][0]["code"] == "44261-6" and total["valueInteger"] == 12
    assert next(o for o in observations if o["id"] == "measure-11-item-9")["code"]["coding"][0]["code"] == "44260-8"
    assert qr["author"] == {"reference": "Patient/patient-3"} and qr["status"] == "completed"


def test_a_voided_measure_stays_marked_entered_in_error():
    resources = response_resources(_phq9([0] * 9, voided=True))
    assert {r["status"] for r in resources} == {"entered-in-error"}


def test_every_questionnaire_validates_and_a_broken_resource_is_refused_by_name():
    assert [validated(q).title for q in questionnaires()][:2] == ["PHQ-9", "GAD-7"]
    with pytest.raises(InvalidResource, match="Patient/patient-1"):
        validated({"resourceType": "Patient", "id": "patient-1", "birthDate": "not a date"})
