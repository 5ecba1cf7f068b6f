"""A questionnaire the patient completes in the portal (issue 23, point 3): every answer checked
against the registry entry (field reasons in the patient's words), scored by the same registry
scoring as a clinician's entry, stored marked as the patient's, audited, and any safety alert raised
exactly as for a clinician's entry (notes/safety.py: the urgent alert, and through its signal the
on-call and care-team emails).

A safety signal is never held up by a workflow rule: answers that raise an alert are stored and the
alert raised even when the questionnaire is no longer asked for, not open yet, or completed already
(the moment is then kept only when the schedule still has it). Only answers that cannot be scored,
or a course that is not the patient's, are refused, and then nothing is written but the audit row,
and, when the valid answers given meet the measure's safety rule all the same (PHQ-9 item 9 answered
above 0 with another question left empty), the urgent alert: a patient who closes the page after the
field errors is not left unheard (notes/safety.py raise_for_partial_answers; the caller commits it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone, to_clinic
from ..db.errors import DomainError
from ..domain import measures as scoring
from ..domain import questionnaires as rules
from ..domain.crisis import CrisisResources
from ..domain.measure_model import DIFFICULTY, Measure
from ..domain.safety import PORTAL_ANSWER, from_partial_answers
from ..extensions import db
from ..web.forms import parse_id
from ..patients.models import Patient
from .models import MeasureResponse, SafetyAlert
from .questionnaires import TOKEN_SEPARATOR, course_questionnaires, crisis_page
from .safety import raise_for_partial_answers, raise_for_response

ACTION = "measure.patient_submit"
#: an urgent alert opened by a valid safety answer on a form refused for its other answers
ALERT_ACTION = "alert.portal_answer"
#: why a submission for a moment is not taken (workflow: set aside when the answers raise an alert)
NOT_ASKED = "This questionnaire is no longer asked for. Please check the list of questionnaires again."
NOT_OPEN = "This questionnaire opens on {day}. Please come back then."
DONE_ALREADY = "You have completed this questionnaire already."
NOT_YOURS = "This questionnaire is not one of yours."


class QuestionnaireRefused(DomainError):
    """Answers refused, with field reasons; `safety_answered`: a valid answer given (even on an
    incomplete form) is one that raises a safety alert, so the portal shows the crisis resources
    beside the reasons at once; `alert`: the urgent alert those answers opened (or the one of the
    same finding the patient's earlier incomplete form opened), flushed in the caller's transaction,
    which must commit it although it refuses the form (None: no alert)."""

    def __init__(self, reasons: dict[str, str], *, safety_answered: bool = False, alert: SafetyAlert | None = None):
        super().__init__(reasons)
        self.safety_answered = safety_answered
        self.alert = alert


@dataclass(frozen=True)
class PatientSubmission:
    response: MeasureResponse
    #: the urgent alert the answers raised (None: they raised none)
    alert: SafetyAlert | None
    #: what the portal shows at once when an alert was raised (None otherwise)
    crisis: CrisisResources | None


def _value(raw):
    """A submitted answer as a number, None when left empty, or the raw value when it is not a number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        return raw
    try:
        return int(raw)
    except (TypeError, ValueError):
        return raw


def check_answers(measure: Measure, answers) -> tuple[list[int | None], dict[str, str]]:
    """The answers as item scores, and a reason per item field (item1, item2, ...) that is wrong:
    every question asked answered with one of its answers, none answered that is skipped."""
    values = [_value(a) for a in list(answers or [])]
    # more answers than questions refuse the form, yet the questions' own answers are still checked, so a
    # safety rule reads them (a safety signal is never hidden by a malformed form)
    problems = {"": f"The {measure.name} has {len(measure.items)} questions."} if len(values) > len(measure.items) \
        else {}
    values = values[:len(measure.items)] + [None] * (len(measure.items) - len(values))
    for n, item in enumerate(measure.items, 1):
        value = values[n - 1]
        if not item.asked(values):
            if value is not None:
                after = item.asked_if[0]
                problems[f"item{n}"] = (f"Leave question {n} unanswered: it is asked only after your answer to "
                                        f"question {after}.")
        elif value is None:
            problems[f"item{n}"] = f"Choose an answer to question {n}."
        elif isinstance(value, bool) or not isinstance(value, int) or value not in item.values:
            problems[f"item{n}"] = f"Choose one of the answers offered for question {n}."
    return values, problems


def valid_answers(values: list, problems: dict[str, str]) -> list[int | None]:
    """The answers check_answers found nothing wrong with, every other one None: all a safety rule
    may read on a form refused for its other answers."""
    return [None if f"item{n}" in problems else value for n, value in enumerate(values, 1)]


def safety_answered(measure: Measure, values: list, problems: dict[str, str]) -> bool:
    """Whether the valid answers given so far include one the measure's safety rule raises an alert on
    (an answer not offered, or to a question skipped, counts for nothing)."""
    return bool(values) and from_partial_answers(measure.key, valid_answers(values, problems)) is not None


def _course(patient: Patient, moment: str) -> tuple[TreatmentCourse | None, str]:
    course_id, _, key = (moment or "").partition(TOKEN_SEPARATOR)
    number = parse_id(course_id)  # bounded as a route's id: an oversized one is no course, not a database error
    course = db.session.get(TreatmentCourse, number) if number is not None else None
    return (course if course is not None and course.patient_id == patient.id else None), key


def _workflow_problem(asked: rules.Asked | None, now: datetime) -> str | None:
    if asked is None:
        return NOT_ASKED
    if asked.status == rules.UPCOMING:
        return NOT_OPEN.format(day=to_clinic(asked.moment.opens).date().isoformat())
    if asked.status == rules.ANSWERED:
        return DONE_ALREADY
    return None  # open, overdue, or missed: a late answer is kept (it covers no moment it missed)


def _refuse(patient: Patient, measure_key: str, course, problems: dict, safety: bool, alert: SafetyAlert | None = None):
    said = f"; safety alert {alert.id}" if alert is not None else ""
    audit.record(ACTION, object_type="course", object_id=course.id if course else None, patient_id=patient.id,
                 outcome=audit.FAILURE,
                 detail=f"{measure_key[:10]} refused: {', '.join(sorted(problems)) or 'form'}{said}"[:200])
    raise QuestionnaireRefused(problems, safety_answered=safety, alert=alert)


def _alert_anyway(course: TreatmentCourse, measure: Measure, values: list, problems: dict,
                  now: datetime) -> SafetyAlert | None:
    """The urgent alert of the valid answers of a refused form (None: they raise none). A course that
    is not the patient's has none to hold it: the portal never sends one (its page is 404)."""
    if course is None:
        return None
    found = raise_for_partial_answers(course, measure.key, valid_answers(values, problems), now)
    if found is None:
        return None
    if found.opened:
        audit.record(ALERT_ACTION, obj=found.alert, patient_id=course.patient_id, detail=measure.key)
    return found.alert


def submit_patient_questionnaire(patient: Patient, measure_key: str, answers, moment: str, now: datetime, *,
                                 difficulty: str | None = None) -> PatientSubmission:
    """Store the questionnaire `patient` completed at `now` in the portal, or raise QuestionnaireRefused.

    measure_key: a key of the measure registry ("phq9"); answers: one per item in order (an int, a
    numeric string, or None / "" for a question left empty or skipped); moment: the token of the
    portal's PatientQuestionnaire ("<course id>/<moment key>"); difficulty: the measure's difficulty
    question's answer key, if it has one. Reasons are keyed "measure", "item1".., "difficulty",
    "moment" and "" (the form). Flushes; the caller commits. The patient is the actor of the audit row
    (no staff user)."""
    measure = scoring.MEASURES.get(measure_key)
    course, key = _course(patient, moment)
    if measure is None:
        _refuse(patient, str(measure_key), course, {"measure": "Choose a questionnaire from your list."}, False)
    values, problems = check_answers(measure, answers)
    safety = safety_answered(measure, values, problems)
    if difficulty and (measure.difficulty_question is None or difficulty not in dict(DIFFICULTY)):
        if not safety:
            problems["difficulty"] = "Choose one of the answers offered."
        difficulty = None  # a safety answer is never held back by the unscored question: stored without it
    if course is None:
        problems["moment"] = NOT_YOURS
    if problems:
        _refuse(patient, measure_key, course, problems, safety,
                _alert_anyway(course, measure, values, problems, now) if safety else None)
    asked = rules.find(course_questionnaires(course, now), measure_key, key)
    workflow = _workflow_problem(asked, now)
    if workflow and not safety:
        _refuse(patient, measure_key, course, {"moment": workflow}, False)
    # a safety answer sent for a moment not open (not yet, closed, done) is kept and alerts, but claims no
    # moment of the schedule: it was not that moment's answer
    moment_key = asked.moment.key if asked and not workflow else None
    return _store(course, measure, values, difficulty or None, moment_key, now)


def _store(course: TreatmentCourse, measure: Measure, values: list, difficulty, moment: str | None,
           now: datetime) -> PatientSubmission:
    result = scoring.score(measure.key, values)  # the clinician's path scores the same way (record_measure)
    response = MeasureResponse(patient_id=course.patient_id, course_id=course.id, measure=measure.key,
                               administered_on=now.astimezone(clinic_zone()).date(), answers=values,
                               difficulty=difficulty, total=result.total, band=result.band, entered_by_id=None,
                               completed_by_patient=True, moment=moment, created_at=now)
    db.session.add(response)
    db.session.flush()
    alert = raise_for_response(course, response)
    audit.record(ACTION, obj=response, patient_id=course.patient_id,
                 detail=f"{measure.key} {moment or 'outside the schedule'}{_alert_words(alert)}"[:200])
    return PatientSubmission(response, alert, crisis_page() if alert else None)


def _alert_words(alert: SafetyAlert | None) -> str:
    """What the audit row of a stored response says of its alert: raised, or the one of the patient's
    incomplete form of it that the response was linked to (notes/safety.py)."""
    if alert is None:
        return ""
    return f"; linked to safety alert {alert.id}" if alert.source == PORTAL_ANSWER else "; safety alert"
