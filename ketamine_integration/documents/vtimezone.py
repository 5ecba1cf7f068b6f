"""The clinic zone's VTIMEZONE in the conventional form every calendar app reads alike (RFC 5545 3.6.5).

icalendar's `Timezone.from_tzid` writes each observance as one DTSTART and a comma-separated RDATE
list of every later onset. Mozilla's ical.js and vobject keep only the first RDATE of such a list,
so a calendar app that used the embedded zone put sessions an hour off after the first year.
Here each run of onsets that repeats yearly on the same weekday rule (the US's "second Sunday of
March at 02:00") is one observance with a yearly RRULE, the form zone databases and Outlook write,
UNTIL its last onset unless the rule still holds at the end of the span. An onset that repeats
nothing (a zone changing its standard offset once) is an observance of its own. Each DTSTART is
the onset's wall-clock time read with TZOFFSETFROM, as RFC 5545 reads it (02:00 for the spring
change, not the 03:00 the clocks show after it). No COMMENT: RFC 5545 allows one only inside an
observance, and nothing here needs saying.

The onsets come from the zone itself (zoneinfo, the same tz database the app converts times with),
found by sampling the offset every few hours and bisecting to the second where it changes.
"""
from __future__ import annotations

import calendar as month_days
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

UTC = timezone.utc
#: how often the offset is sampled: no zone changes twice within six hours
_SAMPLE = timedelta(hours=6)
_NO_SAVING = timedelta(0)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Onset:
    """One change of the zone's offset, abbreviation or daylight flag."""

    #: the instant of the change (UTC)
    at: datetime
    offset_from: timedelta
    offset_to: timedelta
    #: the abbreviation in force after it (EST, EDT)
    name: str
    #: daylight-saving time after it (a DAYLIGHT observance), else STANDARD
    daylight: bool

    @property
    def wall_clock(self) -> datetime:
        """The onset as RFC 5545 writes an observance's DTSTART: local time read with TZOFFSETFROM."""
        return (self.at + self.offset_from).replace(tzinfo=None)

    @property
    def kind(self) -> tuple:
        return self.offset_from, self.offset_to, self.name, self.daylight


@dataclass(frozen=True)
class Observance:
    """An onset and, when it repeats yearly, the rule that repeats it."""

    first: Onset
    #: the RRULE's BYDAY (2SU, -1SU) and BYMONTH; None: the onset alone
    byday: str | None = None
    bymonth: int | None = None
    #: the last onset the rule gives (UTC); None: the rule still holds at the end of the span
    until: datetime | None = None


def _state(zone: ZoneInfo, instant: datetime) -> tuple:
    local = instant.astimezone(zone)
    return local.utcoffset(), local.tzname(), local.dst()


def onsets(zone: ZoneInfo, start: datetime, end: datetime) -> list[Onset]:
    """Every change of `zone` in [start, end), both aware instants, in order."""
    found, here, state = [], start, _state(zone, start)
    while here < end:
        there = min(here + _SAMPLE, end)
        if (next_state := _state(zone, there)) != state:
            low, high = int(here.timestamp()), int(there.timestamp())
            while high - low > 1:  # the change is between low (old state) and high (new state)
                middle = (low + high) // 2
                if _state(zone, datetime.fromtimestamp(middle, UTC)) == state:
                    low = middle
                else:
                    high = middle
            found.append(Onset(at=datetime.fromtimestamp(high, UTC), offset_from=state[0], offset_to=next_state[0],
                               name=next_state[1] or "", daylight=bool(next_state[2] and next_state[2] > _NO_SAVING)))
            state = next_state
        here = there
    return _daylight_by_offset(found)


def _daylight_by_offset(found: list[Onset]) -> list[Onset]:
    """DAYLIGHT is the larger UTC offset of a year whose clocks go both forward and back, whatever
    the sign of the tz database's `dst()`: Europe/Dublin's rules make winter GMT a "negative daylight
    saving" (dst() -1 h), which wrote winter as DAYLIGHT and summer IST as STANDARD. A year with
    changes one way only (a zone moving its clocks for good, Pyongyang's +08:30 to +09:00) keeps
    the sign of `dst()`."""
    by_year: dict[int, list[Onset]] = {}
    for onset in found:
        by_year.setdefault(onset.at.year, []).append(onset)
    labelled = []
    for onset in found:
        year = by_year[onset.at.year]
        both_ways = {o.offset_to > o.offset_from for o in year if o.offset_to != o.offset_from} == {True, False}
        daylight = onset.offset_to == max(o.offset_to for o in year) if both_ways else onset.daylight
        labelled.append(replace(onset, daylight=daylight))
    return labelled


def _weekday_rules(onset: Onset) -> set[str]:
    """The BYDAY values that name this onset's day in its month: its ordinal, and -1 in the last week."""
    day = onset.wall_clock
    weekday = _WEEKDAYS[day.weekday()]
    rules = {f"{(day.day - 1) // 7 + 1}{weekday}"}
    if day.day + 7 > month_days.monthrange(day.year, day.month)[1]:
        rules.add(f"-1{weekday}")
    return rules


def _follows(previous: Onset, onset: Onset) -> bool:
    """Whether `onset` is `previous` a year on: same kind, month and time of day."""
    before, after = previous.wall_clock, onset.wall_clock
    return (onset.kind == previous.kind and after.year == before.year + 1 and after.month == before.month
            and after.time() == before.time())


def _preferred(rules: set[str]) -> str:
    """Of the rules that fit every onset of a run, the conventional one: "last Sunday" over the
    fourth or fifth (Europe's rule), else the ordinal (the US's second Sunday of March)."""
    last = [rule for rule in rules if rule.startswith("-1")]
    return last[0] if last else min(rules)


def _until(last: Onset) -> datetime:
    """An ended rule's UNTIL (UTC, as RFC 5545 requires in a VTIMEZONE): its last onset, or, east of UTC,
    that onset's wall-clock figures read as UTC, a few hours later. vobject and icalendar compare UNTIL
    with the onsets' wall-clock times, so the exact instant (wall-clock 02:00 at +03:00 is 23:00 UTC the
    day before) lost the last onset: Gaza's autumn 2026 change read five months late. The next onset
    of the rule would be a year on, so no reader finds one more."""
    return max(last.at, last.wall_clock.replace(tzinfo=UTC))


def observances(changes: list[Onset], *, last_year: int) -> list[Observance]:
    """The onsets grouped into yearly rules: a run of one kind on the same weekday rule in
    consecutive years is one observance; a run still going in `last_year` is left open."""
    runs: dict[tuple, list[tuple[list[Onset], set[str]]]] = {}
    for onset in changes:
        kind_runs = runs.setdefault(onset.kind, [])
        rules = _weekday_rules(onset)
        if kind_runs and _follows(kind_runs[-1][0][-1], onset) and kind_runs[-1][1] & rules:
            kind_runs[-1][0].append(onset)
            kind_runs[-1] = (kind_runs[-1][0], kind_runs[-1][1] & rules)
        else:
            kind_runs.append(([onset], rules))
    written = []
    for run, rules in (item for kind_runs in runs.values() for item in kind_runs):
        if len(run) == 1:
            written.append(Observance(first=run[0]))
            continue
        open_ended = run[-1].wall_clock.year >= last_year
        written.append(Observance(first=run[0], byday=_preferred(rules), bymonth=run[0].wall_clock.month,
                                  until=None if open_ended else _until(run[-1])))
    return sorted(written, key=lambda o: o.first.at)


def _component(observance: Observance):
    onset = observance.first
    part = TimezoneDaylight() if onset.daylight else TimezoneStandard()
    part.add("dtstart", onset.wall_clock)
    if observance.byday:
        rule = {"freq": "yearly", "bymonth": observance.bymonth, "byday": observance.byday}
        if observance.until is not None:
            rule["until"] = observance.until
        part.add("rrule", rule)
    part.add("tzoffsetfrom", onset.offset_from)
    part.add("tzoffsetto", onset.offset_to)
    if onset.name:
        part.add("tzname", onset.name)
    return part


def vtimezone(zone_key: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of `zone_key` for events from `first_year` to `last_year` (whole years):
    every onset from the start of `first_year` to the end of `last_year`, or, for a zone that
    does not change in that span, one STANDARD observance from 1970 (the conventional start)."""
    zone = ZoneInfo(zone_key)
    start = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    changes = onsets(zone, start, end)
    component = Timezone()
    component.add("tzid", zone_key)
    # the zone's name where Mozilla's clients (ical.js) look for it to match their own database
    component.add("x-lic-location", zone_key)
    if not changes:
        offset, name, _ = _state(zone, start)
        changes = [Onset(at=datetime(1970, 1, 1, tzinfo=UTC) - offset, offset_from=offset, offset_to=offset,
                         name=name or "", daylight=False)]
    for observance in observances(changes, last_year=last_year):
        component.add_component(_component(observance))
    return component


@lru_cache(maxsize=32)
def vtimezone_bytes(zone_key: str, first_year: int, last_year: int) -> bytes:
    """vtimezone() as written into a calendar (kept: a feed writes the same one on every poll)."""
    return vtimezone(zone_key, first_year, last_year).to_ical()


def span_years(first: date, last: date, margin_years: int = 1) -> tuple[int, int]:
    """The whole years a VTIMEZONE covers for events from `first` to `last`, with a year's margin
    either side (a calendar app may show a recurring reminder or an edited copy near the edges)."""
    return first.year - margin_years, last.year + margin_years
