"""Measure history in FHIR: QuestionnaireResponse and Observation resources coded with LOINC, mapped to
the measure registry (domain/measures.py) by each entry's LOINC codes. Reads no database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from ..domain import measures as scoring
from ..domain.measure_model import Measure
from .patient_rows import MRN_SYSTEM
from .reading import Refusal, RowRefused, pydantic_refusals

LOINC = "http://loinc.org"
RESOURCES = {"QuestionnaireResponse": QuestionnaireResponse, "Observation": Observation}


def _importable() -> dict[str, Measure]:
    """Panel LOINC code -> measure, for the measures whose panel and every item carry a LOINC code."""
    return {m.loinc_panel: m for m in scoring.MEASURES.values()
            if m.loinc_panel and all(item.loinc for item in m.items)}


@dataclass(frozen=True)
class MeasureRow:
    """One completed questionnaire read from the file, scored by the registry."""
    where: str
    mrn: str
    measure: str
    administered_on: date
    answers: tuple[int, ...]
    total: int


def fhir_measure(where: str, resource: Any, zone: tzinfo) -> MeasureRow:
    """A QuestionnaireResponse or Observation as a measure row, its day the clinic's (`zone`) day of the
    time the file gives; RowRefused naming the elements at fault."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or kind not in RESOURCES:
        kind = kind if isinstance(kind, str) else None
        raise RowRefused([Refusal(where, "resourceType", f"is {kind or 'missing'}; this import reads "
                                                         "QuestionnaireResponse and Observation resources.")])
    try:
        parsed = RESOURCES[kind].model_validate(resource)
    except ValidationError as err:
        raise RowRefused(pydantic_refusals(where, err)) from None
    reader = _questionnaire_response if kind == "QuestionnaireResponse" else _observation
    return reader(where, parsed, zone)


def _mrn(where: str, subject) -> str:
    identifier = subject.identifier if subject is not None else None
    if identifier is None or identifier.system != MRN_SYSTEM or not (identifier.value or "").strip():
        raise RowRefused([Refusal(where, "subject.identifier",
                                  f"must name the patient by an identifier of system {MRN_SYSTEM} (their MRN).")])
    return identifier.value.strip()


def _measure(where: str, element: str, codes: list[str]) -> Measure:
    importable = _importable()
    for code in codes:
        if code in importable:
            return importable[code]
    known = ", ".join(f"{m.name} {code}" for code, m in importable.items())
    raise RowRefused([Refusal(where, element, f"names no measure this clinic records (LOINC panels: {known}).")])


def _day(where: str, element: str, value, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        # a time with an offset is a moment: the clinic's day of it; one without, the day written
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    raise RowRefused([Refusal(where, element, "is missing or not a full date (YYYY-MM-DD at least).")])


def _questionnaire_response(where: str, qr: QuestionnaireResponse, zone: tzinfo) -> MeasureRow:
    if qr.status != "completed":
        raise RowRefused([Refusal(where, "status", f"is {qr.status}; only completed questionnaires are imported.")])
    canonical = (qr.questionnaire or "").split("|")[0]
    measure = _measure(where, "questionnaire", [canonical.rstrip("/").rsplit("/", 1)[-1]])
    answers, total = {}, None
    refusals = []
    for n, item in enumerate(qr.item or []):
        code = item.linkId.lstrip("/")
        value = _answer_value(item.answer[0] if item.answer and len(item.answer) == 1 else None)
        if value is None:
            refusals.append(Refusal(where, f"item[{n}].answer", "needs exactly one answer: an integer or a "
                                                                "LOINC answer code."))
        elif code == measure.loinc_total:
            total = value
        else:
            answers[code] = (n, value)
    return _row(where, measure, _mrn(where, qr.subject), _day(where, "authored", qr.authored, zone),
                answers, total, refusals, "item")


def _observation(where: str, obs: Observation, zone: tzinfo) -> MeasureRow:
    if obs.status not in ("final", "amended", "corrected"):
        raise RowRefused([Refusal(where, "status", f"is {obs.status}; only final results are imported.")])
    codes = [c.code for c in _codings(obs.code) if c.system == LOINC and c.code]
    measure = _measure(where, "code", codes)
    answers, refusals = {}, []
    total = _observation_total(obs)
    for n, component in enumerate(obs.component or []):
        code = next((c.code for c in _codings(component.code) if c.system == LOINC), None)
        value = _component_value(component)
        if value is None or code is None:
            refusals.append(Refusal(where, f"component[{n}]", "needs a LOINC code and one value: an integer or a "
                                                             "LOINC answer code."))
        elif code == measure.loinc_total:
            total = value if total is None else total  # the Observation's own value, when it has one, is the total
        else:
            answers[code] = (n, value)
    return _row(where, measure, _mrn(where, obs.subject), _day(where, "effectiveDateTime", obs.effectiveDateTime, zone),
                answers, total, refusals, "component")


def _codings(concept) -> list:
    """A CodeableConcept's codings (none when the element is missing: fhir.resources lets a required one be null)."""
    return (concept.coding or []) if concept is not None else []


def _answer_value(answer) -> int | str | None:
    if answer is None:
        return None
    if answer.valueInteger is not None:
        return answer.valueInteger
    if answer.valueCoding is not None and answer.valueCoding.code:
        return answer.valueCoding.code
    return None


def _component_value(component) -> int | str | None:
    if component.valueInteger is not None:
        return component.valueInteger
    if component.valueQuantity is not None and component.valueQuantity.value is not None:
        return _whole(component.valueQuantity.value)
    concept = component.valueCodeableConcept
    if concept is not None and concept.coding and concept.coding[0].code:
        return concept.coding[0].code
    return None


def _observation_total(obs: Observation) -> int | None:
    if obs.valueInteger is not None:
        return obs.valueInteger
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        return _whole(obs.valueQuantity.value)
    return None


def _whole(value) -> int | str:
    return int(value) if value == int(value) else str(value)


def _row(where: str, measure: Measure, mrn: str, day: date, found: dict, total, refusals: list[Refusal],
         element: str) -> MeasureRow:
    """The answers in the registry's item order, each a score the item offers; the total, when the file
    gives one, must be their sum. RowRefused with every problem found."""
    by_code = {item.loinc: n for n, item in enumerate(measure.items)}
    for code, (n, _value) in found.items():
        if code not in by_code:
            refusals.append(Refusal(where, f"{element}[{n}]", f"LOINC {code} is not an item of {measure.name}."))
    answers = []
    for n, item in enumerate(measure.items, 1):
        if item.loinc not in found:
            refusals.append(Refusal(where, element, f"{measure.name} item {n} (LOINC {item.loinc}) is not answered."))
            continue
        position, value = found[item.loinc]
        score = _score(item, value)
        if score is None:
            refusals.append(Refusal(where, f"{element}[{position}]", f"is not an answer {measure.name} item {n} "
                                                                     "offers."))
        answers.append(score)
    if refusals:
        raise RowRefused(refusals)
    if total is not None and total != sum(answers):
        raise RowRefused([Refusal(where, "total", f"disagrees with the sum of the item answers; {measure.name}'s "
                                                  "total is computed from its items.")])
    result = scoring.score(measure.key, answers)
    return MeasureRow(where, mrn, measure.key, day, tuple(answers), result.total)


def _score(item, value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in item.values else None
    return next((o.value for o in item.options if o.loinc == value), None)
