"""Patient operations: search, register, edit with optimistic locking, archive and restore."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select, text

from ..accounts.models import NURSE, PRESCRIBER, THERAPIST, User
from ..accounts.services import user_choices
from ..db.types import utcnow
from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from ..db.locking import add_once, flush_versioned
from .care_team import change_care_team, team_of
from .events import contact_changed
from .models import CareTeamMember, Patient

MRN_PREFIX = "KI-"

#: form field -> Patient column, for the demographic fields copied as they are
DEMOGRAPHIC_FIELDS = (
    "given_name", "family_name", "preferred_name", "date_of_birth", "phone", "email",
    "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone",
)


def clinician_choices(role: str) -> list[tuple[int, str]]:
    """(id, name) of active users holding a clinical role, for the care-team selects."""
    return [(user_id, name) for user_id, name, _roles in user_choices(role)]


def search_patients_stmt(query: str = "", *, include_archived: bool = False,
                         clinician_id: int | None = None):
    """Patients matching every word of `query` in a name, preferred name, MRN, phone, email,
    emergency contact or date of birth; optionally only those on one clinician's care team."""
    stmt = select(Patient).order_by(Patient.family_name, Patient.given_name, Patient.id)
    if not include_archived:
        stmt = stmt.where(Patient.archived_at.is_(None))
    if clinician_id is not None:
        stmt = stmt.where(Patient.care_team.any(CareTeamMember.user_id == clinician_id))
    for term in query.split():
        like = f"%{term.lower()}%"
        digits = "".join(ch for ch in term if ch.isdigit())
        conditions = [
            func.lower(Patient.given_name).like(like),
            func.lower(Patient.family_name).like(like),
            func.lower(Patient.preferred_name).like(like),
            func.lower(Patient.mrn).like(like),
            func.lower(Patient.email).like(like),
            func.lower(Patient.emergency_contact_name).like(like),
        ]
        if len(digits) >= 3:
            conditions.append(_digits_only(Patient.phone).like(f"%{digits}%"))
        born = _parse_date(term)
        if born is not None:
            conditions.append(Patient.date_of_birth == born)
        stmt = stmt.where(or_(*conditions))
    return stmt


def _parse_date(term: str) -> date | None:
    """A search term that is a date: ISO (1984-03-07) or US style (03/07/1984)."""
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(term, fmt).date()
        except ValueError:
            continue
    return None


def _digits_only(column):
    stripped = column
    for ch in " -().+":
        stripped = func.replace(stripped, ch, "")
    return stripped


#: PostgreSQL advisory lock key that serialises MRN assignment (any constant unique to it)
MRN_LOCK_KEY = 7_240_001


def hold_registrations() -> None:
    """Take turns with every other registration until this transaction ends (on PostgreSQL a
    transaction-scoped advisory lock; SQLite's BEGIN IMMEDIATE already serialises writers): what
    this one reads of the registered patients stays true until it commits."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MRN_LOCK_KEY})


def next_mrn() -> str:
    """The next free clinic MRN (KI-000123), reserved until this transaction ends.

    Concurrent registrations cannot see each other's uncommitted rows, so they would draw
    the same number: they take turns (hold_registrations).
    """
    hold_registrations()
    candidate = (db.session.scalar(select(func.count()).select_from(Patient)) or 0) + 1
    while db.session.scalar(select(Patient.id).where(Patient.mrn == f"{MRN_PREFIX}{candidate:06d}")):
        candidate += 1
    return f"{MRN_PREFIX}{candidate:06d}"


def _check_mrn_free(mrn: str, patient_id: int | None) -> None:
    stmt = select(Patient.id).where(func.lower(Patient.mrn) == mrn.lower())
    if patient_id is not None:
        stmt = stmt.where(Patient.id != patient_id)
    if db.session.scalar(stmt) is not None:
        raise DomainError({"mrn": "Another patient already has this MRN."})


def _wanted_care_team(therapist_ids, prescriber_ids, nurse_ids=(), current=frozenset()) -> set[tuple[int, str]]:
    """Check each newly chosen clinician before anything changes; return (user id, role) pairs.

    Members already on the team stay valid even if since disabled: editing a phone number
    must not silently drop a clinician from the record of who treated the patient.
    """
    wanted = ({(uid, THERAPIST) for uid in therapist_ids} | {(uid, PRESCRIBER) for uid in prescriber_ids}
              | {(uid, NURSE) for uid in nurse_ids})
    for uid, role in wanted - set(current):
        user = db.session.get(User, uid)
        if user is None or not user.active or not user.has_role(role):
            raise DomainError({f"{role}s": f"User {uid} is not an active {role}."})
    return wanted


def register_patient(*, therapist_ids=(), prescriber_ids=(), nurse_ids=(), mrn: str | None = None,
                     **demographics) -> Patient:
    """A new patient and their first care team (the view's "patient.create" audit row names it)."""
    team = _wanted_care_team(therapist_ids, prescriber_ids, nurse_ids)
    typed_mrn = (mrn or "").strip()
    if typed_mrn:
        _check_mrn_free(typed_mrn, None)
    patient = Patient(mrn=typed_mrn or next_mrn(), **_clean(demographics),
                      care_team=[CareTeamMember(user_id=uid, role=role) for uid, role in sorted(team)])
    # the refusal: someone registered the same typed MRN a moment ago
    return add_once(patient, {"mrn": "Another patient already has this MRN."})


@dataclass(frozen=True)
class PatientEdit:
    """What a saved edit changed: the patient's details, the care team, or both."""

    details_changed: bool
    team_changed: bool


def update_patient(patient: Patient, *, expected_version: int, therapist_ids=(),
                   prescriber_ids=(), nurse_ids=(), mrn: str | None = None, team_reason: str | None = None,
                   by: User | None = None, **demographics) -> PatientEdit:
    """Apply an edit made from `expected_version`; refuse it if someone saved in between.

    A change of the care team needs `team_reason`: it is recorded with the change."""
    if patient.version != expected_version:
        raise ConcurrentEdit(
            "Someone else saved this patient while you were editing. Your changes are still in "
            "the form below: compare them with the current record and save again.",
            current_version=patient.version)
    mrn = (mrn or "").strip() or patient.mrn
    _check_mrn_free(mrn, patient.id)
    team = _wanted_care_team(therapist_ids, prescriber_ids, nurse_ids, current=team_of(patient))
    details = dict(_clean(demographics), mrn=mrn)
    details_changed = any(getattr(patient, name) != value for name, value in details.items())
    contact_before = (patient.email, patient.phone)
    # Every check has run; from here on the edit is applied in one flush (one version step).
    for name, value in details.items():
        setattr(patient, name, value)
    patient.updated_at = utcnow()  # bumps the version even when only the care team changed
    flush_versioned(patient, "Someone else saved this patient at the same moment; your changes are kept "
                             "in the form. Review and save again.")
    team_changed = change_care_team(patient, team, by=by, reason=team_reason, reason_field="team_reason")
    if (patient.email, patient.phone) != contact_before:
        contact_changed.send(patient.id)  # waiting messages go to the address as it now is
    return PatientEdit(details_changed=details_changed, team_changed=team_changed)


def _clean(demographics: dict) -> dict:
    unknown = set(demographics) - set(DEMOGRAPHIC_FIELDS)
    if unknown:
        raise TypeError(f"unexpected patient fields: {sorted(unknown)}")
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in demographics.items()}


def archive_patient(patient: Patient, by: User) -> None:
    if patient.archived_at is not None:
        raise DomainError("This patient is already archived.")
    patient.archived_at, patient.archived_by_id = utcnow(), by.id
    db.session.flush()
    contact_changed.send(patient.id)  # an archived patient is sent nothing


def restore_patient(patient: Patient) -> None:
    if patient.archived_at is None:
        raise DomainError("This patient is not archived.")
    patient.archived_at, patient.archived_by_id = None, None
    db.session.flush()
    contact_changed.send(patient.id)  # what was withdrawn at the archiving and is still ahead goes again


def clinician_choices_for(patient: Patient | None, role: str) -> list[tuple[int, str]]:
    """Active clinicians of a role, plus any current member no longer active (marked so)."""
    choices = clinician_choices(role)
    offered = {uid for uid, _ in choices}
    for member in (patient.care_team if patient else []):
        if member.role == role and member.user_id not in offered:
            choices.append((member.user_id, f"{member.user.display_name} (inactive)"))
    return choices
