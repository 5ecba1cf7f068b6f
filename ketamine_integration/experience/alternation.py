"""The dosing record's warning on protocols where dosing and integration alternate
(`integration.alternates_with_dosing`): the previous dose's window has no integration session held or
booked (domain/alternation.py). A warning only: the record is saved and signed as any other."""
from __future__ import annotations

from datetime import datetime

from ..bookings.booking import integration_sessions_by_course
from ..domain.alternation import window_left_empty
from ..domain.phases import Phase
from ..protocols.services import protocol_of
from .models import CANCELLED, DRAFT, PLANNED, DosingSession
from .plan_rules import fetch_dosing_sessions
from .windows import WindowRow, course_windows


def previous_window_left_empty(session: DosingSession, now: datetime) -> WindowRow | None:
    """The window of the dose before `session` when the course's protocol alternates dosing and
    integration and that window has no integration session held or booked; else None. Asked only
    while the dose is still to be recorded (planned or draft): a signed record is what happened; and
    only during the series (experience): a booster follows the sessions after the series, not a window."""
    course = session.course
    alternates = protocol_of(course.protocol_version).integration.alternates_with_dosing
    if session.status not in (PLANNED, DRAFT) or course.current_phase is not Phase.EXPERIENCE or not alternates:
        return None
    doses = [d for d in fetch_dosing_sessions(course.id) if d.status != CANCELLED and d.id != session.id]
    rows = course_windows(course, doses, integration_sessions_by_course([course.id]).get(course.id, []), now)
    coverage = {r.session.id: r.coverage.state for r in rows}
    gap = window_left_empty([(d.sequence, coverage.get(d.id)) for d in doses], session.sequence)
    return next((r for r in rows if r.session.sequence == gap), None)
