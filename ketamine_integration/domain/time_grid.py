"""The time grid's geometry: where a session, a free slot and the now-line sit in a column.

Pure: instants, the clinic's zone and the clock come in; rows and lanes go out. The grid is drawn
in the clinic's wall-clock time, so 10:00 sits on the same row every day, a 23-hour or 25-hour day
(daylight saving) included: a session is placed by its wall-clock start and end, and its text says
its times. A row is ROW_MINUTES long; the hours shown come from the clinic's own hours and
sessions (hour_span), never a fixed day.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .slots import Interval

#: minutes one grid row stands for: a session is drawn to the nearest row (its text says its times)
ROW_MINUTES = 5
#: sessions side by side in one column at most; more overlapping ones share the last lane
MAX_LANES = 8
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class HourSpan:
    """The wall-clock hours a grid shows, as minutes after midnight (whole hours)."""

    first_minute: int
    last_minute: int

    @property
    def rows(self) -> int:
        return (self.last_minute - self.first_minute) // ROW_MINUTES

    @property
    def hours(self) -> int:
        return (self.last_minute - self.first_minute) // 60

    def hour_marks(self) -> list[tuple[str, int]]:
        """("09:00", the row it starts) for every hour shown."""
        return [(f"{m // 60:02d}:00", self.row(m)) for m in range(self.first_minute, self.last_minute, 60)]

    def row(self, minute: int) -> int:
        """The grid row (from 1) a wall-clock minute falls in, kept inside the span."""
        minute = min(max(minute, self.first_minute), self.last_minute - 1)
        return (minute - self.first_minute) // ROW_MINUTES + 1


def wall_minute(instant: datetime, day: date, zone: ZoneInfo) -> int:
    """Minutes after the clinic's midnight of `day` on its wall clock: 0 for an instant before
    that day, 1440 for one after it (a session running past midnight is cut at the day's edge)."""
    local = instant.astimezone(zone)
    if local.date() < day:
        return 0
    if local.date() > day:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def hour_span(ranges: Iterable[tuple[int, int]], fallback: tuple[int, int]) -> HourSpan:
    """The whole hours covering every (start, end) wall-clock minute range given: the clinic's
    working hours and the sessions shown. `fallback` (hours) only when there is nothing at all."""
    ranges = [(s, e) for s, e in ranges if e > s]
    if not ranges:
        return HourSpan(fallback[0] * 60, fallback[1] * 60)
    first = min(s for s, _ in ranges) // 60 * 60
    last = -(-max(e for _, e in ranges) // 60) * 60
    return HourSpan(max(first, 0), min(max(last, first + 60), DAY_MINUTES))


@dataclass(frozen=True)
class Placement:
    """Where an item sits in its column: grid rows (from 1) and lanes (from 0) of `lanes`."""

    row: int
    rows: int
    lane: int
    width: int


def rows_of(start: int, end: int, span: HourSpan) -> tuple[int, int]:
    """(first row, number of rows) of a wall-clock minute range, cut to the span; at least one."""
    start = min(max(start, span.first_minute), span.last_minute - ROW_MINUTES)
    end = min(max(end, start + 1), span.last_minute)
    first = (start - span.first_minute) // ROW_MINUTES + 1
    after = -(-(end - span.first_minute) // ROW_MINUTES) + 1
    return first, max(after - first, 1)


def lanes(ranges: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """Side by side where they overlap: each range's (lane, width) and the column's lane count.

    Each range takes the first lane free at its start (earliest first, longest first at the same
    start), then widens into the lanes to its right that nothing overlapping it holds, so a session
    that overlaps nothing takes the whole column. Past MAX_LANES the last lane is shared."""
    order = sorted(range(len(ranges)), key=lambda i: (ranges[i][0], -ranges[i][1]))
    lane_ends: list[int] = []
    lane_of = [0] * len(ranges)
    for i in order:
        start, end = ranges[i]
        free = next((n for n, until in enumerate(lane_ends) if until <= start), None)
        if free is None:
            free = len(lane_ends)
            lane_ends.append(end)
        lane_ends[free] = end
        lane_of[i] = min(free, MAX_LANES - 1)
    count = min(max(len(lane_ends), 1), MAX_LANES)
    return [(lane_of[i], _width(i, ranges, lane_of, count)) for i in range(len(ranges))], count


def _width(i: int, ranges: list[tuple[int, int]], lane_of: list[int], count: int) -> int:
    start, end = ranges[i]
    taken = {lane_of[j] for j, (s, e) in enumerate(ranges) if j != i and s < end and start < e}
    width = 1
    while lane_of[i] + width < count and lane_of[i] + width not in taken:
        width += 1
    return width


def place_all(ranges: list[tuple[int, int]], span: HourSpan) -> tuple[list[Placement], int]:
    """Every item of a column placed: its rows and lanes; and the column's lane count."""
    sides, count = lanes(ranges)
    return [Placement(*rows_of(s, e, span), lane, width) for (s, e), (lane, width) in zip(ranges, sides)], count


def now_row(now: datetime, day: date, zone: ZoneInfo, span: HourSpan) -> int | None:
    """The row the now-line is drawn on in `day`'s column: None on any other day or outside the hours."""
    if now.astimezone(zone).date() != day:
        return None
    minute = wall_minute(now, day, zone)
    if not span.first_minute <= minute < span.last_minute:
        return None
    return span.row(minute)


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall-clock minute of `day` (1440: the next midnight); None for a time
    the clocks skip (spring forward). A repeated time (fall back) is its first occurrence."""
    if minute >= DAY_MINUTES:
        day, minute = day + timedelta(days=minute // DAY_MINUTES), minute % DAY_MINUTES
    wall = time(minute // 60, minute % 60)
    local = datetime.combine(day, wall, zone)
    instant = local.astimezone(timezone.utc)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def free_cells(free: list[Interval], day: date, zone: ZoneInfo, span: HourSpan, step: int,
               not_before: datetime) -> list[tuple[int, int, datetime, datetime]]:
    """The `step`-minute cells of `day` (on the wall clock, from the span's first hour) lying wholly
    inside a free interval and starting at or after `not_before`: (start minute, end minute, start,
    end). A cell the clocks skip is none; across the hour that repeats, a cell is its real time."""
    found = []
    for minute in range(span.first_minute, span.last_minute - step + 1, step):
        start, end = local_instant(day, minute, zone), local_instant(day, minute + step, zone)
        if start is None or end is None or end <= start or start < not_before:
            continue
        if any(piece.start <= start and end <= piece.end for piece in free):
            found.append((minute, minute + step, start, end))
    return found
