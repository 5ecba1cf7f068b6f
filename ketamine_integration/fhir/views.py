"""The per-patient FHIR download: `/patients/<id>/export/fhir`, a Bundle of the patient's record."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, url_for

from ..audit import services as audit
from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..patients.access import load_patient_to_export
from ..web import access
from .export import validated_patient_bundle

bp = Blueprint("fhir", __name__)
#: the FHIR JSON media type (FHIR R4 http.html#mime)
FHIR_JSON = "application/fhir+json"


@bp.route("/patients/<id:patient_id>/export/fhir")
@access.permission("records.export")
def patient_export(patient_id: int):
    """The care-team therapist downloads the patient's whole record (never process notes), audited."""
    patient = load_patient_to_export(patient_id)
    try:
        bundle = validated_patient_bundle(patient.id)
    except DomainError as refused:
        audit.record("fhir.export", obj=patient, patient_id=patient.id, outcome=audit.FAILURE,
                     detail="a resource did not validate")
        flash(str(refused), "error")
        return redirect(url_for("patients.patient_detail", patient_id=patient.id))
    body = json.dumps(bundle, ensure_ascii=False)
    audit.record("fhir.export", obj=patient, patient_id=patient.id)
    response = Response(body, mimetype=FHIR_JSON)
    name = patient_file_name("fhir-record", mrn=patient.mrn, name=patient.full_name, day=clinic_today(),
                             extension="json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
