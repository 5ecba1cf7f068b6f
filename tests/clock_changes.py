"""The clinic's next clock change, for tests whose subject is a day when New York's clocks go
forward or back: found from today, so the dates they write stay inside the app's windows (a feed's
past 60 days, a measure's year before registration) whenever the suite runs."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def next_clock_change(forward: bool) -> datetime:
    """The local midnight (New York) starting the next day, after today, on which the clocks go
    forward (spring) or back (autumn)."""
    day = datetime.now(NY).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    for _ in range(400):
        day += timedelta(days=1)
        before, after = day.replace(tzinfo=NY).utcoffset(), (day + timedelta(hours=23)).replace(tzinfo=NY).utcoffset()
        if before != after and (after > before) == forward:
            return day.replace(tzinfo=NY)
    raise AssertionError("no clock change within 400 days")
