"""Patients in an import file: the CSV header, FHIR Patient resources, and each row checked by the
same rules as the registration form (patients.forms.PatientForm), so an import accepts nothing the
form would refuse."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from ..domain.text import lookalike_key
from ..patients.forms import PatientForm
from .reading import NotARow, Refusal, RowRefused, pydantic_refusals

#: the identifier system of a patient's MRN in FHIR resources (import and export alike)
MRN_SYSTEM = "urn:ketamine-integration:mrn"
#: the code system of a contact's role (v2-0131: C emergency contact, N next of kin...)
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"

#: the patients CSV's columns, in the documented order (README, "Imports"); the header may give them
#: in any order and leave optional ones out
CSV_HEADER = ("mrn", "given_name", "family_name", "preferred_name", "date_of_birth", "phone", "email",
              "emergency_contact_name", "emergency_contact_relationship", "emergency_contact_phone")
CSV_REQUIRED = ("given_name", "family_name", "date_of_birth")


class ImportedPatientForm(PatientForm):
    """The registration form's demographic fields and checks, without the care team or the version."""
    therapists = prescribers = nurses = team_reason = version = None

    class Meta:
        csrf = False


@dataclass(frozen=True)
class PatientRow:
    """A row that passed the form's checks: the demographics register_patient takes."""
    where: str
    mrn: str | None
    fields: dict

    @property
    def identity(self) -> tuple[str, str, date]:
        """Who the row is, to find the same person twice: names as they look (domain.text.lookalike_key:
        a Cyrillic "а", full-width letters or a zero-width space do not make another person), and the date of birth."""
        return person_key(self.fields["given_name"], self.fields["family_name"], self.fields["date_of_birth"])


def person_key(given_name: str, family_name: str, born: date) -> tuple[str, str, date]:
    return lookalike_key(given_name), lookalike_key(family_name), born


class RowChecker:
    """The registration form's checks, one form for a whole file (building a form per row was half the
    cost of reading a file: bench/imports.py)."""

    def __init__(self):
        self.form = ImportedPatientForm(formdata=None)

    def csv(self, where: str, values: dict[str, str]) -> PatientRow:
        if "" in values:  # csv_rows's "wrong number of values" row
            raise RowRefused([Refusal(where, "(whole row)", values[""])])
        return checked_patient(self.form, where, values)

    def fhir(self, where: str, resource: Any) -> PatientRow:
        return fhir_patient(self.form, where, resource)


def checked_patient(form: ImportedPatientForm, where: str, values: dict[str, str],
                    field_names: dict[str, str] | None = None) -> PatientRow:
    """The row's values checked as the registration form checks them; RowRefused naming each field.
    `field_names` maps a form field to the name the file uses for it (FHIR elements)."""
    form.process(formdata=MultiDict({k: (v or "").strip() for k, v in values.items()}))
    if not form.validate():
        names = field_names or {}
        raise RowRefused([Refusal(where, names.get(name, name), " ".join(errors))
                          for name, errors in form.errors.items()])
    fields = {name: getattr(form, name).data for name in CSV_HEADER if name != "mrn"}
    fields = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in fields.items()}
    return PatientRow(where, (form.mrn.data or "").strip() or None, fields)


#: FHIR Patient element -> the form field it fills (for messages naming the file's element)
FHIR_FIELDS = {"mrn": f"identifier (system {MRN_SYSTEM})", "given_name": "name.given",
               "family_name": "name.family", "preferred_name": "name (use usual or nickname)",
               "date_of_birth": "birthDate", "phone": "telecom (phone)", "email": "telecom (email)",
               "emergency_contact_name": "contact.name", "emergency_contact_relationship": "contact.relationship",
               "emergency_contact_phone": "contact.telecom (phone)"}


def fhir_patient(form: ImportedPatientForm, where: str, resource: Any) -> PatientRow:
    """A FHIR R4B Patient resource as a patient row; RowRefused. Another kind of resource (a
    Bundle's Practitioners, CareTeams, Encounters... as the app's own export writes them) is
    NotARow: counted as not imported, never a refusal of the file."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if isinstance(kind, str) and kind and kind != "Patient":
        raise NotARow(kind)
    if kind != "Patient":
        raise RowRefused([Refusal(where, "resourceType", "is missing; this import reads Patient resources.")])
    try:
        patient = FhirPatient.model_validate(resource)
    except ValidationError as err:
        raise RowRefused(pydantic_refusals(where, err)) from None
    return checked_patient(form, where, _patient_values(patient), FHIR_FIELDS)


def _names(patient) -> dict[str, str]:
    """The official (or first) name's first given and family names; a usual name or nickname as preferred."""
    names = patient.name or []
    official = next((n for n in names if n.use in (None, "official")), names[0] if names else None)
    usual = next((n for n in names if n.use in ("usual", "nickname") and n.given), None)
    return {"given_name": (official.given or [""])[0] if official else "",
            "family_name": (official.family or "") if official else "",
            "preferred_name": usual.given[0] if usual else ""}


def _patient_values(patient) -> dict[str, str]:
    values = {
        "mrn": next((i.value for i in patient.identifier or [] if i.system == MRN_SYSTEM and i.value), ""),
        **_names(patient),
        "date_of_birth": patient.birthDate.isoformat() if patient.birthDate else "",
        "phone": _telecom(patient.telecom, "phone"),
        "email": _telecom(patient.telecom, "email"),
    }
    if patient.contact:
        values.update(_emergency_contact(patient.contact[0]))
    return values


def _emergency_contact(contact) -> dict[str, str]:
    """The first contact as the emergency contact: its name, relationship and phone."""
    name = contact.name
    written = (name.text or " ".join(part for part in [*(name.given or []), name.family] if part)) if name else ""
    relationship = (contact.relationship or [None])[0]
    said = ""
    if relationship is not None:  # a v2-0131 coding is the contact's role ("Emergency Contact"), not a relationship
        said = relationship.text or next((coding.display for coding in relationship.coding or []
                                          if coding.system != CONTACT_ROLE and coding.display), "")
    return {"emergency_contact_name": written, "emergency_contact_relationship": said,
            "emergency_contact_phone": _telecom(contact.telecom, "phone")}


def _telecom(points, system: str) -> str:
    return next((p.value for p in points or [] if p.system == system and p.value), "")
