"""What signed forms meet of a course's preparation checklist and gate (issue 26, point 5): the consent
and intake items are ticked by the signed documents, not by hand, on a course whose protocol names forms."""
from __future__ import annotations

from ..courses.models import TreatmentCourse
from ..courses.services import FORM_ITEMS, DerivedItem, Evidence
from ..db.clinic_time import to_clinic
from .status import SIGNED, packet_status


def signed_form_evidence(course: TreatmentCourse) -> Evidence:
    """informed_consent when every consent of the packet is signed (current version, not withdrawn),
    intake_assessment when every intake form is: "Signed: <title> v<N> on <clinic date>"."""
    status = packet_status(course)
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


def forms_to_sign(course: TreatmentCourse) -> tuple[str, ...]:
    """The preparation gate's question (courses.find_unsigned_forms_with): which forms are still to sign."""
    status = packet_status(course)
    return () if status is None else status.to_sign
