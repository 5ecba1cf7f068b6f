"""The times of a dosing record in their order: dosing ends after it starts, discharge comes after
the start (and the end) of dosing and at most a day after the start, the REMS "ready to leave"
time lies between them, and a dose never starts while another session of the course is monitored
or booked.

Review of issue 19: a discharge the next morning (26.5 hours of "monitoring", and a booking
stretched over other patients' sessions at signing), a draft with -60 minutes of monitoring and a
second session inside the first one's monitoring were all accepted.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..bookings.models import ACTIVE_STATUSES, Appointment
from ..db.clinic_time import format_local
from ..extensions import db
from . import plan_rules
from .models import DosingSession

#: a dosing session longer than this, or a discharge later than this after its start, is a typo
MAX_SESSION = timedelta(hours=12)
MAX_DISCHARGE_DELAY = timedelta(hours=24)


def time_problems(values: dict, now: datetime) -> dict[str, str]:
    """Times that have passed, in their order: dosing ends after it starts; discharge comes after
    the start (and the end) of dosing, at most a day after the start; the REMS "ready to leave"
    time lies between the start of dosing and discharge."""
    problems = {}
    start, end, discharged = values.get("started_at"), values.get("ended_at"), values.get("discharged_at")
    for name in ("started_at", "ended_at", "discharged_at", "ready_to_leave_at"):
        if values.get(name) and values[name] > now:
            problems[name] = "This cannot be in the future: record a session once it has happened."
    if start and end and (problem := _length_problem(end - start)):
        problems.setdefault("ended_at", problem)
    if discharged and (problem := _discharge_problem(start, end, discharged)):
        problems.setdefault("discharged_at", problem)
    ready = values.get("ready_to_leave_at")
    if ready and ((start and ready < start) or (discharged and ready > discharged)):
        problems.setdefault("ready_to_leave_at", "The patient is ready to leave between the start of dosing "
                                                 "and discharge; check the time.")
    return problems


def _length_problem(length: timedelta) -> str | None:
    if length <= timedelta(0):
        return "The session must end after it starts."
    if length > MAX_SESSION:
        return "A dosing session longer than 12 hours is not plausible; check the date."
    return None


def _discharge_problem(start: datetime | None, end: datetime | None, discharged: datetime) -> str | None:
    if start and discharged <= start:
        return "Discharge comes after the start of dosing; check the time."
    if end and discharged < end:
        return "Discharge cannot come before the end of dosing."
    if start and discharged - start > MAX_DISCHARGE_DELAY:
        return "Discharge more than 24 hours after the start of dosing is not plausible; check the date."
    return None


def overlap_problem(session: DosingSession, values: dict,
                    sessions: list[DosingSession] | None = None) -> dict[str, str]:
    """A dose does not start while another session of the course is still being monitored (its
    start to discharge) or is booked to be held (a planned session's booked time), nor does another
    start, or is booked to start, during this one's. A planned one in the way is most likely the
    dose being recorded on the wrong session, or a plan that can no longer be kept as booked: either
    way the schedule must say so before the record does (follow-up review of issue 19, point 2).
    `sessions`: the course's sessions when the caller read them already."""
    start = values.get("started_at")
    if start is None:
        return {}
    until = values.get("discharged_at") or values.get("ended_at") or start
    others = plan_rules.course_doses(session.course, ignore=session, sessions=sessions)
    booked = _booked_times([other for other in others if other.started_at is None])
    for other in others:
        span = _recorded_span(other) if other.started_at is not None else booked.get(other.id)
        if span is not None and starts_during(start, until, span):
            return {"started_at": _overlap_words(other, span)}
    return {}


def starts_during(start: datetime, until: datetime, other: tuple[datetime, datetime]) -> bool:
    """Whether a dose from `start` to `until` starts during `other` (from, to) or `other` starts
    during it; the ends count (a dose starting at the minute another's discharge is recorded is
    still inside its monitoring)."""
    return other[0] <= start <= other[1] or start <= other[0] <= until


def _recorded_span(other: DosingSession) -> tuple[datetime, datetime]:
    return other.started_at, other.discharged_at or other.ended_at or other.started_at


def _booked_times(planned: list[DosingSession]) -> dict[int, tuple[datetime, datetime]]:
    """The booked time of each planned session (its planned start alone when its booking is gone), in one query."""
    spans = {s.id: (s.planned_start, s.planned_start) for s in planned}
    if spans:
        for session_id, starts, ends in db.session.execute(select(
                Appointment.dosing_session_id, Appointment.starts_at, Appointment.ends_at).where(
                Appointment.dosing_session_id.in_(spans), Appointment.status.in_(ACTIVE_STATUSES))):
            spans[session_id] = (starts, ends)
    return spans


def _overlap_words(other: DosingSession, span: tuple[datetime, datetime]) -> str:
    if other.started_at is not None:
        return (f"Dosing session {other.sequence} runs from {format_local(span[0])} to {format_local(span[1])} "
                "(start of dosing to discharge): a dose cannot start while another session is monitored; "
                "check the time.")
    return (f"Dosing session {other.sequence} is booked from {format_local(span[0])} to {format_local(span[1])}: "
            "a dose is not recorded over another session's booked time. If this is that dose, record it on "
            f"session {other.sequence}; otherwise move or cancel session {other.sequence} first, or check the time.")
