"""Where a course's packet stands: each form to sign, signed, to sign again or withdrawn; who still
owes a countersignature; the flagged answers and their review; and what stops dosing (issue 26): the forms
dosing needs never signed, a dosing consent withdrawn, a flagged answer not reviewed (PacketItem.stops_dosing),
said in one sentence by dosing_refusal_words wherever it is said.

Read from the records and the form library as it is now: the state is never stored, so a new form
version asks for a signature again the moment its file is in forms/ (when the file says so).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from ..courses.models import TreatmentCourse
from ..courses.services import course_protocol
from ..db.clinic_time import format_local_day
from ..domain.form_definitions import FormDefinition, Question, form_noun
from ..domain.form_library import FormLibrary
from ..domain.text import counted
from ..extensions import db
from ..protocols.forms import current_forms
from .models import FormFlagReview, FormPacket, PacketForm, SignedForm

TO_SIGN, SIGNED, SIGN_AGAIN, WITHDRAWN = "to_sign", "signed", "sign_again", "withdrawn"
#: the packet as a whole
SENT, PARTLY_SIGNED = "sent", "partly signed"


class FlaggedAnswer(NamedTuple):
    question: Question
    #: why the form flags it (its file's words)
    reason: str
    #: the patient's answer in words, as the signed document reads it back
    answer: str


@dataclass(frozen=True)
class PacketItem:
    form_id: str
    #: the form's current version (None: its file is missing or cannot be used, so it cannot be signed)
    form: FormDefinition | None
    state: str
    #: the newest signature of this form for the course
    signed: SignedForm | None = None
    #: the role that still owes a countersignature of `signed` (None: none owed)
    countersign_role: str | None = None
    #: each flagged answer of `signed`: its question, the form's reason and the patient's answer
    flags: list[FlaggedAnswer] = field(default_factory=list)
    flags_reviewed: FormFlagReview | None = None
    #: the signed version's definition, else the current one: what the signature is read against
    signed_definition: FormDefinition | None = None

    @property
    def kind(self) -> str | None:
        """consent or intake (None: a form never signed whose file cannot be read)."""
        if self.form is not None:
            return self.form.kind
        return self.signed.kind if self.signed is not None else None

    @property
    def noun(self) -> str:
        """What a reader calls the form: "consent", "agreement", "intake form"."""
        return form_noun(self.form_id, self.kind or "intake")

    @property
    def title(self) -> str:
        if self.form is not None:
            return self.form.title
        return self.signed.title if self.signed is not None else self.form_id

    @property
    def needed_for_dosing(self) -> bool:
        """Dosing needs this form signed for the course: the intake (its contraindication screen) or a consent
        whose file says its withdrawal stops dosing (the route consents, the transport agreement). A form never
        signed whose file cannot be read counts: what it is cannot be read, and it may be the treatment consent."""
        definition = self.signed_definition or self.form
        if definition is None:
            return True
        return definition.kind == "intake" or definition.withdrawal_blocks_dosing

    @property
    def stops_dosing(self) -> list[str]:
        """Why this form refuses planning, moving or starting a dose, whatever the phase and whatever override of
        the preparation gate (the lead's decision on the attacker review of issue 26): a form dosing needs
        (needed_for_dosing) never signed for the course, a dosing consent withdrawn, a flagged answer a prescriber
        has not reviewed. A form dosing does not need (telehealth, psychotherapy) waits on the gate only.

        A signature of an older version that a newer one asks to sign again (SIGN_AGAIN) is enough to dose:
        what the patient agreed to and answered is signed and in force; the preparation gate asks for the new
        version, and the packet pages ask the patient for it."""
        if self.state == TO_SIGN:
            if not self.needed_for_dosing:
                return []
            return [f"{self.title}: not signed yet."] if self.form is not None else \
                [f"{self.title}: cannot be signed (its form file is missing or cannot be used; ask the clinic)."]
        reasons = []
        if self.state == WITHDRAWN:
            reasons += self._withdrawal_stops_dosing()
        if self.flags and self.flags_reviewed is None and self.state != WITHDRAWN:
            reasons.append(f"{self.title}: {counted(len(self.flags), 'flagged answer')} to be reviewed by a "
                           "prescriber.")
        return reasons

    def _withdrawal_stops_dosing(self) -> list[str]:
        """A withdrawn consent whose file says its withdrawal stops dosing stops it; so does one whose
        definition cannot be read (the attacker review of issue 26, finding 1): what the patient withdrew may be
        the treatment consent, so an unreadable file fails closed, as an unsigned unreadable form does."""
        day = format_local_day(self.signed.withdrawal.withdrawn_at, year=True)
        if self.signed_definition is None:
            return [f"{self.title}: the patient withdrew this form on {day}, and its form file is missing or "
                    "cannot be used, so whether dosing may go on cannot be read; no dosing until the clinic "
                    "restores the file or the patient signs it again."]
        if not self.signed_definition.withdrawal_blocks_dosing:
            return []
        return [f"{self.title}: the patient withdrew this consent on {day}; no dosing until they sign it again."]


@dataclass(frozen=True)
class PacketStatus:
    course_id: int
    items: list[PacketItem]

    @property
    def state(self) -> str:
        signed = [i for i in self.items if i.state == SIGNED]
        if len(signed) == len(self.items):
            return SIGNED
        return PARTLY_SIGNED if any(i.signed is not None for i in self.items) else SENT

    @property
    def signed_count(self) -> int:
        """How many of its forms are signed in force ("Forms: 3 of 5 signed")."""
        return sum(item.state == SIGNED for item in self.items)

    @property
    def complete(self) -> bool:
        """Every form signed in its current version (or one it need not be signed again for), none withdrawn:
        the preparation gate's condition."""
        return self.state == SIGNED

    @property
    def stops_dosing(self) -> list[str]:
        """Every reason the forms refuse planning, moving or starting a dose (PacketItem.stops_dosing)."""
        return [reason for item in self.items for reason in item.stops_dosing]

    @property
    def dosing_refusal(self) -> str | None:
        """What stops dosing, in the words every page and the refusal itself use (None: nothing in the forms
        does): the course page's summary and gate, the packet page and the services' refusal say this."""
        return dosing_refusal_words(self.stops_dosing)

    @property
    def to_sign(self) -> tuple[str, ...]:
        """Titles of the forms not signed in their current version, or withdrawn: the preparation gate's."""
        return tuple(item.title for item in self.items if item.state != SIGNED)

    def item(self, form_id: str) -> PacketItem | None:
        return next((i for i in self.items if i.form_id == form_id), None)


#: how a refusal to dose begins, wherever it is said (a dose already under way is never stopped)
DOSING_REFUSED = "No dose can be planned, moved or started"


def dosing_refusal_words(reasons: list[str]) -> str | None:
    """The one sentence saying what stops dosing: the lead, then each reason (a sentence of its own)."""
    return f"{DOSING_REFUSED}: " + " ".join(reasons) if reasons else None


def fetch_packet(course: TreatmentCourse) -> FormPacket | None:
    return db.session.scalar(select(FormPacket).where(FormPacket.course_id == course.id)
                             .options(selectinload(FormPacket.forms)))


def requested_forms(course: TreatmentCourse) -> tuple[str, ...]:
    """The forms the course asks for: its packet's and its protocol snapshot's (forms_asked_for)."""
    return forms_asked_for(packet_forms([course.id]).get(course.id, ()), course_protocol(course).preparation.forms)


def forms_asked_for(held: tuple[str, ...], named: tuple[str, ...]) -> tuple[str, ...]:
    """The packet's forms (`held`, in its order), then any the protocol snapshot names that the packet lacks.
    The packet is made from the snapshot (create_packet), so they agree; a packet_forms row deleted behind
    the app must not drop a consent from the dosing gate (fail closed; `signatures verify` names the
    packet)."""
    return held + tuple(form_id for form_id in named if form_id not in held)


#: the courses a packet read is for, bound when the two statements below run: every course page, dose and
#: signature reads a packet, and building and keying these anew was a third of packet_statuses' time
COURSE_IDS = bindparam("course_ids", expanding=True)
#: each course's packet forms, in the packet's order (packet_forms)
PACKET_FORMS = (select(FormPacket.course_id, PacketForm.form_id).join(PacketForm, PacketForm.packet_id == FormPacket.id)
                .where(FormPacket.course_id.in_(COURSE_IDS)).order_by(PacketForm.id))


@cache
def signature_parts() -> tuple:
    """The loader options that read what hangs off a signature with it (a countersignature, a review of its
    flags, a withdrawal: at most one of each, a unique key, so joined in the one statement). Built at the
    first use: loader options need every model mapped, which importing this module does not promise."""
    return (joinedload(SignedForm.countersignature), joinedload(SignedForm.flag_review),
            joinedload(SignedForm.withdrawal))


@cache
def _signatures() -> Select:
    """The courses' signatures with what hangs off each (signatures_of), built at its first use."""
    return (select(SignedForm).where(SignedForm.course_id.in_(COURSE_IDS))
            .order_by(SignedForm.signed_at, SignedForm.id).options(*signature_parts()))


def packet_forms(course_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The form ids of each course's packet in the packet's order, by course id (a course without a packet,
    or whose packet lost every form, is left out): one statement, rows of two columns."""
    held: dict[int, list[str]] = {}
    for course_id, form_id in db.session.execute(PACKET_FORMS, {"course_ids": course_ids}):
        held.setdefault(course_id, []).append(form_id)
    return {course_id: tuple(form_ids) for course_id, form_ids in held.items()}


def signatures_of(course_ids: list[int]) -> list[SignedForm]:
    """Every signature of the courses' forms, oldest first, with what hangs off each (a countersignature, a review
    of its flags, a withdrawal: at most one of each, a unique key, so joined in the one statement)."""
    return list(db.session.scalars(_signatures(), {"course_ids": course_ids}))


def packet_status(course: TreatmentCourse) -> PacketStatus | None:
    """The packet's state; None when the course's protocol snapshot names no forms (an older version:
    its consent and intake stay hand-recorded checklist items)."""
    return packet_statuses([course])[course.id]


def packet_statuses(courses: list[TreatmentCourse]) -> dict[int, PacketStatus | None]:
    """Each course's packet state by course id (packet_status), read for all of them at once: the packets' forms
    in one statement and the signatures in one, however many courses (the patient page's rows)."""
    statuses: dict[int, PacketStatus | None] = {course.id: None for course in courses}
    with_forms = [course for course in courses if course_protocol(course).preparation.forms]
    if not with_forms:
        return statuses
    ids = [course.id for course in with_forms]
    packets = packet_forms(ids)
    latest: dict[tuple[int, str], SignedForm] = {}
    for signature in signatures_of(ids):
        latest[signature.course_id, signature.form_id] = signature
    library = current_forms()
    newest = {f.id: f for f in library.newest()}
    for course in with_forms:
        requested = forms_asked_for(packets.get(course.id, ()), course_protocol(course).preparation.forms)
        statuses[course.id] = PacketStatus(course_id=course.id, items=[
            _item(form_id, newest.get(form_id), latest.get((course.id, form_id)), library) for form_id in requested])
    return statuses


def _item(form_id: str, form: FormDefinition | None, signed: SignedForm | None, library: FormLibrary) -> PacketItem:
    if signed is None:
        return PacketItem(form_id=form_id, form=form, state=TO_SIGN)
    definition = library.find(form_id, signed.form_version) or form
    role = definition.countersign if definition is not None else None
    # a withdrawn consent owes no countersignature: there is nothing left to countersign (services.countersign)
    owed = role is not None and signed.countersignature is None and signed.withdrawal is None
    return PacketItem(form_id=form_id, form=form, state=_state(signed, form, library), signed=signed,
                      countersign_role=role if owed else None,
                      flags=flags_of(signed), flags_reviewed=signed.flag_review, signed_definition=definition)


def _state(signed: SignedForm, form: FormDefinition | None, library: FormLibrary) -> str:
    if signed.withdrawal is not None:
        return WITHDRAWN
    if form is not None and needs_signing_again(signed.form_version, form, library):
        return SIGN_AGAIN
    return SIGNED


def needs_signing_again(signed_version: int, current: FormDefinition, library: FormLibrary) -> bool:
    """A later version asks again when it says so (resign_on_change), or when a version between the
    signed one and it did: that change was never signed."""
    return any(f.resign_on_change for f in library.forms
               if f.id == current.id and signed_version < f.version <= current.version)


def document_of(signed: SignedForm) -> dict:
    """The signed document, parsed."""
    return json.loads(signed.document)


def flags_of(signed: SignedForm) -> list[FlaggedAnswer]:
    """The flagged answers of a signature, read from its document (the text the patient saw, the answer as
    they gave it read back in words)."""
    return [FlaggedAnswer(Question(id=q["id"], type=q["type"], label=q["label"]), q["flag_reason"],
                          q.get("answer_text") or "")
            for section in document_of(signed)["sections"] for q in section["questions"] if q["flag_reason"]]
