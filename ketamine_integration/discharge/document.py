"""The discharge summary as a document (documents/discharge_summary.py): the whole summary for its
writers, or a prescriber's copy with only the sections the releases permit."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..accounts.models import User
from ..db.clinic_time import format_local
from ..db.types import utcnow
from ..clinic_settings.contact import clinic_phone
from ..documents.contact import contact_line
from ..documents.discharge_summary import (AddendumText, DischargeDocument, DischargeHeader, DischargePatient,
                                           WrittenText, render_discharge_pdf)
from .content import COMPUTED, compute, written_sections
from .models import DischargeSummary
from .services import sections_permitted


def computed_now(summary: DischargeSummary, now: datetime) -> dict:
    """What the summary shows: frozen at signing, or computed live while a draft."""
    return summary.computed if summary.signed else compute(summary.course, now)


def document(summary: DischargeSummary, *, now: datetime, categories: set[str] | None = None,
             recipient: User | None = None) -> DischargeDocument:
    """The summary as plain data; `categories`: a prescriber's copy under those release categories."""
    kept, omitted = sections_permitted(summary, categories)
    computed = computed_now(summary, now)
    patient = summary.patient
    state = (f"Signed by {summary.signed_by.display_name} on {format_local(summary.signed_at)}" if summary.signed
             else "Draft, not signed: the computed sections show the record as it reads now")
    return DischargeDocument(
        header=DischargeHeader(clinic=current_app.config["CLINIC_NAME"], state=state, generated=format_local(now),
                               recipient=recipient.display_name if recipient else None,
                               author=summary.author.display_name,
                               author_contact=contact_line(summary.author.email, summary.author.phone, clinic_phone())),
        patient=DischargePatient(name=patient.full_name, mrn=patient.mrn, dob=patient.date_of_birth.isoformat()),
        computed={s.key: computed.get(s.key) for s in COMPUTED if s.key in kept},
        computed_titles=tuple((s.key, s.title) for s in COMPUTED if s.key in kept),
        written=tuple(WrittenText(key=s.key, title=s.title, text=(summary.written or {}).get(s.key, ""))
                      for s in written_sections(summary.course) if s.key in kept),
        omitted=tuple(omitted),
        addenda=tuple(AddendumText(author=a.author.display_name, when=format_local(a.created_at), body=a.body)
                      for a in summary.addenda))


def render_copy(summary: DischargeSummary, categories: set[str], recipient: User) -> bytes:
    """The prescriber's copy as a PDF (discharge.services.send_copy stores it)."""
    return render_discharge_pdf(document(summary, now=utcnow(), categories=categories, recipient=recipient))
