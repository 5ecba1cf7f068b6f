"""Measure history in FHIR: QuestionnaireResponse and Observation resources, mapped to the measure
registry (domain/measures.py) by LOINC codes, or by the questionnaire and item numbers this app's own
FHIR export writes (README, Imports). Reads no database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from ..domain import measures as scoring
from ..domain.measure_model import Item, Measure
from .patient_rows import MRN_SYSTEM
from .reading import NotARow, Refusal, RowRefused, pydantic_refusals

LOINC = "http://loinc.org"
#: the export's own names: a Questionnaire's canonical url is this plus the measure key; an answer without a
#: LOINC code is coded "<key>-<item>-<score>" in the measure system; the difficulty question's linkId
OWN_QUESTIONNAIRE = "urn:ketamine-integration:questionnaire:"
OWN_MEASURE_SYSTEM = "urn:ketamine-integration:measure"
DIFFICULTY_LINK = "difficulty"
#: an Observation of this category is a vital sign (a dosing record's readings, in the export's
#: Observation.ndjson beside the measures): not a measure, so passed over and counted, never refused
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
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
    answers: tuple[int | None, ...]
    total: int


def fhir_measure(where: str, resource: Any, zone: tzinfo, patients: dict[str, str] | None = None) -> MeasureRow:
    """A QuestionnaireResponse or Observation as a measure row, its day the clinic's (`zone`) day of the
    time the file gives; `patients` maps a reference ("Patient/patient-12") to the MRN of a Patient in
    the same file. RowRefused naming the elements at fault; NotARow for a resource that is not a
    measure to import (another type, an entry in error, an Observation derived from a response)."""
    kind, parsed = _parsed(where, resource)
    if parsed.status == "entered-in-error":
        raise NotARow(f"{kind} entered in error")
    if kind == "Observation" and parsed.derivedFrom:
        raise NotARow("Observation derived from a QuestionnaireResponse")  # the response carries its answers
    if kind == "Observation" and _is_vital_sign(parsed):
        raise NotARow("Observation (vital signs)")
    if kind == "Observation":
        _refuse_loose_quantities(where, resource)
        return _observation(where, parsed, zone, patients or {})
    return _questionnaire_response(where, parsed, zone, patients or {})


def _parsed(where: str, resource: Any):
    """The resource's type and the resource read as FHIR; RowRefused naming the elements at fault, NotARow
    for a resource of another type."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or kind not in RESOURCES:
        if isinstance(kind, str) and kind:
            raise NotARow(kind)  # a Bundle's Patients, Practitioners...: read only to resolve references
        raise RowRefused([Refusal(where, "resourceType", "is missing; this import reads QuestionnaireResponse "
                                                         "and Observation resources.")])
    not_integers = [Refusal(where, path, "must be a whole number written as one (1, not \"1\", true or 1.0): "
                                         "FHIR's valueInteger is an integer.") for path in _loose_integers(resource)]
    if not_integers:
        # fhir.resources (pydantic) would read "1", true and 1.0 as 1: a score is taken as the file wrote it
        raise RowRefused(not_integers)
    try:
        parsed = RESOURCES[kind].model_validate(resource)
    except ValidationError as err:
        raise RowRefused(pydantic_refusals(where, err)) from None
    return kind, parsed


def _loose_integers(value, path: str = "") -> list[str]:
    """The elements named valueInteger, at any depth, whose JSON value is not an integer."""
    if isinstance(value, list):
        return [found for n, v in enumerate(value) for found in _loose_integers(v, f"{path}[{n}]")]
    if not isinstance(value, dict):
        return []
    found = []
    for key, v in value.items():
        where = f"{path}.{key}" if path else key
        if key == "valueInteger" and type(v) is not int:  # noqa: E721 (bool is an int subclass: true is no score)
            found.append(where)
        else:
            found += _loose_integers(v, where)
    return found


#: the unit a score's valueQuantity may carry, when it names one: UCUM's annotation for a score, as LOINC
#: gives it for these panels' items and totals
SCORE_UNIT = "{score}"
UCUM = "http://unitsofmeasure.org"


def _refuse_loose_quantities(where: str, resource: dict) -> None:
    """RowRefused naming each score's valueQuantity (the Observation's own and its components') that is
    not a whole number written as one, is bounded (a comparator) or is in another unit. Read from the file
    as written, after the vital signs are passed over: fhir.resources reads "7", 7.0 and 7e0 as 7, and a
    ">= 7" or "7 kg" is no score (review of issue 25)."""
    components = resource.get("component")
    quantities = [("valueQuantity", resource.get("valueQuantity"))] + [
        (f"component[{n}].valueQuantity", c.get("valueQuantity"))
        for n, c in enumerate(components if isinstance(components, list) else []) if isinstance(c, dict)]
    refusals = [Refusal(where, f"{path}.{key}", problem) for path, quantity in quantities
                if isinstance(quantity, dict) for key, problem in _quantity_problems(quantity)]
    if refusals:
        raise RowRefused(refusals)


def _quantity_problems(quantity: dict) -> list[tuple[str, str]]:
    problems = []
    if "value" in quantity and type(quantity["value"]) is not int:  # noqa: E721 (true is no score)
        problems.append(("value", "must be a whole number written as one (7, not \"7\", true, 7.0 or 7e0): "
                                  "a score is a whole number."))
    if "comparator" in quantity:
        problems.append(("comparator", "is not allowed: a score is exact, not bounded (\"<\", \">=\"...)."))
    for key, allowed in (("unit", SCORE_UNIT), ("code", SCORE_UNIT), ("system", UCUM)):
        if key in quantity and quantity[key] != allowed:
            problems.append((key, f"must be {allowed} when given: a score has no other unit."))
    return problems


def _is_vital_sign(obs: Observation) -> bool:
    return any(c.system == OBSERVATION_CATEGORY and c.code == "vital-signs"
               for concept in obs.category or [] for c in _codings(concept))


def _mrn(where: str, subject, patients: dict[str, str]) -> str:
    identifier = subject.identifier if subject is not None else None
    if identifier is not None and identifier.system == MRN_SYSTEM and (identifier.value or "").strip():
        return identifier.value.strip()
    if subject is not None and subject.reference in patients:
        return patients[subject.reference]
    raise RowRefused([Refusal(where, "subject", f"must name the patient by an identifier of system {MRN_SYSTEM} "
                                                "(their MRN), or refer to a Patient in the file that has one.")])


def _panel(where: str, element: str, codes: list[str]) -> Measure:
    importable = _importable()
    for code in codes:
        if code in importable:
            return importable[code]
    known = ", ".join(f"{m.name} {code}" for code, m in importable.items())
    raise RowRefused([Refusal(where, element, f"names no measure this clinic records (LOINC panels: {known}).")])


def _questionnaire_measure(where: str, canonical: str) -> Measure:
    if canonical.startswith(OWN_QUESTIONNAIRE):
        measure = scoring.MEASURES.get(canonical.removeprefix(OWN_QUESTIONNAIRE))
        if measure is None:
            raise RowRefused([Refusal(where, "questionnaire", "names no measure this clinic records.")])
        return measure
    return _panel(where, "questionnaire", [canonical.rstrip("/").rsplit("/", 1)[-1]])


def _day(where: str, element: str, value, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        # a time with an offset is a moment: the clinic's day of it; one without, the day written
        try:
            return value.astimezone(zone).date() if value.tzinfo else value.date()
        except OverflowError:  # year 1 or 9999 moved past the calendar's end by its offset
            raise RowRefused([Refusal(where, element, "is a moment outside the calendar (years 1 to 9999) in the "
                                                      "clinic's time zone.")]) from None
    if isinstance(value, date):
        return value
    raise RowRefused([Refusal(where, element, "is missing or not a full date (a year, month and day at least, as in 2026-03-07).")])


def _questionnaire_response(where: str, qr: QuestionnaireResponse, zone: tzinfo, patients: dict) -> MeasureRow:
    if qr.status != "completed":
        raise RowRefused([Refusal(where, "status", f"is {qr.status}; only completed questionnaires are imported.")])
    measure = _questionnaire_measure(where, (qr.questionnaire or "").split("|")[0])
    found, total, refusals = [], None, []
    for n, item in enumerate(qr.item or []):
        code = item.linkId.lstrip("/")
        if code == DIFFICULTY_LINK:
            continue  # the difficulty question is not imported (README)
        value = _answer_value(item.answer[0] if item.answer and len(item.answer) == 1 else None)
        if value is None:
            refusals.append(Refusal(where, f"item[{n}].answer", "needs exactly one answer: an integer or a "
                                                                "coded answer."))
        elif code == measure.loinc_total:
            total = value
        else:
            found.append((code, n, value))
    return _row(where, measure, _mrn(where, qr.subject, patients), _day(where, "authored", qr.authored, zone),
                found, total, refusals, "item")


def _observation(where: str, obs: Observation, zone: tzinfo, patients: dict) -> MeasureRow:
    if obs.status not in ("final", "amended", "corrected"):
        raise RowRefused([Refusal(where, "status", f"is {obs.status}; only final results are imported.")])
    codes = [c.code for c in _codings(obs.code) if c.system == LOINC and c.code]
    measure = _panel(where, "code", codes)
    found, refusals = [], []
    totals = [("value", _observation_total(obs))] if _observation_total(obs) is not None else []
    for n, component in enumerate(obs.component or []):
        code = next((c.code for c in _codings(component.code) if c.system == LOINC), None)
        value = _component_value(component)
        if value is None or code is None:
            refusals.append(Refusal(where, f"component[{n}]", "needs a LOINC code and one value: an integer or a "
                                                             "LOINC answer code."))
        elif code == measure.loinc_total:
            totals.append((f"component[{n}]", value))
        else:
            found.append((code, n, value))
    refusals += _disagreeing_totals(where, totals)
    return _row(where, measure, _mrn(where, obs.subject, patients),
                _day(where, "effectiveDateTime", obs.effectiveDateTime, zone), found,
                totals[0][1] if totals else None, refusals, "component")


def _disagreeing_totals(where: str, totals: list[tuple[str, Any]]) -> list[Refusal]:
    """A total given twice (the Observation's value and a total component, or two components) must be one
    number: otherwise which the file means cannot be told, and neither is taken over the other (review of
    issue 25: the component's was silently ignored)."""
    first_element, first = totals[0] if totals else (None, None)
    return [Refusal(where, element, f"gives the total as {value}, but {first_element} gives {first}: a total "
                                    "given twice must agree.") for element, value in totals[1:] if value != first]


def _codings(concept) -> list:
    """A CodeableConcept's codings (none when the element is missing: fhir.resources lets a required one be null)."""
    return (concept.coding or []) if concept is not None else []


@dataclass(frozen=True)
class Coded:
    """A coded answer with its system: a LOINC answer code means that answer only under LOINC's system."""
    system: str | None
    code: str


def _answer_value(answer) -> int | Coded | None:
    if answer is None:
        return None
    if answer.valueInteger is not None:
        return answer.valueInteger
    if answer.valueCoding is not None and answer.valueCoding.code:
        return Coded(answer.valueCoding.system, answer.valueCoding.code)
    return None


def _component_value(component) -> int | str | Coded | None:
    if component.valueInteger is not None:
        return component.valueInteger
    if component.valueQuantity is not None and component.valueQuantity.value is not None:
        return _whole(component.valueQuantity.value)
    concept = component.valueCodeableConcept
    if concept is not None and concept.coding and concept.coding[0].code:
        return Coded(concept.coding[0].system, concept.coding[0].code)
    return None


def _observation_total(obs: Observation) -> int | None:
    if obs.valueInteger is not None:
        return obs.valueInteger
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        return _whole(obs.valueQuantity.value)
    return None


def _whole(value) -> int | str:
    return int(value) if value == int(value) else str(value)


def _item_numbers(measure: Measure) -> dict[str, int]:
    """How a file names each item (1-based): its LOINC code, or its number as the export writes it."""
    numbers = {str(n): n for n in range(1, len(measure.items) + 1)}
    numbers.update({item.loinc: n for n, item in enumerate(measure.items, 1) if item.loinc})
    return numbers


def _row(where: str, measure: Measure, mrn: str, day: date, found: list[tuple[str, int, Any]], total,
         refusals: list[Refusal], element: str) -> MeasureRow:
    """The answers (code, position, value) in the registry's item order, each a score the item offers
    (an item asked only after another answer may be left out); the total, when the file gives one, must
    be their sum. RowRefused with every problem found."""
    numbers = _item_numbers(measure)
    by_item = {}
    for code, position, value in found:
        if code not in numbers:
            refusals.append(Refusal(where, f"{element}[{position}]", f"{code} is not an item of {measure.name}."))
        elif numbers[code] in by_item:
            # which answer is the patient's? neither is taken over the other (item 9 raises the safety alert)
            refusals.append(Refusal(where, f"{element}[{position}]", f"answers {measure.name} item {numbers[code]} "
                                                                     f"again (also {element}[{by_item[numbers[code]][0]}])."))
        else:
            by_item[numbers[code]] = (position, value)
    answers = []
    for n, item in enumerate(measure.items, 1):
        if n not in by_item:
            if item.asked_if is None:
                named = f" (LOINC {item.loinc})" if item.loinc else ""
                refusals.append(Refusal(where, element, f"{measure.name} item {n}{named} is not answered."))
            answers.append(None)
            continue
        position, value = by_item[n]
        score = _score(measure, n, item, value)
        if score is None:
            refusals.append(Refusal(where, f"{element}[{position}]", _not_an_answer(measure, n, value)))
        answers.append(score)
    if refusals:
        raise RowRefused(refusals)
    return _scored(where, measure, mrn, day, answers, total)


def _scored(where: str, measure: Measure, mrn: str, day: date, answers: list, total) -> MeasureRow:
    try:
        result = scoring.score(measure.key, answers)
    except scoring.InvalidAnswers as err:  # an item answered that the earlier answers skip, or the reverse
        raise RowRefused([Refusal(where, "item", str(err))]) from None
    if total is not None and total != result.total:
        raise RowRefused([Refusal(where, "total", f"disagrees with the sum of the item answers; {measure.name}'s "
                                                  "total is computed from its items.")])
    return MeasureRow(where, mrn, measure.key, day, tuple(answers), result.total)


#: the systems an answer code is read in: LOINC's answer codes, and the export's own "<key>-<item>-<score>"
ANSWER_SYSTEMS = (LOINC, OWN_MEASURE_SYSTEM)


def _score(measure: Measure, n: int, item: Item, value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in item.values else None
    if not isinstance(value, Coded):
        return None  # a quantity with a fraction
    if value.system == OWN_MEASURE_SYSTEM:
        score = value.code.removeprefix(f"{measure.key}-{n}-")
        own = score != value.code and score.isascii() and score.isdigit()
        return int(score) if own and int(score) in item.values else None
    if value.system == LOINC:
        return next((o.value for o in item.options if o.loinc == value.code), None)
    return None


def _not_an_answer(measure: Measure, n: int, value) -> str:
    if isinstance(value, Coded) and value.system not in ANSWER_SYSTEMS:
        return (f"codes its answer {value.code} in {value.system or 'no system'}: an answer code is read in "
                f"{' or '.join(ANSWER_SYSTEMS)} only.")
    return f"is not an answer {measure.name} item {n} offers."
