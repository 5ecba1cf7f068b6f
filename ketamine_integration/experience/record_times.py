"""The times of a dosing record in their order: dosing ends after it starts, discharge comes after
the start (and the end) of dosing and at most a day after the start, the REMS "ready to leave"
time lies between them, and a dose never starts while another session of the course is monitored.

Review of issue 19: a discharge the next morning (26.5 hours of "monitoring", and a booking
stretched over other patients' sessions at signing), a draft with -60 minutes of monitoring and a
second session inside the first one's monitoring were all accepted.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from ..db.clinic_time import format_local
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


def overlap_problem(session: DosingSession, values: dict) -> dict[str, str]:
    """A dose does not start while another session of the course is still being monitored (its
    start to discharge), nor does another start during this one's."""
    start = values.get("started_at")
    if start is None:
        return {}
    until = values.get("discharged_at") or values.get("ended_at") or start
    for other in plan_rules.course_doses(session.course, ignore=session):
        if other.started_at is None:
            continue
        other_until = other.discharged_at or other.ended_at or other.started_at
        if other.started_at <= start <= other_until or start <= other.started_at <= until:
            return {"started_at": f"Dosing session {other.sequence} runs from {format_local(other.started_at)} to "
                                  f"{format_local(other_until)} (start of dosing to discharge): a dose cannot start "
                                  "while another session is monitored; check the time."}
    return {}
