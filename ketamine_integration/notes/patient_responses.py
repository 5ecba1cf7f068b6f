"""A questionnaire the patient completes in the portal (issue 23, point 3): every answer checked
against the registry entry (field reasons in the patient's words), scored by the same registry
scoring as a clinician's entry, stored marked as the patient's, audited, and any safety alert raised
exactly as for a clinician's entry (notes/safety.py: the urgent alert, and through its signal the
on-call and care-team emails).

A safety signal is never held up by a workflow rule: answers that raise an alert are stored and the
alert raised even when the questionnaire is no longer asked for, not open yet, or completed already
(the moment is then kept only when the schedule still has it). Only answers that cannot be scored,
or a course that is not the patient's, are refused, and then nothing is written but the audit row.
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
from ..extensions import db
from ..patients.models import Patient
from .models import MeasureResponse, SafetyAlert
from .questionnaires import TOKEN_SEPARATOR, course_questionnaires, crisis_page
from .safety import raise_for_response

ACTION = "measure.patient_submit"
#: why a submission for a moment is not taken (workflow: set aside when the answers raise an alert)
NOT_ASKED = "This questionnaire is no longer asked for. Please check the list of questionnaires again."
NOT_OPEN = "This questionnaire opens on {day}. Please come back then."
DONE_ALREADY = "You have completed this questionnaire already."
NOT_YOURS = "This questionnaire is not one of yours."


class QuestionnaireRefused(DomainError):
    """Answers refused, with field reasons; `safety_answered`: an answer given (even on an
    incomplete form) is one that raises a safety alert, so the portal shows the crisis resources
    beside the reasons at once."""

    def __init__(self, reasons: dict[str, str], *, safety_answered: bool = False):
        super().__init__(reasons)
        self.safety_answered = safety_answered


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
    if len(values) > len(measure.items):
        return [], {"": f"The {measure.name} has {len(measure.items)} questions."}
    values += [None] * (len(measure.items) - len(values))
    problems = {}
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


def safety_answered(measure: Measure, values: list) -> bool:
    """Whether the answers given so far include one the measure's safety rule raises an alert on."""
    rule = measure.safety
    if rule is None or len(values) != len(measure.items):
        return False
    clean = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in values]
    if rule.item is None:
        return measure.triage is not None and measure.triage.level(clean) is not None
    return (clean[rule.item - 1] or 0) > rule.above


def _course(patient: Patient, moment: str) -> tuple[TreatmentCourse | None, str]:
    course_id, _, key = (moment or "").partition(TOKEN_SEPARATOR)
    course = db.session.get(TreatmentCourse, int(course_id)) if course_id.isdigit() else None
    return (course if course is not None and course.patient_id == patient.id else None), key


def _workflow_problem(asked: rules.Asked | None, now: datetime) -> str | None:
    if asked is None:
        return NOT_ASKED
    if asked.status == rules.UPCOMING:
        return NOT_OPEN.format(day=to_clinic(asked.moment.opens).date().isoformat())
    if asked.status == rules.ANSWERED:
        return DONE_ALREADY
    return None  # open, overdue, or missed: a late answer is kept (it covers no moment it missed)


def _refuse(patient: Patient, measure_key: str, course, problems: dict, safety: bool):
    audit.record(ACTION, object_type="course", object_id=course.id if course else None, patient_id=patient.id,
                 outcome=audit.FAILURE, detail=f"{measure_key[:10]} refused: {', '.join(sorted(problems)) or 'form'}")
    raise QuestionnaireRefused(problems, safety_answered=safety)


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
    safety = safety_answered(measure, values)
    if difficulty and (measure.difficulty_question is None or difficulty not in dict(DIFFICULTY)):
        if not safety:
            problems["difficulty"] = "Choose one of the answers offered."
        difficulty = None  # a safety answer is never held back by the unscored question: stored without it
    if course is None:
        problems["moment"] = NOT_YOURS
    if problems:
        _refuse(patient, measure_key, course, problems, safety)
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
                 detail=f"{measure.key} {moment or 'outside the schedule'}{'; safety alert' if alert else ''}"[:200])
    return PatientSubmission(response, alert, crisis_page() if alert else None)
