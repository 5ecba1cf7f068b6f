"""Calendar views: a day or a week of sessions, per therapist, per room or clinic-wide."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, lazyload

from ..extensions import db
from ..db.clinic_time import clinic_zone
from ..bookings.models import Appointment
from ..domain.coverage import OUTCOMES


@dataclass(frozen=True)
class Entry:
    starts_at: datetime
    ends_at: datetime | None
    label: str
    patient: str
    clinician: str | None
    place: str
    status: str
    course_id: int | None
    #: what became of it, in words ("late-cancelled", "unconfirmed": its time came with no outcome), or None
    outcome: str | None = None


def period(day: date, view: str) -> tuple[date, date]:
    """First and last clinic date shown: the day, or Monday to Sunday of its week."""
    if view == "day":
        return day, day
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def entries(first: date, last: date, *, clinician_id: int | None = None, room_id: int | None = None,
            patient_ids: Select | None = None, now: datetime | None = None) -> list[Entry]:
    """The appointments of the period, of one clinician, room or set of patients (a subquery of ids)."""
    zone = clinic_zone()
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    stmt = (select(Appointment).where(Appointment.starts_at < end, Appointment.ends_at > start)
            # only the dosing session's number is shown: not its vitals, adverse events or addenda
            .options(joinedload(Appointment.patient), joinedload(Appointment.dosing_session).options(lazyload("*")))
            .order_by(Appointment.starts_at))
    if clinician_id is not None:
        stmt = stmt.where(Appointment.clinician_id == clinician_id)
    if room_id is not None:
        stmt = stmt.where(Appointment.room_id == room_id)
    if patient_ids is not None:
        stmt = stmt.where(Appointment.patient_id.in_(patient_ids))
    found = [Entry(a.starts_at, a.ends_at, _label(a), a.patient.display_name, a.clinician.display_name,
                   a.room.name if a.room else "Telehealth", a.status.replace("_", "-"), a.course_id,
                   _outcome(a, now))
             for a in db.session.scalars(stmt).unique()]
    return found


def _outcome(appointment: Appointment, now: datetime | None) -> str | None:
    if appointment.outcome:
        return OUTCOMES[appointment.outcome].lower()
    if now is not None and appointment.unconfirmed(now) and not appointment.changed_with_dosing_plan:
        return "unconfirmed"
    return None


def _label(appointment: Appointment) -> str:
    if appointment.dosing_session is not None:
        return f"{appointment.label} {appointment.dosing_session.sequence}"
    return appointment.label


def by_day(items: list[Entry], first: date, last: date) -> list[tuple[date, list[Entry]]]:
    zone = clinic_zone()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [(d, [e for e in items if e.starts_at.astimezone(zone).date() == d]) for d in days]
