"""The patient's questionnaires in the portal (issue 23, point 3): what is open and due, what they
completed (when, never a score), a page per questionnaire with the measure's published wording, and
the crisis resources at once after answers that raise a safety alert.

Every answer goes through notes/patient_responses.py (the registry's checks and scoring, the urgent
alert and its emails, the audit row); this module reads the schedule of notes/questionnaires.py for
the signed-in patient only (current_portal_patient(), from the session): another patient's course is
404, whatever its id.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import format_local_day, to_clinic
from ..db.types import utcnow
from ..domain import questionnaires as rules
from ..domain.measures import MEASURES
from ..extensions import db
from ..notes.models import MeasureResponse, SafetyAlert
from ..notes.patient_responses import QuestionnaireRefused, submit_patient_questionnaire
from ..notes.questionnaires import (PatientQuestionnaire, course_questionnaires, crisis_page, patient_questionnaires,
                                    waiting_first)
from ..patients.models import Patient
from ..web import access
from ..web.forms import INVALID_FORM_STATUS
from ..web.lifecycle import commit_refusal
from .questionnaire_forms import answers_of, difficulty_of, questionnaire_form_class
from .recovery import kept_text, mark_recovered, offered_back
from .sessions import current_portal_account, current_portal_patient

bp = Blueprint("portal_questionnaires", __name__, url_prefix="/portal/questionnaires")
#: the page whose answers are kept when the session timed out before they were sent (portal/recovery.py)
FORM_ENDPOINT = "portal_questionnaires.questionnaire"
SAVED = "Thank you. Your answers are saved, and your care team will see them."



def _deadline(at: datetime) -> str:
    """A moment's end in the patient's words: "Tuesday 8 December at 10:00 AM", or "the end of Saturday 5
    December" when it is a clinic midnight (a moment open "until Sunday at 12:00 AM" means all of Saturday)."""
    local = to_clinic(at)
    if local.time() == time(0):
        return f"the end of {format_local_day(local - timedelta(days=1))}"
    return _day_time(at)


def _day_time(at: datetime) -> str:
    """"Tuesday 8 December at 10:00 AM"; a clinic midnight (a day's start) as the day alone."""
    local = to_clinic(at)
    if local.time() == time(0):
        return format_local_day(at)
    return f"{format_local_day(at)} at {local:%I:%M %p}".replace(" at 0", " at ")


def when_words(q: PatientQuestionnaire) -> str:
    """Which moment it answers, in the patient's words: "Before your dosing session on Tuesday 8 December"."""
    moment = q.asked.moment
    if moment.point == rules.BEFORE_DOSING:
        return f"Before your dosing session on {format_local_day(moment.due)}"
    if moment.point == rules.INTEGRATION:
        return f"For your integration session on {format_local_day(moment.due)}"
    return moment.label


def timing_words(asked: rules.Asked) -> str:
    """When it is due and until when it is taken, in clinic time, in a sentence or two."""
    moment = asked.moment
    later = (f" You can still send it until {_deadline(moment.closes)}."
             if moment.closes is not None and moment.closes != moment.due else "")
    if moment.due is None:
        return "Please complete it when you can."
    if asked.status == rules.OVERDUE:
        return f"It was due by {_deadline(moment.due)}.{later}"
    return f"Please complete it by {_deadline(moment.due)}.{later}"


@dataclass(frozen=True)
class Listed:
    """One line of the questionnaires page."""
    url: str
    name: str
    when: str
    timing: str
    overdue: bool


@dataclass(frozen=True)
class Completed:
    name: str
    when: str
    #: the day it was completed (clinic time), never a score
    on: str
    by_patient: bool


def _page_url(q: PatientQuestionnaire) -> str:
    return url_for(FORM_ENDPOINT, course_id=q.course_id, measure=q.measure.key, moment=q.asked.moment.key)


def due_list(patient: Patient, now: datetime, questionnaires: list[PatientQuestionnaire] | None = None) -> list[Listed]:
    """What the patient is asked to complete now, the one due soonest first (the home page's summary too)."""
    if questionnaires is None:
        questionnaires = patient_questionnaires(patient, now)
    return [Listed(_page_url(q), q.measure.name, when_words(q), timing_words(q.asked), q.asked.status == rules.OVERDUE)
            for q in waiting_first(questionnaires, now)]


def _completed(questionnaires: list[PatientQuestionnaire]) -> list[Completed]:
    done = [q for q in questionnaires if q.asked.status == rules.ANSWERED and q.asked.answered_by is not None]
    done.sort(key=lambda q: q.asked.answered_by.taken_from, reverse=True)
    return [Completed(q.measure.name, when_words(q), format_local_day(q.asked.answered_by.taken_from) + " " +
                      str(to_clinic(q.asked.answered_by.taken_from).year), q.asked.answered_by.by_patient)
            for q in done]


@bp.route("/")
@access.portal_page
def questionnaires():
    patient = current_portal_patient()
    now = utcnow()
    everything = patient_questionnaires(patient, now)
    due, completed = due_list(patient, now, everything), _completed(everything)
    audit.record("portal.questionnaires", object_type="patient", object_id=patient.id, patient_id=patient.id,
                 detail=f"{len(due)} due, {len(completed)} completed shown")
    return render_template("portal/questionnaires/list.html", due=due, completed=completed)


def _own_course(patient: Patient, course_id: int) -> TreatmentCourse | None:
    course = db.session.get(TreatmentCourse, course_id)
    return course if course is not None and course.patient_id == patient.id else None


def _not_found(what: str):
    audit.denial(f"portal: {what} is not one of the patient's own")
    abort(404)


@bp.route("/<id:course_id>/<measure>/<moment>", methods=["GET", "POST"])
@access.portal_page
def questionnaire(course_id: int, measure: str, moment: str):
    """GET: the questionnaire (or what became of it); POST: the answers, through the patient's service."""
    patient = current_portal_patient()
    course = _own_course(patient, course_id)
    if course is None or measure not in MEASURES:
        _not_found(f"questionnaire {course_id}/{measure[:10]}")
    now = utcnow()
    asked = rules.find(course_questionnaires(course, now), measure, moment)
    q = PatientQuestionnaire(course.id, MEASURES[measure], asked) if asked is not None else None
    if request.method == "POST":
        # sent even when the schedule no longer has it: a safety answer is never held up (the service)
        return _submit(patient, course, measure, moment, q, now)
    if q is None:
        _not_found(f"questionnaire {course_id}/{measure}/{moment[:40]}")
    account = current_portal_account()
    kept = offered_back(account.id)
    form = questionnaire_form_class(measure)(formdata=kept)
    audit.record("portal.questionnaire_view", object_type="course", object_id=course.id, patient_id=patient.id,
                 detail=f"{measure} {moment}"[:200])
    return _page(q, MEASURES[measure], form, recovered=kept_text(account.id, request.path) if kept else None)


def _page(q: PatientQuestionnaire | None, measure, form, *, crisis=None, recovered=None, told=False):
    return render_template("portal/questionnaires/form.html", q=q, measure=measure, form=form, crisis=crisis,
                           told=told, recovered=recovered, when=when_words(q) if q else None,
                           timing=timing_words(q.asked) if q and q.asked.waiting else None,
                           show_form=q is None or q.asked.waiting or request.method == "POST",
                           closed_on=_deadline(q.asked.moment.closes) if q and q.asked.moment.closes else None,
                           opens_on=_day_time(q.asked.moment.opens) if q else None)


def _submit(patient: Patient, course: TreatmentCourse, measure: str, moment: str, q, now: datetime):
    form = questionnaire_form_class(measure)()
    if not form.validate_on_submit():
        return _page(q, MEASURES[measure], form), INVALID_FORM_STATUS
    try:
        # a refusal writes nothing before it is raised but its audit row and, for a valid safety answer,
        # the urgent alert: no savepoint here, so that alert is not undone with the refusal
        done = submit_patient_questionnaire(patient, measure, answers_of(form, MEASURES[measure]),
                                            f"{course.id}/{moment}", now, difficulty=difficulty_of(form))
    except QuestionnaireRefused as refused:
        # the answers are not stored; a safety answer on an incomplete form shows the crisis resources
        # beside the reasons at once, and its alert (with its emails) is committed although the form
        # is refused: a patient who closes the page now has still been heard
        refused.apply_to(form)
        if refused.alert is not None:
            commit_refusal(INVALID_FORM_STATUS)
        return _page(q, MEASURES[measure], form, crisis=crisis_page() if refused.safety_answered else None,
                     told=refused.alert is not None), INVALID_FORM_STATUS
    mark_recovered(current_portal_account().id, request.path)
    if done.crisis is not None:
        return redirect(url_for("portal_questionnaires.support", response_id=done.response.id))
    flash(SAVED, "success")
    return redirect(url_for("portal_questionnaires.questionnaires"))


@bp.route("/answers/<id:response_id>/support")
@access.portal_page
def support(response_id: int):
    """The crisis resources after the patient's own answers that raised a safety alert (where a
    submission that raised one is sent: a reload re-sends nothing)."""
    patient = current_portal_patient()
    response = db.session.get(MeasureResponse, response_id)
    raised = response is not None and response.patient_id == patient.id and response.completed_by_patient and \
        db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.measure_response_id == response.id).limit(1))
    if not raised:
        _not_found(f"questionnaire answers {response_id}")
    audit.record("portal.questionnaire_support", obj=response, patient_id=patient.id)
    return render_template("portal/questionnaires/support.html", crisis=crisis_page())
