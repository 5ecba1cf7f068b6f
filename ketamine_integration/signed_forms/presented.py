"""A signed form as its pages and its PDF show it: the document as signed with its countersignatures and
withdrawal (documents/signed_form.py's view), and the PDF download (the portal's and the staff pages')."""
from __future__ import annotations

from flask import Response, current_app

from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_today, clinic_zone
from ..documents.signed_form import signed_form_pdf, signed_form_view
from . import services
from .models import SignedForm

#: a countersigning role in words
ROLE_WORDS = {"prescriber": "Prescriber", "therapist": "Therapist", "staff": "Clinic staff"}


def countersignatures_of(signed: SignedForm) -> list[dict]:
    """Its countersignature (a form asks for one at most), as the document view and the PDF take them."""
    row = signed.countersignature
    return [] if row is None else [{"name": row.user.display_name, "role": ROLE_WORDS.get(row.role, row.role).lower(),
                                    "signed_at": row.signed_at}]


def withdrawal_of(signed: SignedForm) -> dict | None:
    """Its withdrawal, if the patient withdrew it: when, why, and how the clinic heard."""
    row = signed.withdrawal
    if row is None:
        return None
    how = ("by the patient in the portal" if row.recorded_by_id is None
           else f"as the patient told the clinic, recorded by {row.recorded_by.display_name}")
    return {"withdrawn_at": row.withdrawn_at, "reason": row.reason, "how": how}


def _parts(signed: SignedForm) -> dict:
    return {"countersignatures": countersignatures_of(signed), "withdrawal": withdrawal_of(signed),
            "zone": clinic_zone()}


def view_of(signed: SignedForm):
    """The signed form as the page's read-only macro shows it (templates/signed_forms/_document.html)."""
    return signed_form_view(services.signed_form_document(signed), **_parts(signed))


def pdf_response(signed: SignedForm) -> Response:
    """The signed form as a tagged PDF, named as the clinic names a patient's documents."""
    pdf = signed_form_pdf(services.signed_form_document(signed), clinic=current_app.config["CLINIC_NAME"],
                          **_parts(signed))
    patient = signed.patient
    name = patient_file_name(f"signed-{signed.form_id}", mrn=patient.mrn, name=patient.full_name, day=clinic_today())
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
