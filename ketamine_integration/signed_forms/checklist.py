"""What signed forms meet of a course's preparation checklist and gate (issue 26, point 5): the consent
and intake items are ticked by the signed documents, not by hand, on a course whose protocol names forms.

Each question is answered from a packet status: a page that shows the packet reads it once and passes it
here (an explicit argument: a memo on flask.g went stale), the hooks read it for themselves."""
from __future__ import annotations

from ..courses.models import TreatmentCourse
from ..courses.services import FORM_ITEMS, DerivedItem, Evidence
from ..db.clinic_time import to_clinic
from .status import SIGNED, PacketStatus, packet_status


def form_evidence(status: PacketStatus | None) -> Evidence:
    """informed_consent when every consent of the packet is signed (current version, not withdrawn),
    intake_assessment when every intake form is: "Signed: <title> v<N> on <clinic date>"."""
    if status is None:
        return Evidence({})
    items = {}
    for item_key, kind in FORM_ITEMS.items():
        forms = [i for i in status.items if i.kind == kind]
        if not forms or any(i.state != SIGNED for i in forms):
            continue
        days = [to_clinic(i.signed.signed_at).date() for i in forms]
        summary = "; ".join(f"Signed: {i.signed.title} v{i.signed.form_version} on {day.isoformat()}"
                            for i, day in zip(forms, days))
        items[item_key] = DerivedItem(item=item_key, on=max(days), summary=summary)
    return Evidence(items)


def titles_to_sign(status: PacketStatus | None) -> tuple[str, ...]:
    """The preparation gate's question: which forms of the packet are still to sign."""
    return () if status is None else status.to_sign


def signed_form_evidence(course: TreatmentCourse) -> Evidence:
    """courses.derive_form_items_with's finder: form_evidence of the course's packet."""
    return form_evidence(packet_status(course))


def forms_to_sign(course: TreatmentCourse) -> tuple[str, ...]:
    """courses.find_unsigned_forms_with's finder: titles_to_sign of the course's packet."""
    return titles_to_sign(packet_status(course))
