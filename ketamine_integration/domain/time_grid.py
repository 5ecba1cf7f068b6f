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
#: sessions side by side in one column at most (a column alone on the grid)
MAX_LANES = 8
#: lanes the grid's width holds across all its columns with each still readable (about 4.5rem each in
#: a grid of about 65rem): the week's seven columns hold two each, a day view of three columns four.
#: Beyond a column's share, overlapping items are folded into one "+k more" (place_all)
LANES_ACROSS = 14
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


def readable_lanes(columns: int) -> int:
    """How many lanes side by side a column of a grid of `columns` columns keeps readable."""
    return max(2, min(MAX_LANES, LANES_ACROSS // max(columns, 1)))


def _first_free_lanes(ranges: list[tuple[int, int]]) -> tuple[list[int], int]:
    """Each range's lane, the first free at its start (earliest first, longest first at the same
    start), and how many lanes that takes."""
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
        lane_of[i] = free
    return lane_of, max(len(lane_ends), 1)


def lanes(ranges: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """Side by side where they overlap: each range's (lane, width) and the column's lane count.

    Each range takes the first lane free at its start (earliest first, longest first at the same
    start), then widens into the lanes to its right that nothing overlapping it holds, so a session
    that overlaps nothing takes the whole column. Past MAX_LANES the last lane is shared (place_all
    folds them into a "+k more" instead)."""
    lane_of, count = _first_free_lanes(ranges)
    lane_of, count = [min(lane, MAX_LANES - 1) for lane in lane_of], min(count, MAX_LANES)
    return [(lane_of[i], _width(i, ranges, lane_of, count)) for i in range(len(ranges))], count


def _width(i: int, ranges: list[tuple[int, int]], lane_of: list[int], count: int) -> int:
    start, end = ranges[i]
    taken = {lane_of[j] for j, (s, e) in enumerate(ranges) if j != i and s < end and start < e}
    width = 1
    while lane_of[i] + width < count and lane_of[i] + width not in taken:
        width += 1
    return width


@dataclass(frozen=True)
class Overflow:
    """Items of a column that do not fit side by side, drawn as one "+k more" in its last lane over
    the time they take."""

    place: Placement
    #: the indexes (into the ranges placed) of the items it stands for, in time order
    hidden: tuple[int, ...]
    #: wall-clock minutes of the day it spans
    start: int
    end: int


def _clusters(ranges: list[tuple[int, int]]) -> list[list[int]]:
    """The ranges in groups that overlap one another, one after another (touching is no overlap)."""
    groups: list[list[int]] = []
    reach = None
    for i in sorted(range(len(ranges)), key=lambda i: (ranges[i][0], -ranges[i][1])):
        start, end = ranges[i]
        if reach is None or start >= reach:
            groups.append([])
            reach = end
        groups[-1].append(i)
        reach = max(reach, end)
    return groups


def _folds(ranges: list[tuple[int, int]], lane_of: list[int], max_lanes: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """(start, end, the indexes folded) of each group of overlapping ranges that takes more than
    `max_lanes` lanes: its ranges from the last lane on, spanning their time."""
    found = []
    for group in _clusters(ranges):
        if max(lane_of[i] for i in group) >= max_lanes:
            folded = tuple(sorted((i for i in group if lane_of[i] >= max_lanes - 1), key=lambda i: ranges[i]))
            found.append((min(ranges[i][0] for i in folded), max(ranges[i][1] for i in folded), folded))
    return found


def place_all(ranges: list[tuple[int, int]], span: HourSpan,
              max_lanes: int = MAX_LANES) -> tuple[list[Placement | None], list[Overflow], int]:
    """Every item of a column placed: its rows and lanes (None: folded away), the "+k more" that
    stand for the folded ones, and the column's lane count.

    Where more than `max_lanes` items overlap (readable_lanes: a week's column holds two), the
    items of that group of overlapping ones past the first `max_lanes - 1` lanes are folded into one
    Overflow in the last lane, spanning their time; elsewhere the column keeps every lane it may."""
    lane_of, count = _first_free_lanes(ranges)
    overflows = _folds(ranges, lane_of, max_lanes) if count > max_lanes else []
    count = min(count, max_lanes)
    hidden = {i for _start, _end, folded in overflows for i in folded}
    shown = [i for i in range(len(ranges)) if i not in hidden]
    drawn = [ranges[i] for i in shown] + [(start, end) for start, end, _ in overflows]
    drawn_lanes = [lane_of[i] for i in shown] + [max_lanes - 1] * len(overflows)
    places: list[Placement | None] = [None] * len(ranges)
    for n, i in enumerate(shown):
        places[i] = Placement(*rows_of(*ranges[i], span), lane_of[i], _width(n, drawn, drawn_lanes, count))
    folds = [Overflow(Placement(*rows_of(start, end, span), max_lanes - 1,
                                _width(len(shown) + n, drawn, drawn_lanes, count)), folded, start, end)
             for n, (start, end, folded) in enumerate(overflows)]
    return places, folds, count


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
               not_before: datetime, length: int | None = None) -> list[tuple[int, int, datetime, datetime]]:
    """The times of `day` a session of `length` minutes (default: `step`) may start, every `step`
    minutes on the wall clock from the span's first hour, at or after `not_before`, the whole
    session lying inside a free interval: (start minute, the start minute + step: the cell it is
    drawn in, start, end: the session's real end). A start the clocks skip is none; across the hour
    that repeats, a cell is its real time."""
    length = timedelta(minutes=length or step)
    found = []
    for minute in range(span.first_minute, span.last_minute - step + 1, step):
        start, cell_end = local_instant(day, minute, zone), local_instant(day, minute + step, zone)
        if start is None or cell_end is None or cell_end <= start or start < not_before:
            continue
        end = start + length
        if any(piece.start <= start and end <= piece.end for piece in free):
            found.append((minute, minute + step, start, end))
    return found
