"""Each dosing session's integration window for a course, with status and coverage at `now`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..courses.models import TreatmentCourse
from ..domain.protocols import Integration
from ..domain.windows import IntegrationWindow, WindowStatus, assign_sessions, covered, status_at, window_for
from ..protocols.services import protocol_of
from ..db.clinic_time import clinic_zone
from .models import SIGNED, DosingSession


@dataclass(frozen=True)
class WindowRow:
    session: DosingSession
    window: IntegrationWindow
    status: WindowStatus
    sessions: tuple[datetime, ...]
    covered: bool
    covered_optimally: bool


def course_windows(course: TreatmentCourse, sessions: list[DosingSession], integration_starts: list[datetime],
                   now: datetime) -> list[WindowRow]:
    """Windows of the course's completed dosing sessions: signed ones (a draft may still move).

    `sessions` are dosing sessions, or the rows fetch_signed_sessions_by_course reads: only id,
    sequence, status and ended_at are used."""
    rule = protocol_of(course.protocol_version).integration
    return [WindowRow(session=c.session, window=c.window, status=status_at(c.window, now), sessions=c.sessions,
                      covered=c.covered, covered_optimally=c.covered_optimally)
            for c in window_coverage(rule, sessions, integration_starts, clinic_zone())]


@dataclass(frozen=True)
class Coverage:
    """A signed session's window and the integration sessions that count for it: what does not
    depend on the time of asking (and so what the stored windows keep)."""

    session: DosingSession
    window: IntegrationWindow
    sessions: tuple[datetime, ...]
    covered: bool
    covered_optimally: bool


def window_coverage(rule: Integration, sessions: list, integration_starts: list[datetime],
                    zone: ZoneInfo) -> list[Coverage]:
    """Each signed session's window, with the integration sessions assigned to it."""
    done = [s for s in sessions if s.status == SIGNED]
    windows = [window_for(s.id, s.ended_at, rule.window, zone) for s in done]
    assigned = assign_sessions(windows, integration_starts, per_window=rule.min_sessions_per_dosing,
                               shared=rule.one_session_covers_overlapping_windows)
    return [Coverage(session=session, window=window, sessions=tuple(assigned[window.key]),
                     covered=covered(assigned[window.key], rule.min_sessions_per_dosing),
                     covered_optimally=any(window.optimal(s) for s in assigned[window.key]))
            for session, window in zip(done, windows)]


#: most urgent first: what a list of courses shows for each
URGENCY = (WindowStatus.CLOSING_SOON, WindowStatus.OPEN_OPTIMAL, WindowStatus.OPEN, WindowStatus.NOT_YET_OPEN)


def summary(rows: list[WindowRow]) -> str | None:
    """One phrase for a course in a list: its most urgent uncovered window, if any."""
    for status in URGENCY:
        if any(r.status is status and not r.covered for r in rows):
            return f"{status.label}, nothing booked"
    live = [r for r in rows if r.status is not WindowStatus.CLOSED]
    if live:
        return f"{live[-1].status.label}, covered"
    return None
