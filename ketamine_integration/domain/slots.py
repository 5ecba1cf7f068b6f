"""Free time and bookable slots: weekly working hours made concrete, minus what is busy.

Pure: the weekly pattern, the busy intervals and the window come in; UTC instants go out.
Working hours are clinic wall-clock times, so a 09:00-17:00 day stays 09:00-17:00 across a
daylight-saving change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class WeeklyBlock:
    weekday: int  # 0 = Monday
    starts: time
    ends: time


def working_intervals(blocks: list[WeeklyBlock], first_day: date, last_day: date, zone: ZoneInfo) -> list[Interval]:
    """The weekly blocks laid on real dates (inclusive), as UTC intervals."""
    intervals = []
    day = first_day
    while day <= last_day:
        for block in blocks:
            if block.weekday == day.weekday():
                start = datetime.combine(day, block.starts, zone).astimezone(timezone.utc)
                end = datetime.combine(day, block.ends, zone).astimezone(timezone.utc)
                if end > start:
                    intervals.append(Interval(start, end))
        day += timedelta(days=1)
    return sorted(intervals)


def merge(intervals: list[Interval]) -> list[Interval]:
    """The same time as a sorted list of disjoint intervals (overlapping or touching ones joined)."""
    merged: list[Interval] = []
    for piece in sorted(intervals, key=lambda i: (i.start, i.end)):
        if merged and piece.start <= merged[-1].end:
            if piece.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, piece.end)
        else:
            merged.append(piece)
    return merged


def subtract(free: list[Interval], busy: list[Interval]) -> list[Interval]:
    """`free` with every busy interval cut out."""
    result = []
    for piece in free:
        parts = [piece]
        for block in busy:
            parts = [p for part in parts for p in _cut(part, block)]
        result.extend(parts)
    return sorted(result)


def _cut(part: Interval, block: Interval) -> list[Interval]:
    if not part.overlaps(block):
        return [part]
    pieces = []
    if part.start < block.start:
        pieces.append(Interval(part.start, block.start))
    if block.end < part.end:
        pieces.append(Interval(block.end, part.end))
    return pieces


def slot_starts(free: list[Interval], length: timedelta, step: timedelta, within: Interval) -> list[datetime]:
    """Starts on a `step` grid (counted from the hour) where a `length` session fits entirely.

    A slot must start inside `within` (the window); it may run past the window's end, since
    what counts for a window is when the session starts.
    """
    starts = []
    for piece in free:
        first = max(piece.start, within.start)
        candidate = _align(first, step)
        while candidate + length <= piece.end and candidate < within.end:
            starts.append(candidate)
            candidate += step
    return sorted(set(starts))


def _align(instant: datetime, step: timedelta) -> datetime:
    hour = instant.replace(minute=0, second=0, microsecond=0)
    steps = -(-(instant - hour) // step)  # ceiling division
    return hour + steps * step


@dataclass(frozen=True)
class Suggestion:
    clinician_id: int
    starts_at: datetime
    optimal: bool
    own_therapist: bool

    def rank_key(self):
        """Inside the optimal span first, then the patient's own therapist, then earliest."""
        return (not self.optimal, not self.own_therapist, self.starts_at, self.clinician_id)


def rank(suggestions: list[Suggestion]) -> list[Suggestion]:
    return sorted(suggestions, key=Suggestion.rank_key)
