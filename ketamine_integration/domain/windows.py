"""Integration windows after dosing sessions: when each opens, is optimal, closes; status; which
integration sessions count for which window (whether they cover it: domain/coverage.py); the
provisional window of a dose only planned, and which of those a booking depends on.

Pure functions with time passed in. The window is a clinic protocol setting anchored on the
end of the dosing session; it is not a promise of a biological effect.

Arithmetic: a span in hours is elapsed time; a span in days is calendar days in the clinic's
time zone, i.e. the same wall-clock time N days later. A wall-clock time that does not exist
(the spring-forward gap) moves forward by the gap; one that exists twice (fall back) is the
first of the two. All results are UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Callable, TypeVar
from zoneinfo import ZoneInfo

from .protocols import Span, Window as WindowRule

T = TypeVar("T")

#: "closing soon" when less than this is left (BRIEF: warn staff before a window closes)
CLOSING_SOON = timedelta(hours=48)


class WindowStatus(StrEnum):
    NOT_YET_OPEN = "not_yet_open"
    OPEN_OPTIMAL = "open_optimal"
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"not_yet_open": "Not yet open", "open_optimal": "Open (optimal)", "open": "Open",
                "closing_soon": "Closing soon", "closed": "Closed"}[self.value]


@dataclass(frozen=True)
class IntegrationWindow:
    """[opens, closes) in UTC; the optimal span is [opens, optimal_until)."""

    key: int
    opens: datetime
    optimal_until: datetime
    closes: datetime
    #: the window of a dose only planned (issue 20, point 1): worked out from its planned time, and
    #: replaced by the real one when the dose's record is signed
    provisional: bool = False

    def contains(self, instant: datetime) -> bool:
        return self.opens <= instant < self.closes

    def optimal(self, instant: datetime) -> bool:
        return self.opens <= instant < self.optimal_until

    def includes_day(self, day: date, zone: ZoneInfo) -> bool:
        """Whether any part of the clinic day `day` lies inside the window. A session note records
        the date its session took place, not the hour, so a session on the day a window opens or
        closes is taken to be inside it (the note form shows each window's dates)."""
        return day_start(day, zone) < self.closes and self.opens < day_start(day + timedelta(days=1), zone)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight starting `day` in `zone`, in UTC (a midnight skipped by a clock change: the
    instant the clocks jumped to)."""
    return datetime.combine(day, time(0)).replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def shift(anchor: datetime, span: Span, zone: ZoneInfo) -> datetime:
    """`anchor` (aware) moved by `span`: elapsed hours, or calendar days in `zone`."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    if span.unit == "h":
        # In UTC: Python adds a timedelta to a zoned datetime in wall-clock terms, which
        # would make "24h" 23 or 25 real hours across a daylight-saving change.
        return anchor.astimezone(timezone.utc) + timedelta(hours=span.amount)
    wall = anchor.astimezone(zone).replace(tzinfo=None) + timedelta(days=span.amount)
    return wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def window_for(key: int, dosing_end: datetime, rule: WindowRule, zone: ZoneInfo) -> IntegrationWindow:
    opens, optimal_until, closes = _bounds(dosing_end, rule.opens_after, rule.optimal_until, rule.closes_after, zone)
    return IntegrationWindow(key=key, opens=opens, optimal_until=optimal_until, closes=closes)


def expected_end(planned_start: datetime, booked_minutes: int | None, monitoring_minutes: int) -> datetime:
    """When a planned dose is expected to have ended: its planned start plus the longer of its
    booking (the room and clinician held for it) and the protocol's monitoring minimum.

    The latest likely end, not the likeliest: dosing itself ends before discharge, so the real
    window opens no later than the provisional one and a session booked near the provisional
    opening stays inside it; one booked near the provisional close may fall outside the real
    window, and is flagged when the dose is signed."""
    return planned_start.astimezone(timezone.utc) + timedelta(minutes=max(booked_minutes or 0, monitoring_minutes))


def provisional_window_for(key: int, planned_start: datetime, booked_minutes: int | None, monitoring_minutes: int,
                           rule: WindowRule, zone: ZoneInfo) -> IntegrationWindow:
    """The provisional window of a planned dose: the protocol's window rule from its expected end."""
    end = expected_end(planned_start, booked_minutes, monitoring_minutes)
    return replace(window_for(key, end, rule, zone), provisional=True)


def booked_for(windows: list[IntegrationWindow], instant: datetime, *, prefer: int | None = None) -> int | None:
    """The planned dose (its provisional window's key) a session at `instant` depends on, if any.

    `prefer`: the window the session was booked from (a suggestion of that window), or, for a
    move, the dose it was booked for: kept while its window, provisional or real, holds the time.
    Otherwise none when a real window holds it (a signed dose's window never moves), else the
    earliest-closing provisional window holding it (the one the coverage rule serves first)."""
    holding = [w for w in windows if w.contains(instant)]
    if prefer is not None and any(w.key == prefer for w in holding):
        return prefer
    if any(not w.provisional for w in holding):
        return None
    provisional = sorted((w for w in holding if w.provisional), key=lambda w: (w.closes, w.opens, w.key))
    return provisional[0].key if provisional else None


#: window bounds kept per (dosing end, spans, zone): a list page recomputes the same hundreds of
#: windows on every request, and the zone arithmetic was most of the staff worklist's own time
BOUNDS_KEPT = 100_000


@lru_cache(maxsize=BOUNDS_KEPT)
def _bounds(dosing_end: datetime, opens_after: Span, optimal_until: Span, closes_after: Span,
            zone: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    # A pure function of the instant (shift reads it in UTC or in `zone`), so equal instants
    # written in different zones may share an entry.
    return shift(dosing_end, opens_after, zone), shift(dosing_end, optimal_until, zone), \
        shift(dosing_end, closes_after, zone)


def status_at(window: IntegrationWindow, now: datetime) -> WindowStatus:
    """Closing soon outranks optimal: the warning matters more than the praise."""
    if now < window.opens:
        return WindowStatus.NOT_YET_OPEN
    if now >= window.closes:
        return WindowStatus.CLOSED
    if window.closes - now < CLOSING_SOON:
        return WindowStatus.CLOSING_SOON
    if now < window.optimal_until:
        return WindowStatus.OPEN_OPTIMAL
    return WindowStatus.OPEN


def assign_sessions(windows: list[IntegrationWindow], sessions: list[T], *, per_window: int, shared: bool,
                    start: Callable[[T], datetime] = lambda s: s,
                    pin: Callable[[T], int | None] = lambda s: None) -> dict[int, list[T]]:
    """Which integration sessions count for which window; `start` reads a session's start time
    (the sessions are start times themselves by default), `pin` the window a session was booked
    for, if any (a booking made for a dose's provisional window keeps that dose's key).

    shared: one session inside several overlapping windows counts for each of them (the
    protocol allows it). Otherwise a session counts once:

    1. a session booked for a window counts for it while that window holds it (the clinic said
       which dose it integrates; a greedy rule must not hand it to an earlier overlapping window
       and leave its own one "Nothing booked"). Its window must be among `windows` for the pin
       to hold; a pinned session its window no longer holds (the dose moved, or its real window
       differs) is free like any other;
    2. the other sessions are shared out greedily: real windows before provisional ones (a dose
       only planned takes nothing a signed dose's window needs), each tier earliest-closing
       first, each window taking the earliest sessions still free inside it. With one session
       per window this covers as many windows as any assignment can (the exchange argument for
       interval point matching); with several per window it is a good greedy rule, not proven
       optimal (no shipped protocol asks for more than one).

    Windows keep the protocol's bounds even when the next dose is given before one closes: a
    session held after dose N+1 may still count for dose N's window. Cutting windows at the next
    dose would be a clinic setting of its own (a protocol field), not a change to this rule; the
    count of covered windows is the same either way, and the greedy rule leaves the later, still
    open window flagged, where a booking can still help.
    """
    ordered = sorted(sessions, key=start)
    if shared:
        return {w.key: [s for s in ordered if w.contains(start(s))] for w in windows}
    needed = max(per_window, 1)
    assigned, free = _pinned_first(windows, ordered, needed, start, pin)
    for window in sorted(windows, key=lambda w: (w.provisional, w.closes, w.opens, w.key)):
        for session in [s for s in free if window.contains(start(s))][:needed - len(assigned[window.key])]:
            assigned[window.key].append(session)
            free.remove(session)
    return {key: sorted(found, key=start) for key, found in assigned.items()}


def _pinned_first(windows: list[IntegrationWindow], ordered: list[T], needed: int, start: Callable[[T], datetime],
                  pin: Callable[[T], int | None]) -> tuple[dict[int, list[T]], list[T]]:
    """Each session booked for a window that holds it, in that window (up to `needed`); and the
    sessions left free, in time order."""
    by_key = {w.key: w for w in windows}
    assigned: dict[int, list[T]] = {w.key: [] for w in windows}
    free = []
    for session in ordered:
        window = by_key.get(pin(session))
        if window is not None and window.contains(start(session)) and len(assigned[window.key]) < needed:
            assigned[window.key].append(session)
        else:
            free.append(session)
    return assigned, free
