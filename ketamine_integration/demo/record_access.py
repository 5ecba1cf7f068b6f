"""Demo right of access: the patient of the first completed course (whose discharge summary was sent) asked
for a copy of their record by email a week ago, and their therapist made it two days later: the patient
page's "Patient record export" lists it. Invented addresses throughout."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.phases import Phase
from ..extensions import db
from ..record_access import services
from ..record_access.sources import fhir_bundle

#: when the request reached the clinic, and when the copy was made, before the demo's moment
ASKED, MADE = timedelta(days=7), timedelta(days=5)


def load_demo_record_access(now: datetime) -> None:
    course = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase == Phase.COMPLETED.value)
                                .order_by(TreatmentCourse.id).limit(1)).first()
    if course is None:
        return
    patient = course.patient
    request = services.Request(requested_by="patient", received_on=(now - ASKED).astimezone(clinic_zone()).date(),
                               delivery="email", delivery_note=patient.email)
    services.make_for_request(patient, request, by=course.therapist, now=now - MADE, bundle=fhir_bundle())
