"""Signed forms' operations: the packet made at enrolment, signing (portal or clinic tablet),
countersigning, a prescriber's review of flagged answers, a consent's withdrawal, the tablet's signing
sessions (issue 26; `flask signatures verify`'s recheck is integrity.py). Every write is audited here; reads are
audited by the views that show them.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from ..accounts.models import User
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..courses.services import course_protocol, lock_course
from ..db.append_only import digest
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain.form_answers import (build_document, check_answers, document_digest, document_json, flag_count,
                                   signature_problems, signed_name)
from ..domain.form_definitions import FormDefinition
from ..domain.text import is_written, written_length
from ..extensions import db
from ..patients.access import team_roles
from ..protocols.forms import current_forms
from .models import (COMPLETED, ENDED_BY_STAFF, EXPIRED, IN_CLINIC, PORTAL, ConsentWithdrawal, FormCountersignature, FormFlagReview,
                     FormPacket, PacketForm, SignedForm, TabletSigning)
# packet_status is called here by the pages and the demo (issue 26's contract): __all__ names it
from .status import (SIGN_AGAIN, SIGNED, TO_SIGN, WITHDRAWN, document_of, fetch_packet, flags_of, packet_status,
                     signature_parts)

#: how long a clinic tablet stays handed to the patient
TABLET_MINUTES = 30
#: who countersigns, as a refusal says it
COUNTERSIGNERS_IN_WORDS = {"prescriber": "This form is countersigned by a prescriber of the patient's care team.",
                           "therapist": "This form is countersigned by a therapist of the patient's care team.",
                           "staff": "This form is countersigned by a member of the clinic's staff."}
#: why a form with flagged answers no prescriber has reviewed is not countersigned yet
UNREVIEWED_FLAGS = "Review the flagged answers first."
#: the fewest characters a prescriber's review note says (the clinic's other review notes: 10)
MIN_REVIEW_NOTE = 10

__all__ = ["countersign", "create_packet", "dosing_refusal", "end_tablet_signing", "packet_status", "review_flags", "sign_form",
           "signed_form_document", "start_tablet_signing", "tablet_signing_for", "withdraw",
           # the pages' (issue 26, the forms UI): a tablet's expiry recorded, staff ending a tablet's signing
           "end_tablet_signings_by_staff", "expire_tablet_signing", "live_tablet_signings"]


# -- the packet ---------------------------------------------------------------------------------

def create_packet(course: TreatmentCourse, *, by: User) -> FormPacket | None:
    """The forms the course's protocol names, asked for once (None: it names none)."""
    forms = course_protocol(course).preparation.forms
    if not forms:
        return None
    existing = fetch_packet(course)
    if existing is not None:
        return existing
    packet = FormPacket(course_id=course.id, created_by_id=by.id, forms=[PacketForm(form_id=f) for f in forms])
    db.session.add(packet)
    db.session.flush()
    audit.record("forms.packet_create", obj=packet, patient_id=course.patient_id, detail=", ".join(forms))
    return packet


def packet_on_enrolment(course: TreatmentCourse, *, by: User) -> None:
    """courses.course_enrolled's receiver (create_app connects it): a new course's packet."""
    create_packet(course, by=by)


# -- signing ------------------------------------------------------------------------------------

def _second(now: datetime | None) -> datetime:
    """The instant a signature records, to the second (the document says it in ISO 8601, UTC)."""
    return (now or utcnow()).astimezone(timezone.utc).replace(microsecond=0)


def iso_instant(moment: datetime) -> str:
    """An instant (UTC) as a signed document says it, to the second."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_form(course: TreatmentCourse, form_id: str, *, raw_answers, typed_name, agreed, method: str,
              portal_account=None, witness: User | None = None, now: datetime | None = None) -> SignedForm:
    """The patient signs the current version of a form of their course's packet: the answers checked,
    the typed name matched, a consent's agreement ticked; stored as the document and its digest."""
    lock_course(course)  # two signatures of one packet at once take turns; the second sees the first
    form = _form_to_sign(course, form_id)
    _check_signer(course, method, portal_account, witness)
    patient = course.patient
    # a date the file bounds by today is checked against the clinic's date at signing, not UTC's
    answers, problems = check_answers(form, raw_answers, today=clinic_today(now))
    problems.update(signature_problems(form, typed_name=typed_name, agreed=agreed, patient_name=patient.full_name))
    if problems:
        raise DomainError(problems)
    signed_at = _second(now)
    signature = {"typed_name": signed_name(typed_name), "agreed": True, "signed_at": iso_instant(signed_at),
                 "method": method, "portal_account": portal_account.email if portal_account is not None else None,
                 "witness": {"id": witness.id, "name": witness.display_name} if witness is not None else None}
    document = build_document(form, answers, patient={
        "id": patient.id, "name": patient.full_name, "mrn": patient.mrn,
        "date_of_birth": patient.date_of_birth.isoformat()}, signature=signature)
    signed = SignedForm(patient_id=patient.id, course_id=course.id, form_id=form.id, form_version=form.version,
                        form_content_hash=form.content_hash, kind=form.kind, title=form.title,
                        document=document_json(document), digest=document_digest(document),
                        flagged_count=flag_count(document), signed_at=signed_at,
                        method=method, typed_name=signature["typed_name"],
                        portal_account_id=portal_account.id if portal_account is not None else None,
                        witness_id=witness.id if witness is not None else None)
    db.session.add(signed)
    db.session.flush()
    audit.record("forms.sign", obj=signed, patient_id=patient.id, detail=f"{form.id} v{form.version} ({method})")
    return signed


def _refuse_closed(course: TreatmentCourse) -> None:
    """Nothing is signed on a course that has ended, nor for an archived patient."""
    if course.patient.is_archived or course.current_phase.ended:
        raise DomainError("This course has ended (or the patient's record is archived): its forms are closed.")


def _form_to_sign(course: TreatmentCourse, form_id: str) -> FormDefinition:
    """The current version of a form the packet asks for and the patient may sign now."""
    _refuse_closed(course)
    status = packet_status(course)  # its items are the forms the course asks for (requested_forms)
    item = status.item(form_id) if status is not None else None
    if item is None:
        raise DomainError("That form is not one this course asks for.")
    if item.form is None:
        raise DomainError("That form cannot be signed now: its file is missing or cannot be used. Ask the clinic.")
    if item.state == SIGNED:
        raise DomainError(f"{item.title} is already signed.")
    return item.form


def _check_signer(course: TreatmentCourse, method: str, portal_account, witness: User | None) -> None:
    """In the portal: the patient's own active account, nobody else present. In the clinic: a staff member or
    clinician who may hand over the tablet witnesses."""
    if method == PORTAL:
        if portal_account is None or witness is not None or portal_account.patient_id != course.patient_id \
                or not portal_account.active:
            raise DomainError("Sign in to your own portal account to sign your forms.")
    elif method == IN_CLINIC:
        if witness is None or portal_account is not None or not _may_hand_over(witness, course):
            raise DomainError("A staff member or a clinician of the care team starts an in-clinic signing.")
    else:
        raise DomainError("A form is signed in the portal or on a clinic tablet.")


def _may_hand_over(user: User, course: TreatmentCourse) -> bool:
    """Staff for any patient (the front desk), clinicians for their care-team patients."""
    if not user.active or not user.can("forms.sign_in_clinic"):
        return False
    return user.can("patients.read_all") or bool(team_roles(user, course.patient))


# -- after signing ------------------------------------------------------------------------------

def signed_definition(signed: SignedForm) -> FormDefinition | None:
    """The form file's version the patient signed (its newest version if that one is gone; None: no file)."""
    library = current_forms()
    return library.find(signed.form_id, signed.form_version) or next(
        (f for f in library.newest() if f.id == signed.form_id), None)


def countersignature_digest(signed: SignedForm, *, user_id: int, role: str, signed_at: datetime) -> str:
    """SHA-256 over the signed form's digest, who countersigned, in which role, when."""
    return digest("form_countersignatures", {"form_digest": signed.digest, "user_id": user_id, "role": role,
                                             "signed_at": signed_at}, ("form_digest", "user_id", "role", "signed_at"))


def _lock_signed(signed: SignedForm) -> None:
    """Take the course's lock, then read the signature afresh: two countersignatures, reviews or withdrawals
    at once take turns, and the second sees the first (it was a unique-key error: a 500)."""
    lock_course(signed.course)
    # its columns and what the callers check, read in one statement (a refresh, then a lazy load for each)
    db.session.scalars(select(SignedForm).where(SignedForm.id == signed.id).options(*signature_parts())
                       .execution_options(populate_existing=True)).one()


def countersign(signed: SignedForm, *, by: User, now: datetime | None = None) -> FormCountersignature:
    """The role the form names countersigns: a prescriber or therapist of the patient's care team, or staff."""
    _lock_signed(signed)
    definition = signed_definition(signed)
    role = definition.countersign if definition is not None else None
    if role is None:
        raise DomainError("This form asks for no countersignature.")
    if signed.countersignature is not None:
        raise DomainError("This form is already countersigned.")
    if signed.withdrawal is not None:
        raise DomainError("The patient withdrew this consent: there is nothing to countersign.")
    held = {"staff"} & set(by.roles) if role == "staff" else team_roles(by, signed.patient)
    if not by.can("forms.countersign") or role not in held:
        raise DomainError(COUNTERSIGNERS_IN_WORDS[role])
    if flags_of(signed) and signed.flag_review is None:
        # a countersignature vouches for the answers: the flagged ones are reviewed first
        raise DomainError(UNREVIEWED_FLAGS)
    signed_at = _second(now)
    row = FormCountersignature(signed_form=signed, user_id=by.id, role=role, signed_at=signed_at,
                               digest=countersignature_digest(signed, user_id=by.id, role=role, signed_at=signed_at))
    db.session.add(row)
    db.session.flush()
    audit.record("forms.countersign", obj=row, patient_id=signed.patient_id, detail=f"{signed.form_id} as {role}")
    return row


def review_flags(signed: SignedForm, *, by: User, note: str, now: datetime | None = None) -> FormFlagReview:
    """A prescriber of the care team reviews the flagged answers of a signature with one note (`now`: when;
    the views review at the time of the request, the demo's invented history on the day it happened)."""
    _lock_signed(signed)
    if not by.can("forms.review_flags") or "prescriber" not in team_roles(by, signed.patient):
        raise DomainError("Flagged answers are reviewed by a prescriber of the patient's care team.")
    if not flags_of(signed):
        raise DomainError("This signed form has no flagged answers to review.")
    if signed.flag_review is not None:
        raise DomainError("These flagged answers are already reviewed.")
    if written_length(note) < MIN_REVIEW_NOTE:
        raise DomainError({"note": f"Say what you reviewed and decided (at least {MIN_REVIEW_NOTE} characters)."})
    review = FormFlagReview(signed_form=signed, prescriber_id=by.id, note=note.strip(), reviewed_at=now or utcnow())
    db.session.add(review)
    db.session.flush()
    audit.record("forms.review_flags", obj=review, patient_id=signed.patient_id, detail=signed.form_id)
    return review


def withdraw(signed: SignedForm, *, reason: str, recorded_by: User | None = None, portal_account=None,
             now: datetime | None = None) -> ConsentWithdrawal:
    """The patient withdraws the consent they signed last: in the portal, or by telling the clinic (the
    staff member who heard it records it). Signing the form again restores it."""
    _check_withdrawing(signed, recorded_by, portal_account)
    _lock_signed(signed)
    if signed.kind != "consent":
        raise DomainError("Only a consent is withdrawn.")
    status = packet_status(signed.course)
    item = status.item(signed.form_id) if status is not None else None
    if item is None or item.signed is not signed or item.state == WITHDRAWN:
        raise DomainError("This consent is already withdrawn, or a later signature replaced it.")
    if not is_written(reason):
        raise DomainError({"reason": "Say in a few words what the patient said."})
    row = ConsentWithdrawal(signed_form=signed, withdrawn_at=_second(now), reason=reason.strip(),
                            recorded_by_id=recorded_by.id if recorded_by is not None else None,
                            portal_account_id=portal_account.id if portal_account is not None else None)
    db.session.add(row)
    db.session.flush()
    audit.record("forms.withdraw", obj=row, patient_id=signed.patient_id, detail=signed.form_id)
    return row


def _check_withdrawing(signed: SignedForm, recorded_by: User | None, portal_account) -> None:
    """The patient in their own portal account, or a member of the clinic who may record it for them."""
    if (recorded_by is None) == (portal_account is None):
        raise DomainError("A withdrawal is the patient's in the portal, or recorded by the clinic: one of the two.")
    if recorded_by is not None and not (recorded_by.can("forms.record_withdrawal")
                                        and (recorded_by.can("patients.read_all")
                                             or team_roles(recorded_by, signed.patient))):
        raise DomainError("You may not record withdrawals for this patient.")
    if portal_account is not None and portal_account.patient_id != signed.patient_id:
        raise DomainError("Sign in to your own portal account to withdraw your consent.")


def dosing_refusal(course: TreatmentCourse) -> str | None:
    """Why no dose may be planned, moved or started for the course now, whatever its phase and however its
    preparation gate was passed (None: nothing in the forms stops it): a form dosing needs never signed, a
    dosing consent withdrawn, a flagged answer a prescriber has not reviewed (status.PacketItem.stops_dosing).
    A dose already under way is never stopped: its record is the patient's safety."""
    status = packet_status(course)
    return status.dosing_refusal if status is not None else None


def signed_form_document(signed: SignedForm) -> dict:
    """The document the patient signed (parsed): what the pages and the PDF render."""
    return document_of(signed)


# -- the clinic tablet --------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_tablet_signing(course: TreatmentCourse, *, by: User, now: datetime | None = None) -> tuple[TabletSigning, str]:
    """Hand a tablet to the patient for 30 minutes: (the session, its token for the tablet's cookie; only its
    SHA-256 is stored). A session still live for the course is ended first: one tablet per patient."""
    if not _may_hand_over(by, course):
        raise DomainError("A staff member or a clinician of the care team starts an in-clinic signing.")
    _refuse_closed(course)  # its every signature would be refused: no tablet is handed over for it
    lock_course(course)  # two starts at once take turns: the second ends the first, one tablet per patient
    status = packet_status(course)
    if status is None or not any(i.state in (TO_SIGN, SIGN_AGAIN, WITHDRAWN) and i.form for i in status.items):
        raise DomainError("This course has no form waiting to be signed.")
    started = now or utcnow()
    for live in live_tablet_signings(course, now=started):
        end_tablet_signing(live, reason=ENDED_BY_STAFF, now=started)
    token = secrets.token_urlsafe(32)
    session = TabletSigning(patient_id=course.patient_id, course_id=course.id, started_by_id=by.id,
                            token_hash=_token_hash(token), started_at=started,
                            expires_at=started + timedelta(minutes=TABLET_MINUTES))
    db.session.add(session)
    db.session.flush()
    audit.record("forms.tablet_start", obj=session, patient_id=course.patient_id)
    return session, token


def live_tablet_signings(course: TreatmentCourse, *, now: datetime | None = None) -> list[TabletSigning]:
    """The course's tablet signing sessions still open (not ended, their 30 minutes not over), oldest first."""
    return list(db.session.scalars(select(TabletSigning).where(
        TabletSigning.course_id == course.id, TabletSigning.ended_at.is_(None),
        TabletSigning.expires_at > (now or utcnow())).order_by(TabletSigning.id)))


def end_tablet_signings_by_staff(course: TreatmentCourse, *, by: User, now: datetime | None = None) -> int:
    """Staff end the course's open tablet signings from their own device (the patient left the tablet, or
    handed it back without pressing "Done"): how many were ended. Refused when none is open."""
    if not _may_hand_over(by, course):
        raise DomainError("A staff member or a clinician of the care team ends an in-clinic signing.")
    ended = now or utcnow()
    live = live_tablet_signings(course, now=ended)
    if not live:
        raise DomainError("No in-clinic signing is open for this course.")
    for session in live:
        end_tablet_signing(session, reason=ENDED_BY_STAFF, now=ended)
    return len(live)


def tablet_signing_for(token: str | None, *, now: datetime | None = None) -> TabletSigning | None:
    """The live session a tablet's token names (None: unknown, ended or past its 30 minutes)."""
    if not token:
        return None
    session = db.session.scalar(select(TabletSigning).where(TabletSigning.token_hash == _token_hash(token)))
    if session is None or session.ended_at is not None or session.expires_at <= (now or utcnow()):
        return None
    return session


def ended_tablet_signing(token: str | None) -> TabletSigning | None:
    """The ended session a tablet's token names (None: unknown, or still live): what the device's closed page
    says of how it ended, and which course's forms page staff go back to after signing in."""
    if not token:
        return None
    session = db.session.scalar(select(TabletSigning).where(TabletSigning.token_hash == _token_hash(token)))
    return session if session is not None and session.ended_at is not None else None


def expire_tablet_signing(token: str | None, *, now: datetime | None = None) -> TabletSigning | None:
    """The session a tablet's token names, once its 30 minutes are over and nothing else ended it: ended now as
    expired (audited), and returned; None for any other token (live, ended already, unknown)."""
    if not token:
        return None
    moment = now or utcnow()
    session = db.session.scalar(select(TabletSigning).where(TabletSigning.token_hash == _token_hash(token)))
    if session is None or session.ended_at is not None or session.expires_at > moment:
        return None
    end_tablet_signing(session, reason=EXPIRED, now=moment)
    return session


def end_tablet_signing(session: TabletSigning, *, reason: str, now: datetime | None = None) -> None:
    """End a session once: completed (every form signed), ended by staff, or expired."""
    if reason not in (COMPLETED, ENDED_BY_STAFF, EXPIRED):
        raise ValueError(f"unknown end of a tablet signing: {reason!r}")
    if session.ended_at is not None:
        return
    session.ended_at, session.ended_reason = now or utcnow(), reason
    db.session.flush()
    audit.record("forms.tablet_end", obj=session, patient_id=session.patient_id, detail=reason)
