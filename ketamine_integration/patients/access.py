"""Patient-level access: who may see which patient, and loading a patient for a view."""
from __future__ import annotations

from functools import cache

from flask import abort, g
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, inspect, select, true
from sqlalchemy.orm import joinedload

from ..accounts.models import CLINICAL_ROLES, User
from ..audit import services as audit
from ..extensions import db
from .models import CareTeamMember, Patient


def patient_exists(patient_id: int) -> bool:
    """Whether a patient with this id exists (archived ones too)."""
    return db.session.scalar(select(Patient.id).where(Patient.id == patient_id)) is not None


def sees_all_patients(user: User) -> bool:
    """Staff and admin see every patient's demographics and schedule (not note contents)."""
    return user.can("patients.read_all")


def team_roles(user: User, patient: Patient) -> frozenset[str]:
    """The roles `user` holds on this patient's care team (and still holds in the clinic): what
    they may do for this patient, whatever other roles they have elsewhere."""
    return frozenset(m.role for m in patient.care_team if m.user_id == user.id and m.role in user.roles)


def on_care_team(user: User, patient: Patient) -> bool:
    return bool(team_roles(user, patient))


def can_view_patient(user: User, patient: Patient) -> bool:
    return sees_all_patients(user) or on_care_team(user, patient)


def can_read_clinical(user: User, patient: Patient, permission: str = "notes.read") -> bool:
    """Clinical content is for the care team only, and of the team for those whose role grants
    `permission` (notes: the treating therapists and prescribers; a dosing record: nurses too)."""
    return user.can(permission) and on_care_team(user, patient)


def visible_patients(user: User, stmt: Select) -> Select:
    """Restrict a patient query to the patients this user may see."""
    return stmt if sees_all_patients(user) else caseload(user, stmt)


def caseload(user: User, stmt: Select) -> Select:
    """Restrict a patient query to the user's own care-team patients, whatever other roles.

    As `id IN (the user's care-team rows)`: a correlated EXISTS made SQLite test every active
    patient in the clinic; this reads the user's few hundred memberships by their index."""
    return stmt.where(Patient.id.in_(_care_team_patient_ids(user)))


def seen_by(user: User, patient_id: ColumnElement) -> ColumnElement[bool]:
    """A condition on a patient id column (an appointment's, a note's): the patients this user may
    see, for lists of records that name their patient."""
    return true() if sees_all_patients(user) else patient_id.in_(_care_team_patient_ids(user))


def _care_team_patient_ids(user: User) -> Select:
    """The ids of the user's care-team patients, as a subquery. Built once per app context (a request)
    and user and roles: a page's lists and the menu's counts ask for it about ten times, and building it
    was a tenth of a plain page's time (a statement is immutable, so one serves them all)."""
    roles = tuple(sorted(user.roles & set(CLINICAL_ROLES)))
    built = g.setdefault("care_team_patient_ids", {})
    if (user.id, roles) not in built:
        built[user.id, roles] = select(CareTeamMember.patient_id).where(
            CareTeamMember.user_id == user.id, CareTeamMember.role.in_(roles))
    return built[user.id, roles]


def active_caseload(user: User) -> Select:
    """A SELECT of the ids of the user's care-team patients, archived ones left out: what the
    worklists and the home page count and list."""
    return caseload(user, select(Patient.id).where(Patient.archived_at.is_(None)))


def load_patient(patient_id: int) -> Patient:
    """The patient the current user asked for: 404 if none, 403 (audited) if not theirs."""
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        abort(404)
    if not can_view_patient(current_user, patient):
        audit.denial("patient not on the user's care team", obj=patient, patient_id=patient.id)
        abort(403)
    return patient


def load_patient_to_export(patient_id: int) -> Patient:
    """The patient whose whole record the current user exports (the FHIR download, the right-of-access
    copy): a therapist on the care team (`records.export`); 404 if none, 403 audited otherwise."""
    patient = load_patient(patient_id)
    if not can_read_clinical(current_user, patient, "records.export"):
        audit.denial("a record export is made by a therapist on the patient's care team", obj=patient,
                     patient_id=patient.id)
        abort(403)
    return patient


def load_patient_record(model, record_id: int, *, clinical: bool | str):
    """A record that belongs to a patient (it has `.patient`), checked like the patient itself.

    clinical=True: only the care team members who read notes (therapists and prescribers) may
    use it; a permission name: the care team members holding it (a dosing record: nurses too);
    False: staff and admin may too (schedule-level information).
    """
    record = db.session.get(model, record_id, options=_with_patient(model))
    if record is None:
        abort(404)
    patient = record.patient
    if clinical:
        allowed = can_read_clinical(current_user, patient, clinical if isinstance(clinical, str) else "notes.read")
    else:
        allowed = can_view_patient(current_user, patient)
    if not allowed:
        audit.denial("patient not on the user's care team" if not can_view_patient(current_user, patient)
                     else "clinical content is for the care team", obj=record, patient_id=patient.id)
        abort(403)
    return record


@cache
def _with_patient(model) -> tuple:
    """load_patient_record's loader options for `model`: the record's patient and its care team, which the
    check reads, joined into the statement that reads the record (they were two lazy loads after it). Its
    patient is a relationship, or one of its course (a dosing session's); anything else loads as before.
    Built at the first use, when every model is mapped."""
    relations = inspect(model).relationships
    if "patient" in relations:
        patient = joinedload(relations["patient"].class_attribute)
    elif "course" in relations and "patient" in relations["course"].mapper.relationships:
        patient = joinedload(relations["course"].class_attribute).joinedload(
            relations["course"].mapper.relationships["patient"].class_attribute)
    else:
        return ()
    return (patient.joinedload(Patient.care_team),)
