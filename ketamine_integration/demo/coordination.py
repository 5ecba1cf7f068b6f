"""Demo coordination: releases of information with different scopes (one revoked, one to an
outside clinic, one to a prescriber outside the patient's care team), a therapist–prescriber
conversation with a reply and an urgent note waiting (on prescriber2, about the PHQ-9 of the open
safety alert, dated as that measure is), a prescriber's note waiting on a therapist, a note to the
outside prescriber, and reports."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts.models import PRESCRIBER, User, UserRole
from ..coordination import services as coordination
from ..coordination.models import CATEGORIES
from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..extensions import db
from ..notes.models import SafetyAlert
from ..db.clinic_time import clinic_zone


def load_demo_coordination(now: datetime) -> None:
    today = now.astimezone(clinic_zone()).date()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.EXPERIENCE.value, Phase.INTEGRATION.value])).order_by(TreatmentCourse.id)).all()
    alert = db.session.scalars(select(SafetyAlert).where(SafetyAlert.acknowledged_at.is_(None)).limit(1)).first()
    alerted = alert.course_id if alert is not None else None
    # The course with the open safety alert first: its conversation has the urgent note.
    courses.sort(key=lambda c: c.id != alerted)
    full, partial, revoked = courses[0], courses[1], courses[2]
    for course, scope in ((full, list(CATEGORIES)), (partial, ["dosing", "measures", "attendance"])):
        coordination.create_release(course.patient, recipient_user_id=course.prescriber_id, recipient_name=None,
                                    categories=scope, purpose="Coordination of ketamine treatment",
                                    effective_on=course.start_date, expires_on=today + timedelta(days=365),
                                    by=course.therapist)
    withdrawn = coordination.create_release(
        revoked.patient, recipient_user_id=revoked.prescriber_id, recipient_name=None, categories=list(CATEGORIES),
        purpose="Coordination of ketamine treatment", effective_on=revoked.start_date, expires_on=None,
        by=revoked.therapist)
    coordination.revoke_release(withdrawn, on=today - timedelta(days=2), by=revoked.therapist)
    coordination.create_release(revoked.patient, recipient_user_id=None,
                                recipient_name="Lakeside Family Practice (fictional)", categories=["measures"],
                                purpose="Primary care follow-up", effective_on=revoked.start_date,
                                expires_on=today + timedelta(days=180), by=revoked.therapist, outside_care_team=True)
    _outside_prescriber(courses[1:], today)
    # A conversation: a routine note answered, then an urgent one waiting on the prescriber.
    therapist, prescriber = full.therapist, full.prescriber
    first = coordination.send_note(full, recipient_id=prescriber.id, priority="routine", category="response",
                                   body="PHQ-9 is coming down steadily; she is sleeping better and walking daily.",
                                   by=therapist, today=today)
    coordination.acknowledge_note(first, reply="Good to hear. Let's keep the current spacing.", by=prescriber,
                                  now=now - timedelta(hours=20))
    coordination.send_note(full, recipient_id=prescriber.id, priority="urgent", category="safety",
                           body=f"Item 9 answered 1 on {_measured(alert, today)} PHQ-9: passive thoughts, no plan. "
                                "Safety plan reviewed; could you see her before the next infusion?",
                           by=therapist, today=today)
    # and one the other way, waiting on the therapist (their home page lists it)
    coordination.send_note(partial, recipient_id=partial.therapist_id, priority="routine", category="scheduling",
                           body="I'd like to review the plan with the patient before the next dose; could the "
                                "integration session after it move to the following morning?", by=partial.prescriber, today=today)
    for course in (full, partial):
        coordination.generate_report(course, recipient_id=course.prescriber_id, by=course.therapist, now=now,
                                     today=today, questions="Is the current dose and spacing still right?",
                                     recommendations="Continue integration sessions inside each window.")


def _measured(alert: SafetyAlert | None, today) -> str:
    """When the PHQ-9 the urgent note speaks of was answered, as the note says it: the alert's own
    day ("yesterday's"), so that the note and the measures page agree."""
    day = alert.observed_on if alert is not None else today
    if day == today:
        return "today's"
    if day == today - timedelta(days=1):
        return "yesterday's"
    return f"the {day:%b} {day.day}"


def _outside_prescriber(courses: list[TreatmentCourse], today) -> None:
    """A prescriber who is not on the patient's care team is another practice as far as this
    patient goes: a note reaches them only under a release that covers an outside recipient.
    The first course (from the partial release's on) with a prescriber outside its care team."""
    prescribers = db.session.scalars(select(User).where(User.active.is_(True), User.id.in_(
        select(UserRole.user_id).where(UserRole.role == PRESCRIBER))).order_by(User.id)).all()
    course, outside = next((course, prescriber) for course in courses for prescriber in prescribers
                           if all(m.user_id != prescriber.id for m in course.patient.care_team))
    coordination.create_release(course.patient, recipient_user_id=outside.id, recipient_name=None,
                                categories=["dosing", "measures"], outside_care_team=True,
                                purpose="Second opinion on dosing from a prescriber outside the care team",
                                effective_on=course.start_date, expires_on=today + timedelta(days=90),
                                by=course.therapist)
    coordination.send_note(course, recipient_id=outside.id, priority="routine", category="adverse_effects",
                           body="The patient asked for a second opinion on the dose before the series continues; "
                                "the dosing records and measures are shared under her release.", by=course.therapist,
                           today=today)
