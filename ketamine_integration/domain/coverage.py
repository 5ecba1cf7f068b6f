"""Whether an integration window is covered, from the integration sessions inside it: the one rule
the course page, the worklists, the caseload, the coordination report and the auto-schedule use.

A window is covered only by sessions that were held (attended, issue 20 point 3). A future
booking, or one under way, covers it provisionally; a booking over with no outcome recorded leaves
it "unconfirmed" (someone must say what happened: bookings.models.Appointment.unconfirmed, the same
rule); a no-show or a cancellation covers nothing.
Pure: the sessions and the time of asking come in as arguments.

Windows enter through their bounds only (key, contains, optimal): the provisional windows of
planned doses (issue 20, point 1) are decided by the same rule as the windows of signed ones, and
are at best covered provisionally (a dose not yet given has no window to cover).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from .windows import assign_sessions

#: the version of this rule; stored coverage worked out under another is worked out again
#: (1: a booking covered its window, before issue 20; 2: attendance decides; 3: a session booked
#: for a dose's window counts for that window while it holds it; 4: a booking is unconfirmed once
#: it has ended, not from its start, so stored sessions keep their end)
RULE_VERSION = 4

#: what became of a session: no outcome recorded yet, one of the outcomes, or called off ahead
BOOKED, CANCELLED = "booked", "cancelled"
ATTENDED, NO_SHOW, LATE_CANCELLED, CLINIC_CANCELLED = "attended", "no_show", "late_cancelled", "clinic_cancelled"
#: the outcomes a past appointment is given, as the forms and pages name them
OUTCOMES = {ATTENDED: "Attended", NO_SHOW: "No-show", LATE_CANCELLED: "Late-cancelled",
            CLINIC_CANCELLED: "Cancelled by the clinic"}
#: sessions that count for a window: held, or booked and not (yet) said otherwise
COUNTING = (ATTENDED, BOOKED)


class Coverage(StrEnum):
    COVERED = "covered"
    UNCONFIRMED = "unconfirmed"
    PROVISIONAL = "provisional"
    UNCOVERED = "uncovered"

    @property
    def label(self) -> str:
        return {"covered": "Covered", "unconfirmed": "Unconfirmed", "provisional": "Booked, not yet held",
                "uncovered": "Nothing booked"}[self.value]


@dataclass(frozen=True)
class IntegrationSession:
    """An integration session as coverage sees it: when it starts and ends and what became of it."""

    starts_at: datetime
    #: BOOKED (no outcome recorded), CANCELLED (ahead of time), or one of OUTCOMES
    outcome: str
    #: the key of the window it was booked for (the dosing session whose provisional window's
    #: suggestion it was booked from), if any: it counts for that window while the window holds it
    for_window: int | None = None
    ends_at: datetime = field(kw_only=True)
    #: its kind of appointment: "integration", or "follow_up" (which counts after the series alone:
    #: domain.after_series.KINDS)
    kind: str = field(default="integration", kw_only=True)

    def over(self, now: datetime) -> bool:
        """It has ended: booked with no outcome from then on, it is unconfirmed (under way, not yet)."""
        return self.ends_at <= now


class WindowBounds(Protocol):
    key: int
    #: the window of a dose only planned (domain.windows.provisional_window_for)
    provisional: bool

    def contains(self, instant: datetime) -> bool: ...

    def optimal(self, instant: datetime) -> bool: ...


@dataclass(frozen=True)
class WindowCoverage:
    state: Coverage
    #: the sessions that count for the window (held or booked), in time order
    sessions: tuple[IntegrationSession, ...]
    #: one of the sessions the state rests on is inside the optimal span
    optimal: bool

    @property
    def covered(self) -> bool:
        return self.state is Coverage.COVERED

    @property
    def needs_booking(self) -> bool:
        """Nothing held or booked would cover it: what the worklists and the auto-schedule fill."""
        return self.state is Coverage.UNCOVERED


def assign(windows: list[WindowBounds], sessions: list[IntegrationSession], *, per_window: int,
           shared: bool) -> dict[int, tuple[IntegrationSession, ...]]:
    """The sessions that count for each window (what does not depend on the time of asking, so
    what the stored windows keep): held and booked ones, by the protocol's sharing rule, a session
    booked for a window counting for it first (domain.windows.assign_sessions).

    `windows` must hold the window of every dose a session was booked for that may hold it (the
    provisional windows of planned doses too, even when only the real windows' coverage is
    wanted): a pin to a window not given is not known to hold, and the session is shared out."""
    counting = [s for s in sessions if s.outcome in COUNTING]
    assigned = assign_sessions(windows, counting, per_window=per_window, shared=shared, start=lambda s: s.starts_at,
                               pin=lambda s: s.for_window)
    return {key: tuple(found) for key, found in assigned.items()}


def decide(window: WindowBounds, assigned: tuple[IntegrationSession, ...], *, per_window: int,
           now: datetime) -> WindowCoverage:
    """A window's coverage at `now` from the sessions assigned to it.

    Held sessions enough for the protocol: covered. Otherwise, held and booked together enough:
    unconfirmed while any of those bookings is over without an outcome (it may have been held:
    confirm it before booking another), else provisional. Otherwise uncovered.

    A provisional window (its dose only planned) is never more than provisionally covered: until
    the dose is signed its window is an expectation, and a session held in it may turn out to
    fall outside the real one.
    """
    needed = max(per_window, 1)
    held = [s for s in assigned if s.outcome == ATTENDED]
    if len(held) >= needed and window.provisional:
        return WindowCoverage(Coverage.PROVISIONAL, assigned, any(window.optimal(s.starts_at) for s in held))
    if len(held) >= needed:
        return WindowCoverage(Coverage.COVERED, assigned, any(window.optimal(s.starts_at) for s in held))
    if len(assigned) >= needed:
        unconfirmed = any(s.outcome == BOOKED and s.over(now) for s in assigned)
        return WindowCoverage(Coverage.UNCONFIRMED if unconfirmed else Coverage.PROVISIONAL, assigned,
                              any(window.optimal(s.starts_at) for s in assigned))
    return WindowCoverage(Coverage.UNCOVERED, assigned, False)


def cover(windows: list[WindowBounds], sessions: list[IntegrationSession], *, per_window: int, shared: bool,
          now: datetime) -> dict[int, WindowCoverage]:
    """Each window's coverage at `now` (by key) from all of a course's integration sessions."""
    assigned = assign(windows, sessions, per_window=per_window, shared=shared)
    return {w.key: decide(w, assigned[w.key], per_window=per_window, now=now) for w in windows}
