"""Planned dosing sessions whose time has passed with no record begun, for the prescriber's worklist
(issue 20, point 11): a dose planned for this morning and never recorded was either given and not
written down, or not given and never cancelled; either way the record must say which."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, lazyload

from ..accounts.models import User
from ..bookings.models import ACTIVE_STATUSES, Appointment
from ..courses.models import TreatmentCourse
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import Patient
from .models import PLANNED, DosingSession


@dataclass(frozen=True)
class OverduePlan:
    session: DosingSession
    #: when its booked time ended: from then on the dose is overdue
    overdue_since: datetime


def overdue_planned(user: User, now: datetime) -> list[OverduePlan]:
    """The user's care-team patients' planned doses (no record begun) whose booked time is over at
    `now`, oldest first; one query. Without a booking (plans from before doses were booked), the
    planned start is the time. A dose still under way is not overdue: its record may be begun at
    the chair, or after discharge."""
    over = func.coalesce(Appointment.ends_at, DosingSession.planned_start)
    stmt = (select(DosingSession, over.label("over"))
            .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
            .join(Patient, Patient.id == TreatmentCourse.patient_id)
            .outerjoin(Appointment, (Appointment.dosing_session_id == DosingSession.id)
                       & Appointment.status.in_(ACTIVE_STATUSES))
            .where(DosingSession.status == PLANNED, DosingSession.planned_start.is_not(None), over <= now,
                   Patient.archived_at.is_(None))
            .options(lazyload("*"), contains_eager(DosingSession.course).contains_eager(TreatmentCourse.patient))
            .order_by(DosingSession.planned_start, DosingSession.id))
    return [OverduePlan(session, since) for session, since in db.session.execute(caseload(user, stmt))]
