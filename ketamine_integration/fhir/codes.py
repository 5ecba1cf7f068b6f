"""The identifier systems and code systems the export writes: the stable names an importer reads
(README, FHIR export). Our own systems are URNs under urn:ketamine-integration:."""
from __future__ import annotations

BASE = "urn:ketamine-integration"
#: identifier systems: the value is our row id as text, except the MRN (the clinic's own number)
MRN = f"{BASE}:mrn"
USER = f"{BASE}:user"
COURSE = f"{BASE}:course"
APPOINTMENT = f"{BASE}:appointment"
DOSING_SESSION = f"{BASE}:dosing-session"
MEASURE_RESPONSE = f"{BASE}:measure-response"
RELEASE = f"{BASE}:release"
SESSION_NOTE = f"{BASE}:session-note"
REPORT = f"{BASE}:coordination-report"
DISCHARGE_SUMMARY = f"{BASE}:discharge-summary"
TREATMENT_PLAN = f"{BASE}:treatment-plan"
PLAN_OBJECTIVE = f"{BASE}:plan-objective"
COORDINATION_NOTE = f"{BASE}:coordination-note"
ADVERSE_EVENT = f"{BASE}:adverse-event"
#: code systems of our own vocabularies
PHASE = f"{BASE}:phase"
MEDICATION = f"{BASE}:medication"
RELEASE_CATEGORY = f"{BASE}:release-category"
CARE_TEAM_ROLE = f"{BASE}:care-team-role"
SESSION_KIND = f"{BASE}:session-kind"
#: a planned technique: code = the technique vocabulary's key
TECHNIQUE = f"{BASE}:technique"
#: a coordination note's category (coordination.models.NOTE_CATEGORIES)
NOTE_CATEGORY = f"{BASE}:coordination-category"
#: an adverse event as the dosing record names it (free text, e.g. nausea): code = its words
ADVERSE_EVENT_TYPE = f"{BASE}:adverse-event-type"
#: an extension carrying what was done about an adverse event (R4 AdverseEvent has no element for it)
ADVERSE_EVENT_ACTION = f"{BASE}:adverse-event-action"
#: a measure without LOINC codes: code = the measure key (its total), key-N (item N), key-difficulty
MEASURE = f"{BASE}:measure"
#: a Questionnaire's canonical url is this plus the measure key
QUESTIONNAIRE = f"{BASE}:questionnaire:"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#: a Patient.contact's role (C: emergency contact); the relationship itself ("sibling") is the text
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"

#: SNOMED CT route of administration (the FHIR route value set)
ROUTES = {
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "sublingual": ("37839007", "Sublingual route"),
    "intranasal": ("46713006", "Nasal route"),
    "oral": ("26643006", "Oral route"),
}
#: RxNorm ingredient of ketamine; esketamine is written with our code and its name only
RXNORM_INGREDIENTS = {"ketamine": ("6130", "ketamine")}

#: vital signs as LOINC observations: (our column, LOINC code, display, UCUM unit)
VITALS = (
    ("heart_rate", "8867-4", "Heart rate", "/min"),
    ("respiratory_rate", "9279-1", "Respiratory rate", "/min"),
    ("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
)
BLOOD_PRESSURE = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
#: documents: LOINC document types
NOTE_TYPE = ("11506-3", "Progress note")
REPORT_TYPE = ("34133-9", "Summary of episode note")
DISCHARGE_TYPE = ("18842-5", "Discharge summary")
CONSENT_CATEGORY = ("59284-0", "Patient Consent")


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    out = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def identifier(system: str, value) -> list[dict]:
    return [{"system": system, "value": str(value)}]


def ref(resource_type: str, resource_id: str, display: str | None = None) -> dict:
    out = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def instant(value) -> str | None:
    """A stored UTC datetime as FHIR dateTime (UTC, seconds): times are stored UTC and leave as UTC."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
