"""A signed form as its pages and its PDF show it: the document as signed with its countersignatures and
withdrawal (documents/signed_form.py's view), and the PDF download (the portal's and the staff pages')."""
from __future__ import annotations

from flask import Response, current_app

from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_zone, to_clinic
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


def review_of(signed: SignedForm) -> dict | None:
    """The prescriber's review of its flagged answers: who, when, the note (None: none written)."""
    row = signed.flag_review
    if row is None:
        return None
    return {"name": row.prescriber.display_name, "reviewed_at": row.reviewed_at, "note": row.note}


def _parts(signed: SignedForm, *, with_review: bool) -> dict:
    """What the document view and the PDF show beside the document. `with_review`: the care team's copy, with
    the prescriber's review note and the flag reasons (the portal's is the patient's signed form: the note
    and the reasons, "The patient has questions...", are the clinicians')."""
    return {"countersignatures": countersignatures_of(signed), "withdrawal": withdrawal_of(signed),
            "review": review_of(signed) if with_review else None, "flags": with_review, "zone": clinic_zone()}


def view_of(signed: SignedForm, *, with_review: bool = False):
    """The signed form as the page's read-only macro shows it (templates/signed_forms/_document.html)."""
    return signed_form_view(services.signed_form_document(signed), **_parts(signed, with_review=with_review))


def pdf_response(signed: SignedForm, *, with_review: bool = False) -> Response:
    """The signed form as a tagged PDF, named as the clinic names a patient's documents, by the day it was
    signed (the clinic's): the file is the same whatever day it is downloaded."""
    pdf = signed_form_pdf(services.signed_form_document(signed), clinic=current_app.config["CLINIC_NAME"],
                          **_parts(signed, with_review=with_review))
    patient = signed.patient
    name = patient_file_name(f"signed-{signed.form_id}", mrn=patient.mrn, name=patient.full_name,
                             day=to_clinic(signed.signed_at).date())
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
