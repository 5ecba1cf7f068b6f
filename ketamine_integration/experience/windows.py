"""Each dosing session's integration window for a course, with status and coverage at `now`
(coverage decided by domain/coverage.py, from the course's integration sessions and what became of them)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..courses.models import TreatmentCourse
from ..domain.coverage import Coverage, IntegrationSession, WindowCoverage, assign, decide
from ..domain.protocols import Integration
from ..domain.windows import IntegrationWindow, WindowStatus, status_at, window_for
from ..protocols.services import protocol_of
from ..db.clinic_time import clinic_zone
from .dose_windows import fetch_pinned_windows
from .models import SIGNED, DosingSession


@dataclass(frozen=True)
class WindowRow:
    session: DosingSession
    window: IntegrationWindow
    status: WindowStatus
    coverage: WindowCoverage
    #: what the window is counted from: the dose's recorded end, or for a provisional window the
    #: end its plan leads to expect (domain.windows.expected_end)
    anchor: datetime
    #: the course ended before the window would have closed: it is closed, and asks for nothing
    closed_early: bool = False

    @property
    def provisional(self) -> bool:
        return self.window.provisional

    @property
    def covered(self) -> bool:
        return self.coverage.covered

    @property
    def covered_optimally(self) -> bool:
        return self.coverage.covered and self.coverage.optimal

    @property
    def needs_booking(self) -> bool:
        return self.coverage.needs_booking and not self.closed_early

    @property
    def sessions(self) -> tuple[datetime, ...]:
        """Start times of the integration sessions that count for the window."""
        return tuple(s.starts_at for s in self.coverage.sessions)


def course_windows(course: TreatmentCourse, sessions: list[DosingSession], integration: list[IntegrationSession],
                   now: datetime, provisional: list[IntegrationWindow] | None = None) -> list[WindowRow]:
    """Windows of the course's completed dosing sessions: signed ones (a draft may still move).

    `sessions` are dosing sessions, or the rows fetch_signed_sessions_by_course reads: only id,
    sequence, status and ended_at are used. `integration`: the course's integration sessions,
    any outcome (bookings.booking.integration_sessions_of). `provisional`: the provisional windows
    of the course's planned doses (at least those a session was booked for, whose pin the coverage
    rule honours); None reads those a session was booked for, in one query when there are any.

    A course that has ended closes its windows with it: one still open (or not yet open) when it
    ended is closed early, and asks for nothing any more."""
    rule = protocol_of(course.protocol_version).integration
    if provisional is None:
        provisional = pinned_windows(course.id, sessions, integration)
    ended = course.phase_since if course.current_phase.ended else None
    rows = []
    for a in window_assignments(rule, sessions, integration, clinic_zone(), provisional):
        early = ended is not None and a.window.closes > ended
        rows.append(WindowRow(session=a.session, window=a.window,
                              status=WindowStatus.CLOSED if early else status_at(a.window, now),
                              coverage=decide(a.window, a.sessions, per_window=rule.min_sessions_per_dosing, now=now),
                              anchor=a.session.ended_at, closed_early=early))
    return rows


def pinned_windows(course_id: int, sessions: list, integration: list[IntegrationSession]) -> list[IntegrationWindow]:
    """The provisional windows of the not-yet-signed doses of one course that its integration
    sessions were booked for (no query when none was booked for a dose not yet signed)."""
    signed = {s.id for s in sessions if s.status == SIGNED}
    if not any(s.for_window is not None and s.for_window not in signed for s in integration):
        return []
    return fetch_pinned_windows([course_id]).get(course_id, [])


@dataclass(frozen=True)
class Assignment:
    """A signed session's window and the integration sessions that count for it: what does not
    depend on the time of asking (and so what the stored windows keep)."""

    session: DosingSession
    window: IntegrationWindow
    sessions: tuple[IntegrationSession, ...]


def window_assignments(rule: Integration, sessions: list, integration: list[IntegrationSession],
                       zone: ZoneInfo, provisional: list[IntegrationWindow] = ()) -> list[Assignment]:
    """Each signed session's window, with the integration sessions assigned to it. `provisional`:
    the planned doses' windows, assigned with them (a session booked for one counts there while it
    holds it) and not returned."""
    done = [s for s in sessions if s.status == SIGNED]
    windows = [window_for(s.id, s.ended_at, rule.window, zone) for s in done]
    assigned = assign(windows + list(provisional), integration, per_window=rule.min_sessions_per_dosing,
                      shared=rule.one_session_covers_overlapping_windows)
    return [Assignment(session=session, window=window, sessions=assigned[window.key])
            for session, window in zip(done, windows)]


#: most urgent first: what a list of courses shows for each
URGENCY = (WindowStatus.CLOSING_SOON, WindowStatus.OPEN_OPTIMAL, WindowStatus.OPEN, WindowStatus.NOT_YET_OPEN)
#: what covers a course's window, in a list's words
SUMMARY_WORDS = {Coverage.UNCOVERED: "nothing booked", Coverage.UNCONFIRMED: "session unconfirmed",
                 Coverage.COVERED: "covered", Coverage.PROVISIONAL: "booked"}


@dataclass(frozen=True)
class WindowSummary:
    """A course's window as a list shows it: its status and what covers it; as text, one phrase
    ("Closing soon, nothing booked"; a session after the series: "After the series: open, booked"),
    and in a template with the coverage's icon."""

    status: WindowStatus
    coverage: Coverage
    #: it speaks of a session after the series (scheduling.after_series.course_summaries)
    after_series: bool = False

    def __str__(self) -> str:
        said = f"{self.status.label}, {SUMMARY_WORDS[self.coverage]}"
        return f"After the series: {said[:1].lower()}{said[1:]}" if self.after_series else said


def summary(rows: list) -> WindowSummary | None:
    """A course's window for a list (rows: anything with a status and a coverage): its most urgent
    window with nothing booked, else one whose session awaits an outcome, else its latest."""
    found = summary_of(rows)
    return found[1] if found else None


def summary_of(rows: list) -> tuple[object, WindowSummary] | None:
    """The row `summary` speaks of, and what it says of it (None: no row is open)."""
    for state in (Coverage.UNCOVERED, Coverage.UNCONFIRMED):
        for status in URGENCY:
            row = next((r for r in rows if r.status is status and r.coverage.state is state), None)
            if row is not None:
                return row, WindowSummary(status, state)
    live = [r for r in rows if r.status is not WindowStatus.CLOSED]
    if live:
        last = live[-1]
        return last, WindowSummary(last.status, Coverage.COVERED if last.coverage.covered else Coverage.PROVISIONAL)
    return None
