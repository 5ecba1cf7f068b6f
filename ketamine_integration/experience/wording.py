"""What a dosing record calls its people, times and checks in its setting: in the clinic, or
supervised at home by telehealth where the protocol allows it (BRIEF: sublingual KAP "in office or
supervised at home"). At home nobody is discharged from a room: the clinician supervises and
monitors remotely, the readings are the patient's own or their device's, and the session ends
when the telehealth supervision does."""
from __future__ import annotations

from dataclasses import replace

from ..domain.dosing_plan import AT_HOME
from ..domain.vitals import DISCHARGE_CRITERIA, TIMEPOINTS, VITALS_IN_RANGE

#: the record's words in the clinic (the form's own labels)
IN_CLINIC_WORDS = {
    "administered_by": "Administered by",
    "monitored_by": "Monitored by",
    "discharged_at": "Discharged at",
    "discharged": "Discharged",
    "observation": "Observation and discharge",
    "criteria": "Discharge criteria",
    "span": "from the start of dosing to discharge",
    "vitals": "Vital signs",
    "in_range": "Vital signs within the protocol's discharge range are read from the discharge reading",
    "in_range_label": VITALS_IN_RANGE,
}
#: ...and at home, by telehealth
AT_HOME_WORDS = {
    "administered_by": "Dose supervised by (telehealth)",
    "monitored_by": "Monitored remotely by (telehealth)",
    "discharged_at": "Telehealth supervision ended at",
    "discharged": "Telehealth supervision ended",
    "observation": "Observation by telehealth and end of supervision",
    "criteria": "Criteria for ending supervision",
    "span": "from the start of dosing to the end of telehealth supervision",
    "vitals": "Vital signs (the patient's own or device readings)",
    "in_range": "Vital signs within the protocol's range are read from the patient's reading before the end of "
                "supervision",
    "in_range_label": "Vital signs within the protocol's range before the end of supervision",
}
AT_HOME_TIMEPOINTS = {**TIMEPOINTS, "discharge": "Before the end of supervision"}
AT_HOME_CRITERIA = {**DISCHARGE_CRITERIA,
                    "accompanied": "A responsible adult stays with the patient, who will not drive today"}


def record_words(setting: str | None) -> dict[str, str]:
    return AT_HOME_WORDS if setting == AT_HOME else IN_CLINIC_WORDS


def timepoint_labels(setting: str | None) -> dict[str, str]:
    return AT_HOME_TIMEPOINTS if setting == AT_HOME else TIMEPOINTS


def criteria_labels(setting: str | None) -> dict[str, str]:
    return AT_HOME_CRITERIA if setting == AT_HOME else DISCHARGE_CRITERIA


def criteria_in_words(names: list[str], setting: str | None) -> list[str]:
    """Discharge criteria named by their clinic label (domain.vitals), in the setting's words."""
    by_label = {DISCHARGE_CRITERIA[key]: label for key, label in criteria_labels(setting).items()}
    by_label[VITALS_IN_RANGE] = record_words(setting)["in_range_label"]
    return [by_label.get(name, name) for name in names]


#: the signature's needs in words at home (domain.signing speaks of the clinic): phrase, then its
#: at-home words, longest first so a longer phrase is never half-replaced by a shorter one
AT_HOME_PHRASES = (
    (DISCHARGE_CRITERIA["accompanied"].lower(), AT_HOME_CRITERIA["accompanied"].lower()),
    ("discharge criteria", "criteria for ending supervision"),
    ("a discharge time", "a time telehealth supervision ended"),
    ("discharge time", "time telehealth supervision ended"),
    ("from the start of dosing to discharge", "from the start of dosing to the end of telehealth supervision"),
    ("before discharge", "before the end of supervision"),
    ("at discharge", "at the end of supervision"),
    ("discharge range", "range before the end of supervision"),
)


def at_home_words(text: str) -> str:
    """A clinic sentence about the record in the words of a session supervised at home."""
    for clinic, home in AT_HOME_PHRASES:
        text = text.replace(clinic, home).replace(clinic.capitalize(), home.capitalize())
    return text


def needs_in_setting(needs: list, setting: str | None) -> list:
    """The signature's needs (domain.signing.Need) as the record's setting words them."""
    if setting != AT_HOME:
        return needs
    return [replace(n, words=at_home_words(n.words), group=at_home_words(n.group)) for n in needs]
