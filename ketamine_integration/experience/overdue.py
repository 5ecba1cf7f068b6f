"""Planned dosing sessions whose time has passed with no record begun, for the prescriber's worklist
(issue 20, point 11): a dose planned for this morning and never recorded was either given and not
written down, or not given and never cancelled; either way the record must say which."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Select, func, select
from sqlalchemy.orm import contains_eager, lazyload

from ..accounts.models import User
from ..bookings.models import ACTIVE_STATUSES, Appointment
from ..courses.models import TreatmentCourse
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import Patient
from .models import PLANNED, DosingSession


#: from when a planned dose is overdue: the end of its booking, else its planned start
OVER = func.coalesce(Appointment.ends_at, DosingSession.planned_start)


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
    stmt = (_overdue(user, now, DosingSession, OVER.label("over"))
            .options(lazyload("*"), contains_eager(DosingSession.course).contains_eager(TreatmentCourse.patient))
            .order_by(DosingSession.planned_start, DosingSession.id))
    return [OverduePlan(session, since) for session, since in db.session.execute(stmt)]


def count_overdue_planned(user: User, now: datetime | BindParameter) -> Select:
    """A SELECT of how many doses `overdue_planned` finds (the home page's count, the menu's badge); `now`:
    an instant, or a parameter bound to it when the SELECT is run (home.waiting builds it once)."""
    return _overdue(user, now, func.count(DosingSession.id))


def _overdue(user: User, now: datetime | BindParameter, *columns) -> Select:
    return caseload(user, select(*columns).select_from(DosingSession)
                    .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
                    .join(Patient, Patient.id == TreatmentCourse.patient_id)
                    .outerjoin(Appointment, (Appointment.dosing_session_id == DosingSession.id)
                               & Appointment.status.in_(ACTIVE_STATUSES))
                    .where(DosingSession.status == PLANNED, DosingSession.planned_start.is_not(None), OVER <= now,
                           Patient.archived_at.is_(None)))
