"""The per-patient FHIR download: `/patients/<id>/export/fhir`, a Bundle of the patient's record."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort
from flask_login import current_user

from ..audit import services as audit
from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_today
from ..patients.access import can_read_clinical, load_patient
from ..web import access
from .export import patient_bundle

bp = Blueprint("fhir", __name__)
#: the FHIR JSON media type (FHIR R4 http.html#mime)
FHIR_JSON = "application/fhir+json"


@bp.route("/patients/<id:patient_id>/export/fhir")
@access.permission("records.export")
def patient_export(patient_id: int):
    """The care-team therapist downloads the patient's whole record (never process notes), audited."""
    patient = load_patient(patient_id)
    if not can_read_clinical(current_user, patient, "records.export"):
        audit.denial("a record export is for the patient's treating therapists", obj=patient, patient_id=patient.id)
        abort(403)
    body = json.dumps(patient_bundle(patient.id), ensure_ascii=False)
    audit.record("fhir.export", obj=patient, patient_id=patient.id)
    response = Response(body, mimetype=FHIR_JSON)
    name = patient_file_name("fhir-record", mrn=patient.mrn, name=patient.full_name, day=clinic_today(),
                             extension="json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
