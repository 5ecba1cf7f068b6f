"""Making a right-of-access export: check the request, build the copy, record what left.

A clinician records a request that reached the clinic (who asked: the patient or a personal
representative named in it; the day it arrived; how the copy goes) and makes the copy at once; a
patient downloads their own in the portal, at most PORTAL_DAILY_LIMIT a day. Either way one
`record_exports` row keeps who, when, for whom and the zip's digest and manifest. Services flush; the
view commits once, and the zip goes out only in the response of the request that recorded it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ..accounts.models import User
from ..clinic_settings.file_names import patient_file_name
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..documents.record_summary import render_record_pdf
from ..extensions import db
from ..patients.models import Patient
from . import archive
from .content import designated_record_set
from .models import DELIVERIES, PATIENT, PORTAL_DELIVERY, REPRESENTATIVE, REQUESTERS, RecordExport

#: downloads a patient may make in the portal within a day (each is a whole copy of the record: a few a
#: day serve any real need, and the count stops a script or a stolen session from looping on it)
PORTAL_DAILY_LIMIT = 3
#: what the manifest says is left out, and why
EXCLUDED = ("Psychotherapy notes (45 CFR 164.524(a)(1)(i); 164.501): kept apart from the record, never in a copy",
            "Drafts and discarded notes: not part of the record until signed")
#: a patient's FHIR Bundle (fhir/export.py `patient_bundle`), or None while the app has none to give
BundleSource = Callable[[int], dict] | None


@dataclass(frozen=True)
class Request:
    """A request as the clinician recorded it (the portal's is always the patient's own)."""
    requested_by: str
    received_on: date
    delivery: str
    representative_name: str | None = None
    representative_authority: str | None = None
    delivery_note: str | None = None


@dataclass(frozen=True)
class Export:
    row: RecordExport
    data: bytes


def check_request(request: Request, *, today: date) -> None:
    """Refuse a request the rules do not allow, with a reason per field (nothing is made)."""
    reasons = {**_requester_reasons(request), **_delivery_reasons(request)}
    if request.received_on > today:
        reasons["received_on"] = "The request cannot have reached the clinic after today."
    if reasons:
        raise DomainError(reasons)


def _requester_reasons(request: Request) -> dict[str, str]:
    """Who asked: the patient, or a personal representative named with their authority (164.502(g))."""
    if request.requested_by not in REQUESTERS:
        return {"requested_by": "Choose who asked for the record."}
    reasons = {}
    if request.requested_by == REPRESENTATIVE:
        if not (request.representative_name or "").strip():
            reasons["representative_name"] = "Write the personal representative's name, as the request gives it."
        if not (request.representative_authority or "").strip():
            reasons["representative_authority"] = ("Write what makes them the patient's personal representative "
                                                   "(for example a health care power of attorney).")
    return reasons


def _delivery_reasons(request: Request) -> dict[str, str]:
    """How the copy goes: never the portal's (the patient's own download), and by post or email to an address."""
    if request.delivery not in DELIVERIES or request.delivery == PORTAL_DELIVERY:
        return {"delivery": "Choose how the copy reaches whoever asked."}
    if request.delivery in ("mail", "email") and not (request.delivery_note or "").strip():
        return {"delivery_note": "Write where it goes: the postal address." if request.delivery == "mail"
                else "Write where it goes: the email address the request names."}
    return {}


def requested_words(request: Request) -> str:
    who = ("Requested by the patient" if request.requested_by == PATIENT else
           f"Requested by {request.representative_name.strip()}, personal representative of the patient "
           f"({request.representative_authority.strip()})")
    return f"{who}; request received {request.received_on.isoformat()}"


def make_for_request(patient: Patient, request: Request, *, by: User, now: datetime,
                     bundle: BundleSource) -> Export:
    """A clinician's export for a request that reached the clinic."""
    check_request(request, today=clinic_today(now))
    representative = request.requested_by == REPRESENTATIVE
    row = RecordExport(patient_id=patient.id, requested_by=request.requested_by,
                       representative_name=request.representative_name.strip() if representative else None,
                       representative_authority=request.representative_authority.strip() if representative else None,
                       received_on=request.received_on, delivery=request.delivery,
                       delivery_note=(request.delivery_note or "").strip() or None, made_by_id=by.id, made_at=now)
    return _made(patient, row, requested_words(request), made_by=by.display_name, bundle=bundle)


def make_for_portal(patient: Patient, *, portal_account_id: int, now: datetime, bundle: BundleSource) -> Export:
    """The patient's own download in the portal, refused past PORTAL_DAILY_LIMIT in 24 hours. The patient's
    row is locked first: two downloads at once take turns, so the second counts the first."""
    lock_row(patient)
    if portal_downloads_since(patient.id, now - timedelta(days=1)) >= PORTAL_DAILY_LIMIT:
        raise DomainError(f"You have downloaded your record {PORTAL_DAILY_LIMIT} times in the last 24 hours. "
                          "Please try again tomorrow, or ask the clinic for a copy.")
    today = clinic_today(now)
    row = RecordExport(patient_id=patient.id, requested_by=PATIENT, received_on=today, delivery=PORTAL_DELIVERY,
                       portal_account_id=portal_account_id, made_at=now)
    return _made(patient, row, f"Downloaded by the patient in the portal on {today.isoformat()}",
                 made_by="the patient, in the portal", bundle=bundle)


def portal_downloads_since(patient_id: int, since: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(RecordExport).where(
        RecordExport.patient_id == patient_id, RecordExport.portal_account_id.is_not(None),
        RecordExport.made_at > since))


def _made(patient: Patient, row: RecordExport, requested: str, *, made_by: str, bundle: BundleSource) -> Export:
    """Build the copy, then record it (flushed: the view commits it with the response)."""
    record = designated_record_set(patient, requested=requested, now=row.made_at)
    files = [(archive.SUMMARY_PATH, render_record_pdf(record.summary)),
             *((f.path, f.pdf) for f in record.reports)]
    if bundle is not None:
        files.append(archive.fhir_file(bundle(patient.id)))
    built = archive.build_zip(files, about={
        "what": "A copy of the patient's designated record set (45 CFR 164.524)",
        "patient": {"name": patient.full_name, "mrn": patient.mrn}, "made": row.made_at.isoformat(),
        "made_by": made_by, "requested": requested, "excluded": list(EXCLUDED),
        "fhir": archive.FHIR_PATH if bundle is not None else "not included"})
    row.file_name = patient_file_name("health-record", mrn=patient.mrn, name=patient.full_name,
                                      day=clinic_today(row.made_at), extension="zip")
    row.zip_sha256, row.zip_bytes, row.manifest = built.sha256, len(built.data), built.files
    row.fhir_included = bundle is not None
    db.session.add(row)
    db.session.flush()
    return Export(row=row, data=built.data)


def exports_of(patient_id: int) -> list[RecordExport]:
    """The patient's exports, newest first (the accounting the page shows)."""
    return list(db.session.scalars(select(RecordExport).where(RecordExport.patient_id == patient_id)
                                   .order_by(RecordExport.made_at.desc(), RecordExport.id.desc())))
