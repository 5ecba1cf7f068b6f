"""Questionnaires at the protocol's moments, per course (issue 23, point 3): the course's facts read
for domain/questionnaires.py (its doses, integration sessions, the end of its series, its live
responses), what is due, open, overdue, missed or completed, for the staff pages and the patient's
portal, and the crisis resources the portal shows after an answer that raises a safety alert.

Nothing is stored: moments follow from the course's record at the time of asking, as its windows
do, so a dose moved or a session booked moves its questionnaire at once. The patient's own
submission is notes/patient_responses.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..bookings.models import ACTIVE_STATUSES, Appointment
from ..clinic_settings.contact import clinic_phone
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain import questionnaires as rules
from ..domain.crisis import CrisisResources, crisis_resources
from ..domain.measures import MEASURES, Measure
from ..domain.phases import Phase
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from ..patients.models import Patient
from ..protocols.services import protocol_of
from ..scheduling.after_series import last_series_dose
from .models import MeasureResponse

#: the separator of a portal token: "<course id>/<moment key>"
TOKEN_SEPARATOR = "/"
#: the course page lists the questionnaires opening within this long, beside the open and overdue ones
SOON = timedelta(days=7)


@dataclass(frozen=True)
class PatientQuestionnaire:
    """One questionnaire the portal offers a patient: the registry entry (its published wording),
    the moment it answers, when it opens, is due and closes, and its status."""
    course_id: int
    measure: Measure
    asked: rules.Asked

    @property
    def token(self) -> str:
        """What the portal's form posts back as `moment` to submit_patient_questionnaire."""
        return f"{self.course_id}{TOKEN_SEPARATOR}{self.asked.moment.key}"

    @property
    def label(self) -> str:
        return self.asked.moment.label


def _doses(course_id: int) -> tuple[rules.Dose, ...]:
    """Doses not cancelled, at their recorded start, else their planned one, else their booking's."""
    rows = db.session.execute(
        select(DosingSession.id, DosingSession.sequence, DosingSession.started_at, DosingSession.planned_start,
               Appointment.starts_at)
        .outerjoin(Appointment, Appointment.dosing_session_id == DosingSession.id)
        .where(DosingSession.course_id == course_id, DosingSession.status != CANCELLED)).all()
    return tuple(rules.Dose(id_, sequence, started or planned or booked)
                 for id_, sequence, started, planned, booked in rows if started or planned or booked)


def _sessions(course_id: int) -> tuple[rules.Session, ...]:
    """Integration sessions booked or held (a cancelled one or a no-show asks nothing)."""
    rows = db.session.execute(select(Appointment.id, Appointment.starts_at).where(
        Appointment.course_id == course_id, Appointment.kind == "integration",
        Appointment.status.in_(ACTIVE_STATUSES))).all()
    return tuple(rules.Session(id_, starts) for id_, starts in rows)


def _series_end(course: TreatmentCourse) -> datetime | None:
    """The end of the series' last signed dose, once the course entered integration (the anchor of
    the sessions after the series: scheduling/after_series.py)."""
    moments = {t.to_phase: t.occurred_at for t in course.transitions}
    if Phase.INTEGRATION.value not in moments:
        return None
    # the two columns the rule reads, not the sessions: loading them again loaded their readings,
    # responses and addenda again (the course page had read the sessions already)
    signed = db.session.execute(select(DosingSession.status, DosingSession.ended_at)
                                .where(DosingSession.course_id == course.id)).all()
    last = last_series_dose(signed, moments.get(Phase.MAINTENANCE.value))
    return None if last is None else last.ended_at


def taken(response: MeasureResponse, zone) -> rules.Taken:
    """When a response was taken, as the schedule reads it."""
    if response.completed_by_patient:
        return rules.Taken(response.id, response.measure, response.created_at, response.created_at, True)
    start, until = rules.taken_span(response.administered_on, response.created_at, zone)
    return rules.Taken(response.id, response.measure, start, until)


def course_times(course: TreatmentCourse) -> rules.CourseTimes:
    zone = clinic_zone()
    responses = db.session.scalars(select(MeasureResponse).where(MeasureResponse.course_id == course.id,
                                                                 MeasureResponse.voided_at.is_(None))
                                   .order_by(MeasureResponse.created_at, MeasureResponse.id)).all()
    stopped = course.phase_since if course.current_phase is Phase.DISCONTINUED else None
    return rules.CourseTimes(enrolled_on=course.start_date, doses=_doses(course.id), sessions=_sessions(course.id),
                             series_ended_at=_series_end(course), stopped_at=stopped,
                             responses=tuple(taken(r, zone) for r in responses))


def course_questionnaires(course: TreatmentCourse, now: datetime) -> list[rules.Asked]:
    """Every moment the course's protocol asks a measure at, with its status at `now` (the staff
    pages: what to prompt the patient for, and which the patient completed)."""
    return rules.asked_at(protocol_of(course.protocol_version).measures, course_times(course), now, clinic_zone())


def to_prompt(asked: list[rules.Asked], now: datetime) -> list[rules.Asked]:
    """What staff may prompt the patient for: open or overdue, or opening within SOON."""
    return [a for a in asked if a.waiting or (a.status == rules.UPCOMING and a.moment.opens - now <= SOON)]


def patient_questionnaires(patient: Patient, now: datetime) -> list[PatientQuestionnaire]:
    """Every questionnaire of every course of the patient, with its status at `now`."""
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient.id)
                                 .order_by(TreatmentCourse.id)).all()
    return [PatientQuestionnaire(course.id, MEASURES[asked.moment.measure], asked)
            for course in courses for asked in course_questionnaires(course, now)]


def due_questionnaires(patient: Patient, now: datetime) -> list[PatientQuestionnaire]:
    """What the portal asks the patient to complete now: each questionnaire open or overdue and not
    completed, the one due soonest first (one without a due time last)."""
    return waiting_first(patient_questionnaires(patient, now), now)


def waiting_first(questionnaires: list[PatientQuestionnaire], now: datetime) -> list[PatientQuestionnaire]:
    """Of these, the ones open or overdue and not completed, the one due soonest first (one without
    a due time last)."""
    waiting = [q for q in questionnaires if q.asked.waiting]
    return sorted(waiting, key=lambda q: (q.asked.moment.due is None, q.asked.moment.due or now, q.token))


def crisis_page() -> CrisisResources:
    """The crisis resources the portal shows at once after an answer that raises a safety alert:
    988, 911 and the clinic's phone from the clinic settings (domain/crisis.py words them)."""
    return crisis_resources(current_app.config["CLINIC_NAME"], clinic_phone())
