"""The right-of-access page of a patient (staff side): the copies made so far, and the form that records a
request and makes the copy, answered as the zip itself."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_login import current_user

from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..patients.access import load_patient_to_export
from ..patients.models import Patient
from ..web import access
from ..web.forms import submit
from . import services
from .forms import RequestForm
from .models import DELIVERIES
from .sources import fhir_bundle

bp = Blueprint("record_access", __name__)
ZIP_MIMETYPE = "application/zip"


def _page(patient: Patient, form: RequestForm, status: int = 200):
    return render_template("record_access/page.html", patient=patient, form=form,
                           exports=services.exports_of(patient.id), deliveries=DELIVERIES), status


@bp.route("/patients/<id:patient_id>/record-access")
@access.permission("records.export")
def record_access_page(patient_id: int):
    patient = load_patient_to_export(patient_id)
    audit.record("record_export.view", obj=patient, patient_id=patient.id)
    form = RequestForm()
    form.received_on.data = clinic_today()
    return _page(patient, form)


@bp.route("/patients/<id:patient_id>/record-access", methods=["POST"])
@access.permission("records.export")
def record_export(patient_id: int):
    """Record the request and answer with its copy (one commit: the row and its audit go with the zip)."""
    patient = load_patient_to_export(patient_id)
    form = RequestForm()
    done, export = submit(form, lambda: services.make_for_request(patient, services.Request(
        requested_by=form.requested_by.data, received_on=form.received_on.data, delivery=form.delivery.data,
        representative_name=form.representative_name.data, representative_authority=form.representative_authority.data,
        delivery_note=form.delivery_note.data), by=current_user, now=utcnow(), bundle=fhir_bundle()))
    if not done:
        audit.record("record_export.create", obj=patient, patient_id=patient.id, outcome=audit.FAILURE,
                     detail="refused")
        return _page(patient, form, status=422)
    audit.record("record_export.create", obj=export.row, patient_id=patient.id,
                 detail=f"requested by {export.row.requested_by}; delivery {export.row.delivery}; "
                        f"sha256 {export.row.zip_sha256}")
    return zip_response(export)


def zip_response(export: services.Export) -> Response:
    response = Response(export.data, mimetype=ZIP_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.row.file_name}"'
    return response
