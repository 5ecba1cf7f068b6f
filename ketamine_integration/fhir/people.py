"""Patient, Practitioner and CareTeam resources from the clinic's rows."""
from __future__ import annotations

from ..accounts.models import User
from ..patients.models import Patient
from . import codes as c

ROLE_NAMES = {"therapist": "Integration therapist", "prescriber": "Prescriber", "nurse": "Nurse"}


def patient_id(pk: int) -> str:
    return f"patient-{pk}"


def practitioner_id(pk: int) -> str:
    return f"practitioner-{pk}"


def practitioner_ref(user: User | None) -> dict | None:
    return None if user is None else c.ref("Practitioner", practitioner_id(user.id), user.full_name)


def patient_resource(patient: Patient) -> dict:
    names = [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}]
    if patient.preferred_name:  # even one equal to the given name: it was written down, so it goes out
        names.append({"use": "usual", "family": patient.family_name, "given": [patient.preferred_name]})
    out = {
        "resourceType": "Patient", "id": patient_id(patient.id),
        "identifier": [{"use": "usual", "system": c.MRN, "value": patient.mrn}],
        "active": not patient.is_archived, "name": names, "birthDate": patient.date_of_birth.isoformat(),
    }
    telecom = [{"system": kind, "value": value} for kind, value in (("phone", patient.phone),
                                                                    ("email", patient.email)) if value]
    if telecom:
        out["telecom"] = telecom
    contact = emergency_contact(patient)
    if contact:
        out["contact"] = [contact]
    return out


def emergency_contact(patient: Patient) -> dict | None:
    """The emergency contact as a Patient.contact: its role (v2-0131 C), and the name, relationship (as
    text, only when one was written) and phone the clinic holds. Written when there is a name or a phone
    (FHIR's pat-1 asks for one of them), so a phone without a name goes out too."""
    if not (patient.emergency_contact_name or patient.emergency_contact_phone):
        return None
    relationship = {"coding": [c.coding(c.CONTACT_ROLE, "C", "Emergency Contact")]}
    if patient.emergency_contact_relationship:
        relationship["text"] = patient.emergency_contact_relationship
    contact = {"relationship": [relationship]}
    if patient.emergency_contact_name:
        contact["name"] = {"text": patient.emergency_contact_name}
    if patient.emergency_contact_phone:
        contact["telecom"] = [{"system": "phone", "value": patient.emergency_contact_phone}]
    return contact


def practitioner_resource(user: User) -> dict:
    out = {"resourceType": "Practitioner", "id": practitioner_id(user.id),
           "identifier": c.identifier(c.USER, user.id), "active": user.active, "name": [{"text": user.full_name}]}
    if user.licence_type and user.licence_number:
        out["qualification"] = [{"code": {"text": user.licence_type},
                                 "identifier": [{"value": user.licence_number}]}]
    return out


def care_team_resource(patient: Patient) -> dict:
    """The patient's care team as it stands (members who left are no longer rows)."""
    return {
        "resourceType": "CareTeam", "id": f"care-team-{patient.id}", "status": "active",
        "subject": c.ref("Patient", patient_id(patient.id)),
        "participant": [{"role": [c.concept(c.CARE_TEAM_ROLE, m.role, ROLE_NAMES.get(m.role))],
                         "member": practitioner_ref(m.user), "period": {"start": c.instant(m.added_at)}}
                        for m in patient.care_team],
    }
