"""EpisodeOfCare (a course and its phase), Appointment, Encounter (held sessions),
MedicationAdministration (doses), the dosing session's vital-sign Observations and its AdverseEvents."""
from __future__ import annotations

from ..bookings.models import KINDS, Appointment
from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..domain.vitals import TIMEPOINTS
from ..experience.models import SIGNED, DosingSession, VitalSigns
from . import codes as c
from .people import patient_id, practitioner_ref

#: a course's phase as an episode's status: the live phases are active, the two endings close it
EPISODE_STATUS = {Phase.COMPLETED.value: "finished", Phase.DISCONTINUED.value: "cancelled"}
APPOINTMENT_STATUS = {"booked": "booked", "attended": "fulfilled", "no_show": "noshow", "cancelled": "cancelled"}
#: the encounter's class (v3 ActCode): a telehealth session is virtual, a supervised dose at home is home health
VIRTUAL, AMBULATORY, HOME = ("VR", "virtual"), ("AMB", "ambulatory"), ("HH", "home health")
#: which dosing records are an administration: the signed record is final, a draft is still being written
ADMINISTRATION_STATUS = {SIGNED: "completed", "draft": "in-progress"}


def episode_id(course_id: int) -> str:
    return f"course-{course_id}"


def encounter_id_of(session: DosingSession) -> str:
    """A dose's encounter: its attended booking's, or one of its own (a dose recorded without one)."""
    appointment = session.appointment
    if appointment is not None and appointment.status == "attended":
        return f"appointment-{appointment.id}"
    return f"dose-{session.id}"


def episode_resource(course: TreatmentCourse) -> dict:
    status = EPISODE_STATUS.get(course.phase, "active")
    history, transitions = [], course.transitions
    for n, transition in enumerate(transitions):
        period = {"start": c.instant(transition.occurred_at)}
        if n + 1 < len(transitions):
            period["end"] = c.instant(transitions[n + 1].occurred_at)
        history.append({"status": EPISODE_STATUS.get(transition.to_phase, "active"), "period": period})
    period = {"start": course.start_date.isoformat()}
    if status != "active":
        period["end"] = c.instant(course.phase_since)
    version = course.protocol_version
    return {
        "resourceType": "EpisodeOfCare", "id": episode_id(course.id), "identifier": c.identifier(c.COURSE, course.id),
        "status": status, "statusHistory": history,
        "type": [c.concept(c.PHASE, course.phase, Phase(course.phase).label, text=f"Phase: {Phase(course.phase).label}"),
                 {"text": f"Protocol: {version.name} (version {version.version}); indication: {course.indication}"}],
        "patient": c.ref("Patient", patient_id(course.patient_id)),
        "period": period,
        "careManager": practitioner_ref(course.therapist),
        "team": [c.ref("CareTeam", f"care-team-{course.patient_id}")],
    }


def appointment_resource(appointment: Appointment) -> dict:
    out = {
        "resourceType": "Appointment", "id": f"appointment-{appointment.id}",
        "identifier": c.identifier(c.APPOINTMENT, appointment.id),
        "status": APPOINTMENT_STATUS[appointment.status],
        "serviceType": [c.concept(c.SESSION_KIND, appointment.kind, KINDS.get(appointment.kind))],
        "start": c.instant(appointment.starts_at), "end": c.instant(appointment.ends_at),
        "created": c.instant(appointment.created_at),
        "participant": [
            {"actor": c.ref("Patient", patient_id(appointment.patient_id)), "status": "accepted"},
            {"actor": practitioner_ref(appointment.clinician), "status": "accepted"},
        ],
    }
    if appointment.cancel_reason:
        out["cancelationReason"] = {"text": appointment.cancel_reason}
    return out


def appointment_encounter(appointment: Appointment) -> dict:
    """A held session (attended): when, with whom, under which course."""
    kind = VIRTUAL if appointment.modality == "telehealth" else AMBULATORY
    out = {
        "resourceType": "Encounter", "id": f"appointment-{appointment.id}",
        "identifier": c.identifier(c.APPOINTMENT, appointment.id), "status": "finished",
        "class": c.coding(c.ACT_CODE, *kind),
        "type": [c.concept(c.SESSION_KIND, appointment.kind, KINDS.get(appointment.kind))],
        "subject": c.ref("Patient", patient_id(appointment.patient_id)),
        "participant": [{"individual": practitioner_ref(appointment.clinician)}],
        "appointment": [c.ref("Appointment", f"appointment-{appointment.id}")],
        "period": {"start": c.instant(appointment.starts_at), "end": c.instant(appointment.ends_at)},
    }
    if appointment.course_id is not None:
        out["episodeOfCare"] = [c.ref("EpisodeOfCare", episode_id(appointment.course_id))]
    return out


def dose_encounter(session: DosingSession) -> dict | None:
    """A recorded dose with no attended booking (at home, or booked outside the app) is its own encounter."""
    if session.started_at is None or encounter_id_of(session) != f"dose-{session.id}":
        return None
    kind = HOME if session.setting == "supervised_at_home" else AMBULATORY
    period = {"start": c.instant(session.started_at)}
    if session.ended_at is not None:
        period["end"] = c.instant(session.ended_at)
    return {
        "resourceType": "Encounter", "id": f"dose-{session.id}", "identifier": c.identifier(c.DOSING_SESSION, session.id),
        "status": "finished" if session.status == SIGNED else "in-progress", "class": c.coding(c.ACT_CODE, *kind),
        "type": [c.concept(c.SESSION_KIND, "dosing", KINDS["dosing"])],
        "subject": c.ref("Patient", patient_id(session.course.patient_id)),
        "episodeOfCare": [c.ref("EpisodeOfCare", episode_id(session.course_id))], "period": period,
    }


def _medication(session: DosingSession) -> dict:
    codings = [c.coding(c.MEDICATION, session.medication, session.medication)]
    if session.medication in c.RXNORM_INGREDIENTS:
        codings.insert(0, c.coding(c.RXNORM, *c.RXNORM_INGREDIENTS[session.medication]))
    return {"coding": codings, "text": session.medication}


def _dosage(session: DosingSession) -> dict:
    dosage = {}
    if session.route in c.ROUTES:
        dosage["route"] = c.concept(c.SNOMED, *c.ROUTES[session.route], text=session.route)
    if session.dose_mg is not None:
        dosage["dose"] = {"value": session.dose_mg, "unit": "mg", "system": c.UCUM, "code": "mg"}
    words = [f"{session.dose_mg_per_kg} mg/kg" if session.dose_mg_per_kg is not None else None,
             f"weight {session.weight_kg} kg" if session.weight_kg is not None else None]
    if any(words):
        dosage["text"] = ", ".join(w for w in words if w)
    return dosage


def administration_resource(session: DosingSession) -> dict | None:
    """A dose given (a signed record, or a draft being written); None for one not given or not yet timed."""
    if session.status not in ADMINISTRATION_STATUS or not session.medication or session.started_at is None:
        return None
    effective = ({"effectivePeriod": {"start": c.instant(session.started_at), "end": c.instant(session.ended_at)}}
                 if session.ended_at else {"effectiveDateTime": c.instant(session.started_at)})
    out = {
        "resourceType": "MedicationAdministration", "id": f"dose-{session.id}",
        "identifier": c.identifier(c.DOSING_SESSION, session.id), "status": ADMINISTRATION_STATUS[session.status],
        "medicationCodeableConcept": _medication(session),
        "subject": c.ref("Patient", patient_id(session.course.patient_id)),
        "context": c.ref("Encounter", encounter_id_of(session)), **effective,
    }
    dosage = _dosage(session)
    if dosage:
        out["dosage"] = dosage
    if session.administered_by is not None:
        out["performer"] = [{"actor": practitioner_ref(session.administered_by)}]
    if session.lot_number:
        out["note"] = [{"text": f"Lot number {session.lot_number}"}]
    return out


def _observation(session: DosingSession, obs_id: str, code: tuple[str, str], status: str) -> dict:
    effective = ({"effectivePeriod": {"start": c.instant(session.started_at), "end": c.instant(session.ended_at)}}
                 if session.ended_at else {"effectiveDateTime": c.instant(session.started_at)})
    return {
        "resourceType": "Observation", "id": obs_id, "status": status,
        "category": [c.concept(c.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "code": c.concept(c.LOINC, *code), "subject": c.ref("Patient", patient_id(session.course.patient_id)),
        "encounter": c.ref("Encounter", encounter_id_of(session)), **effective,
    }


def _quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": unit}


def vital_observations(session: DosingSession) -> list[dict]:
    """Each timepoint's readings as LOINC vital signs (blood pressure as one panel); the time is the
    dosing session's (readings carry their timepoint, not a clock time). Corrected readings: amended."""
    if session.started_at is None:
        return []
    corrected = {row.timepoint for row in session.vital_corrections}
    status_of = (lambda row: "amended" if row.timepoint in corrected else
                 "final" if session.status == SIGNED else "preliminary")
    out = []
    for row in session.vitals:
        out += _timepoint_observations(session, row, status_of(row))
    if session.weight_kg is not None:
        weight = _observation(session, f"dose-{session.id}-weight", ("29463-7", "Body weight"),
                              "final" if session.status == SIGNED else "preliminary")
        out.append({**weight, "valueQuantity": _quantity(session.weight_kg, "kg")})
    return out


def _timepoint_observations(session: DosingSession, row: VitalSigns, status: str) -> list[dict]:
    stem, note = f"vitals-{row.id}", [{"text": TIMEPOINTS.get(row.timepoint, row.timepoint)}]
    out = []
    if row.systolic is not None or row.diastolic is not None:
        panel = _observation(session, f"{stem}-bp", c.BLOOD_PRESSURE, status)
        panel["component"] = [{"code": c.concept(c.LOINC, *code), "valueQuantity": _quantity(value, "mm[Hg]")}
                              for code, value in ((c.SYSTOLIC, row.systolic), (c.DIASTOLIC, row.diastolic))
                              if value is not None]
        out.append({**panel, "note": note})
    for column, code, display, unit in c.VITALS:
        value = getattr(row, column)
        if value is not None:
            obs = _observation(session, f"{stem}-{column.replace('_', '-')}", (code, display), status)
            out.append({**obs, "valueQuantity": _quantity(value, unit), "note": note})
    return out


SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
#: the dosing record's severity as FHIR's (its "none" has no FHIR code: left out)
SEVERITY = {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"}


def adverse_event_resources(session: DosingSession) -> list[dict]:
    """Each adverse event the dosing record states (a withdrawn one is not), linked to the dose's
    MedicationAdministration when the dose is one (a session not given or not yet timed has none)."""
    if session.started_at is None:
        return []
    given = administration_resource(session) is not None
    return [_adverse_event(session, event, given) for event in session.adverse_events]


def _adverse_event(session: DosingSession, event, given: bool) -> dict:
    out = {
        "resourceType": "AdverseEvent", "id": f"adverse-event-{event.id}",
        "identifier": c.identifier(c.ADVERSE_EVENT, event.id)[0], "actuality": "actual",
        "event": c.concept(c.ADVERSE_EVENT_TYPE, event.event_type, event.event_type, text=event.event_type),
        "subject": c.ref("Patient", patient_id(session.course.patient_id)),
        "encounter": c.ref("Encounter", encounter_id_of(session)), "date": c.instant(session.started_at),
    }
    if event.severity in SEVERITY:
        out["severity"] = c.concept(SEVERITY_SYSTEM, event.severity, SEVERITY[event.severity])
    if given:
        out["suspectEntity"] = [{"instance": c.ref("MedicationAdministration", f"dose-{session.id}")}]
    if event.entered_by is not None:
        out["recorder"] = practitioner_ref(event.entered_by)
    if event.action_taken:
        out["extension"] = [{"url": c.ADVERSE_EVENT_ACTION, "valueString": event.action_taken}]
    return out
