"""Who is busy when, in half-hour units of clinic days: places sessions without clashes.

The generator books tens of thousands of sessions; asking the database for conflicts each
time would take hours. This keeps every clinician's, patient's and room's day as a bit mask
instead, so each placement is a few integer operations and no two sessions of one person or
room ever overlap (the invariant the booking service enforces with row locks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: the clinic day the generator books into: 08:00-18:00 in half hours
DAY_START = time(8)
UNIT = timedelta(minutes=30)
UNITS_PER_DAY = 20


def units_for(minutes: int) -> int:
    return -(-minutes // 30)


@dataclass
class Timetable:
    zone: ZoneInfo
    #: (kind, id) -> {clinic date -> bit mask of busy half hours}
    busy: dict[tuple[str, int], dict[date, int]] = field(default_factory=dict)

    def at(self, day: date, unit: int) -> datetime:
        return datetime.combine(day, DAY_START, self.zone) + unit * UNIT

    def _mask(self, key: tuple[str, int], day: date) -> int:
        return self.busy.get(key, {}).get(day, 0)

    def free(self, keys, day: date, first: int, units: int) -> bool:
        want = ((1 << units) - 1) << first
        return all(not self._mask(k, day) & want for k in keys)

    def take(self, keys, day: date, first: int, units: int) -> None:
        want = ((1 << units) - 1) << first
        for key in keys:
            days = self.busy.setdefault(key, {})
            days[day] = days.get(day, 0) | want

    def place(self, day: date, units: int, people, rooms=(None,), *, earliest: int = 0,
              order=None) -> tuple[int, int | None] | None:
        """The first (unit, room) on `day` where everyone and one of `rooms` are free, taken."""
        starts = order if order is not None else range(earliest, UNITS_PER_DAY - units + 1)
        for first in starts:
            if first < earliest or first + units > UNITS_PER_DAY:
                continue
            if not self.free(people, day, first, units):
                continue
            for room in rooms:
                keys = list(people) + ([("room", room)] if room is not None else [])
                if self.free(keys, day, first, units):
                    self.take(keys, day, first, units)
                    return first, room
        return None
