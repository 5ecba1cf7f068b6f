"""What signed forms meet of a course's preparation checklist and gate (issue 26, point 5): the consent
and intake items are ticked by the signed documents, not by hand, on a course whose protocol names forms;
the course page's checklist says, for each, what signed it or what is still to sign.

Each question is answered from a packet status: a page that shows the packet reads it once and passes it
here (an explicit argument: a memo on flask.g went stale), the hooks read it for themselves."""
from __future__ import annotations

from dataclasses import dataclass

from ..courses.models import TreatmentCourse
from ..courses.services import FORM_ITEMS, DerivedItem, Evidence
from ..db.clinic_time import to_clinic
from .status import SIGNED, WITHDRAWN, PacketItem, PacketStatus, packet_status


def signed_words(item: PacketItem) -> str:
    """"Signed: <title> v<N> on <clinic day>": the README's words for a form that meets its item."""
    day = to_clinic(item.signed.signed_at).date()
    return f"Signed: {item.signed.title} v{item.signed.form_version} on {day.isoformat()}"


def form_evidence(status: PacketStatus | None) -> Evidence:
    """informed_consent when every consent of the packet is signed (current version, not withdrawn),
    intake_assessment when every intake form is: "Signed: <title> v<N> on <clinic date>"."""
    if status is None:
        return Evidence({})
    lines = checklist_lines(status)
    names = tuple((key, line.label) for key, line in lines.items() if line.label)
    items = {}
    for item_key, kind in FORM_ITEMS.items():
        forms = [i for i in status.items if i.kind == kind]
        if not forms or any(i.state != SIGNED for i in forms):
            continue
        days = [to_clinic(i.signed.signed_at).date() for i in forms]
        items[item_key] = DerivedItem(item=item_key, on=max(days), summary="; ".join(signed_words(i) for i in forms))
    return Evidence(items, to_sign=frozenset(FORM_ITEMS), names=names)


#: the informed-consent item's name on a course whose packet holds an agreement among its consents (the
#: transport and no-driving agreement is withdrawn like a consent but is not one: a new-user review of issue 26)
CONSENTS_AND_AGREEMENTS = "Consents and agreements"


@dataclass(frozen=True)
class FormItemLine:
    """A consent or intake checklist item as the course page shows it on a course with a packet."""
    #: "Signed: <title> v<N> on <day>" of each of its forms signed and in force
    signed: tuple[str, ...]
    #: the titles of its forms still to sign (or to sign again: a new version), withdrawn ones left to `withdrawn`
    to_sign: tuple[str, ...]
    #: "Withdrawn on <clinic day>: <title>" of each of its forms the patient withdrew (signing again restores it)
    withdrawn: tuple[str, ...] = ()
    #: the item's name when the protocol's does not say what it holds (None: the protocol's)
    label: str | None = None


def withdrawn_words(item: PacketItem) -> str:
    """"Withdrawn on <clinic day>: <title>", in the day format of signed_words."""
    return f"Withdrawn on {to_clinic(item.signed.withdrawal.withdrawn_at).date().isoformat()}: {item.title}"


def _line(items: list[PacketItem]) -> FormItemLine:
    agreements = any(i.noun == "agreement" for i in items) and any(i.noun != "agreement" for i in items)
    return FormItemLine(signed=tuple(signed_words(i) for i in items if i.state == SIGNED),
                        to_sign=tuple(i.title for i in items if i.state not in (SIGNED, WITHDRAWN)),
                        withdrawn=tuple(withdrawn_words(i) for i in items if i.state == WITHDRAWN),
                        label=CONSENTS_AND_AGREEMENTS if agreements else None)


def checklist_lines(status: PacketStatus | None) -> dict[str, FormItemLine]:
    """The consent and intake items' lines, by checklist item (none: the course has no packet, and its
    consent and intake stay hand-recorded items)."""
    if status is None:
        return {}
    return {item_key: _line([i for i in status.items if i.kind == kind]) for item_key, kind in FORM_ITEMS.items()}


def titles_to_sign(status: PacketStatus | None) -> tuple[str, ...]:
    """The preparation gate's question: which forms of the packet are still to sign."""
    return () if status is None else status.to_sign


def signed_form_evidence(course: TreatmentCourse) -> Evidence:
    """courses.derive_form_items_with's finder: form_evidence of the course's packet."""
    return form_evidence(packet_status(course))


def forms_to_sign(course: TreatmentCourse) -> tuple[str, ...]:
    """courses.find_unsigned_forms_with's finder: titles_to_sign of the course's packet."""
    return titles_to_sign(packet_status(course))
