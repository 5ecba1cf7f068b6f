"""Questionnaire (one per measure of the registry), QuestionnaireResponse and the LOINC-coded
Observations (total and items) of each recorded measure."""
from __future__ import annotations

from ..domain.measure_model import Measure
from ..domain.measures import MEASURES
from ..notes.models import MeasureResponse
from . import codes as c
from .people import patient_id, practitioner_ref

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
DIFFICULTY = "difficulty"


def questionnaire_url(measure: Measure) -> str:
    return c.QUESTIONNAIRE + measure.key


def _item_code(measure: Measure, n: int) -> dict:
    item = measure.items[n - 1]
    return c.coding(c.LOINC, item.loinc) if item.loinc else c.coding(c.MEASURE, f"{measure.key}-{n}")


def _answer(measure: Measure, n: int, value: int) -> dict:
    """An answer as a coding (its LOINC answer code when the measure has one) carrying its score."""
    option = next(o for o in measure.items[n - 1].options if o.value == value)
    base = (c.coding(c.LOINC, option.loinc, option.label) if option.loinc
            else c.coding(c.MEASURE, f"{measure.key}-{n}-{value}", option.label))
    return {**base, "extension": [{"url": ORDINAL, "valueDecimal": value}]}


def total_code(measure: Measure) -> dict:
    return (c.concept(c.LOINC, measure.loinc_total, f"{measure.name} total score") if measure.loinc_total
            else c.concept(c.MEASURE, measure.key, f"{measure.name} total score"))


def questionnaire_resource(measure: Measure) -> dict:
    items = [{"linkId": str(n), "code": [_item_code(measure, n)], "text": item.text, "type": "choice",
              "required": item.asked_if is None,
              "answerOption": [{"valueCoding": _answer(measure, n, o.value)} for o in item.options]}
             for n, item in enumerate(measure.items, 1)]
    if measure.difficulty_question:
        items.append({"linkId": DIFFICULTY, "text": measure.difficulty_question, "type": "choice", "required": False,
                      "answerOption": [{"valueCoding": c.coding(c.MEASURE, f"{measure.key}-{DIFFICULTY}-{key}", label)}
                                       for key, label in measure.difficulty_options]})
    out = {"resourceType": "Questionnaire", "id": f"measure-{measure.key.replace('_', '-')}",
           "url": questionnaire_url(measure), "name": measure.key.upper(), "title": measure.name,
           "status": "active", "subjectType": ["Patient"], "description": measure.stem, "item": items}
    if measure.loinc_panel:
        out["code"] = [c.coding(c.LOINC, measure.loinc_panel, measure.name)]
    return out


def questionnaires() -> list[dict]:
    return [questionnaire_resource(m) for m in MEASURES.values()]


def _author(response: MeasureResponse) -> dict | None:
    if response.completed_by_patient:
        return c.ref("Patient", patient_id(response.patient_id))
    return practitioner_ref(response.entered_by)


def response_resources(response: MeasureResponse) -> list[dict]:
    """The QuestionnaireResponse and its Observations; a voided entry stays, marked entered-in-error."""
    measure = MEASURES[response.measure]
    stem = f"measure-{response.id}"
    items = [{"linkId": str(n), "text": measure.items[n - 1].text, "answer": [{"valueCoding": _answer(measure, n, a)}]}
             for n, a in enumerate(response.answers, 1) if a is not None]
    difficulty = dict(measure.difficulty_options).get(response.difficulty or "")
    if difficulty:
        items.append({"linkId": DIFFICULTY, "answer": [{"valueCoding": c.coding(
            c.MEASURE, f"{measure.key}-{DIFFICULTY}-{response.difficulty}", difficulty)}]})
    qr = {"resourceType": "QuestionnaireResponse", "id": stem, "identifier": c.identifier(c.MEASURE_RESPONSE,
                                                                                          response.id)[0],
          "questionnaire": questionnaire_url(measure),
          "status": "entered-in-error" if response.voided_at else "completed",
          "subject": c.ref("Patient", patient_id(response.patient_id)), "authored": response.administered_on.isoformat(),
          "item": items}
    author = _author(response)
    if author:
        qr["author"] = author
    return [qr, *_observations(measure, response, stem)]


def _observations(measure: Measure, response: MeasureResponse, stem: str) -> list[dict]:
    common = {"resourceType": "Observation", "status": "entered-in-error" if response.voided_at else "final",
              "category": [c.concept(c.OBSERVATION_CATEGORY, "survey", "Survey")],
              "subject": c.ref("Patient", patient_id(response.patient_id)),
              "effectiveDateTime": response.administered_on.isoformat(), "issued": _issued(response),
              "derivedFrom": [c.ref("QuestionnaireResponse", stem)]}
    out = []
    if measure.charted:
        total = {**common, "id": f"{stem}-total", "code": total_code(measure), "valueInteger": response.total}
        if response.band:
            total["interpretation"] = [{"text": response.band}]
        out.append(total)
    for n, answer in enumerate(response.answers, 1):
        if answer is not None:
            out.append({**common, "id": f"{stem}-item-{n}", "code": {"coding": [_item_code(measure, n)],
                                                                    "text": measure.items[n - 1].text},
                        "valueInteger": answer})
    return out


def _issued(response: MeasureResponse) -> str:
    """An instant with its zone, as FHIR's instant asks: the entry's creation time in UTC."""
    return response.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
