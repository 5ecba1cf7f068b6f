"""Integration sessions after the series (a protocol's `integration.after_series`): when each is due,
the clinic days it counts in, its status, which integration sessions count for it (whether they cover
it: domain/coverage.py, the one rule) and when the staff worklist flags it.

The anchor is the end of the series' last signed dose: the instant its integration window is
counted from, so "3 after the series, every 14 days" continues the same timeline. It is read as a
clinic date, and session k is due `k x every_days` days after it. Sessions after the series are
planned by the day, not by the hour after a dose, so each one's period is whole clinic days: half
the spacing either side of its due date, so that one period ends where the next begins (no gap,
no overlap). The week around the due date (three days either side, inside the period) is its
optimal span: suggestions offer the days nearest the due date first.

After the series the patient's therapy continues: an integration session or a follow-up held (or
booked) in a session's period counts for it (KINDS), where a dose's window counts integration
sessions alone. A session that counts for a dosing session's window (the sessions that window's
coverage rests on) does not count again after the series: those sessions are asked for in addition.
Pure: the anchor, the sessions and the time of asking come in as arguments.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .coverage import ATTENDED, IntegrationSession, WindowCoverage, cover
from .protocols import AfterSeries
from .windows import CLOSING_SOON, WindowStatus, day_start

#: the optimal span: this many days either side of the due date (inside the period)
OPTIMAL_DAYS = 3
#: an unbooked session is flagged on the staff worklist from this long before its period opens
NEAR = timedelta(days=7)
#: the kinds of appointment that count for a session after the series (bookings.models.KINDS' keys):
#: a follow-up booked in its period is the session it asks for (a new-user review found the worklist
#: saying "nothing booked" beside the follow-up booked for it)
KINDS = ("integration", "follow_up")


@dataclass(frozen=True)
class AfterSeriesSession:
    """Session `number` after the series: due on a clinic day, counted in [opens, closes) (UTC,
    midnight to midnight in the clinic's zone), optimal in [optimal_from, optimal_until)."""

    number: int
    due: date
    first_day: date
    last_day: date
    opens: datetime
    optimal_from: datetime
    optimal_until: datetime
    closes: datetime

    @property
    def key(self) -> int:
        return self.number

    @property
    def provisional(self) -> bool:
        """Its series has ended: a session held in its period covers it (domain.coverage)."""
        return False

    def contains(self, instant: datetime) -> bool:
        return self.opens <= instant < self.closes

    def optimal(self, instant: datetime) -> bool:
        return self.optimal_from <= instant < self.optimal_until


def schedule(anchor: datetime, rule: AfterSeries, zone: ZoneInfo) -> list[AfterSeriesSession]:
    """The sessions after a series whose last dose ended at `anchor` (aware), by the protocol's rule."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    last_dose_day = anchor.astimezone(zone).date()
    before, after = rule.every_days // 2, (rule.every_days + 1) // 2
    sessions = []
    for number in range(1, rule.sessions + 1):
        due = last_dose_day + timedelta(days=number * rule.every_days)
        first, end = due - timedelta(days=before), due + timedelta(days=after)  # end: the day after the last
        best_from = max(first, due - timedelta(days=OPTIMAL_DAYS))
        best_end = min(end, due + timedelta(days=OPTIMAL_DAYS + 1))
        sessions.append(AfterSeriesSession(
            number=number, due=due, first_day=first, last_day=end - timedelta(days=1),
            opens=day_start(first, zone), optimal_from=day_start(best_from, zone),
            optimal_until=day_start(best_end, zone), closes=day_start(end, zone)))
    return sessions


def status_at(session: AfterSeriesSession, now: datetime) -> WindowStatus:
    """As a window's status: closing soon outranks optimal (the warning matters more)."""
    if now < session.opens:
        return WindowStatus.NOT_YET_OPEN
    if now >= session.closes:
        return WindowStatus.CLOSED
    if session.closes - now < CLOSING_SOON:
        return WindowStatus.CLOSING_SOON
    return WindowStatus.OPEN_OPTIMAL if session.optimal(now) else WindowStatus.OPEN


def counted_for_windows(assigned: Iterable[tuple[IntegrationSession, ...]],
                        per_window: int) -> list[IntegrationSession]:
    """The sessions the dosing windows' coverage rests on: for each window's assigned sessions (in
    time order), as many as the protocol asks per window, held ones first. A window that shares
    sessions (one_session_covers_overlapping_windows) is assigned every session inside it, yet
    rests only on these: the others are free to count after the series."""
    taken = []
    for sessions in assigned:
        held = [s for s in sessions if s.outcome == ATTENDED]
        taken += (held + [s for s in sessions if s.outcome != ATTENDED])[:max(per_window, 1)]
    return taken


def cover_after_series(sessions: list[AfterSeriesSession], integration: list[IntegrationSession],
                       taken: list[IntegrationSession], now: datetime) -> dict[int, WindowCoverage]:
    """Each session's coverage at `now` (by number), from the course's sessions of KINDS but those
    `taken` by dosing windows: one session each, none counted twice."""
    free = [s for s in integration if s.kind in KINDS]
    for session in taken:
        if session in free:  # a window shared by several doses names its session once per window
            free.remove(session)
    return cover(sessions, free, per_window=1, shared=False, now=now)


def flagged(session: AfterSeriesSession, coverage: WindowCoverage, now: datetime) -> bool:
    """For the staff worklist: nothing held or booked would cover it, and its period is open or
    opens within NEAR."""
    return coverage.needs_booking and session.opens - NEAR <= now < session.closes


def horizon(rule: AfterSeries) -> timedelta:
    """How long after the series' last dose its last session's period may still be open (a day more
    for the clock and for the date the anchor falls on): older series have nothing left to flag."""
    return timedelta(days=rule.sessions * rule.every_days + (rule.every_days + 1) // 2 + 2)
