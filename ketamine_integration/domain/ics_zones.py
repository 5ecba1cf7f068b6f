"""The time zones an uploaded calendar's TZIDs name, resolved for that file alone and at a bounded cost.

icalendar would turn each VTIMEZONE into a zone that materialises every onset of its observance
rules (a rule repeating every minute from 1900 took minutes and 1.28 GB) and keep it process-wide
under its TZID, so one upload's definition of "Custom Zone" became every later upload's. Here the
structural pass (ics_structure) takes the VTIMEZONEs out of the text and replaces each TZID parameter
by an index, icalendar never sees either, and each TZID is resolved here: an IANA name by zoneinfo,
a zone the file defines from its own observances (yearly rules in one month, a few dates, or a fixed
offset; the onsets of a year are computed when that year is asked for, against the file's Budget),
a Windows name by icalendar's Windows-to-IANA table, anything else in the clinic's zone.
"""
from __future__ import annotations

import zoneinfo
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache

from dateutil.rrule import YEARLY, rrule
from dateutil.rrule import weekdays as DATEUTIL_WEEKDAYS
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .recurrence import WEEKDAYS, Budget

#: observances (STANDARD, DAYLIGHT) one zone may define: a real one has two, a historical one a few more
MAX_OBSERVANCES = 10
#: onsets listed as dates (DTSTART of a rule-less observance, RDATEs) in one zone
MAX_ZONE_DATES = 200
#: the largest UTC offset in use anywhere is +14:00 (Kiribati); more is not a clock
MAX_OFFSET = timedelta(hours=14)
#: rule parts an observance's RRULE may have: what yearly "the second Sunday of March" needs
ZONE_RULE_PARTS = {"FREQ", "INTERVAL", "BYMONTH", "BYDAY", "BYMONTHDAY", "UNTIL", "WKST"}


class ZoneRefused(Exception):
    """A time zone definition that is not read; the message names the TZID and the limit."""


def short(tzid: str) -> str:
    """A TZID as messages quote it: the file's own text, so kept short."""
    return tzid if len(tzid) <= 40 else tzid[:40] + "…"


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    # A membership test: no file-system lookup ever runs on a name taken from an upload.
    return frozenset(zoneinfo.available_timezones())


def known_zone(tzid: str) -> tzinfo | None:
    """The IANA zone `tzid` names, directly, as a Windows name, or as a "globally unique" TZID
    (/vendor/Area/City, RFC 5545 3.2.19); None for any other name."""
    cleaned = tzid.strip().strip("/")
    parts = cleaned.split("/")
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned, "")]
    if tzid.strip().startswith("/"):
        candidates += ["/".join(parts[n:]) for n in range(1, len(parts))]
    for name in candidates:
        if name in _iana_names():
            return zoneinfo.ZoneInfo(name)
    return None


def resolve(tzids: list[str], definitions: dict[str, list[dict]], fallback: tzinfo,
            budget: Budget) -> list[tzinfo]:
    """One zone per TZID the file uses (in its index order): a known IANA name first, then the
    file's own definition, then a Windows name, else `fallback` (the clinic's zone). ZoneRefused."""
    zones = []
    for tzid in tzids:
        cleaned = tzid.strip().strip("/")
        if cleaned in _iana_names():
            zones.append(zoneinfo.ZoneInfo(cleaned))
        elif tzid in definitions:
            zones.append(FileZone(tzid, [_observance(tzid, props) for props in definitions[tzid]], budget))
        else:
            zones.append(known_zone(tzid) or fallback)
    return zones


@dataclass(frozen=True)
class Observance:
    start: datetime              #: the first onset, wall-clock time before it
    offset_from: timedelta
    offset_to: timedelta
    rule: dict | None            #: dateutil keywords of a yearly rule within one month
    until: datetime | None       #: wall-clock time
    dates: tuple[datetime, ...]  #: onsets given as dates (DTSTART without a rule, RDATEs), sorted


def _observance(tzid: str, props: dict) -> Observance:
    """An observance from its properties (name -> list of raw values), or ZoneRefused."""
    def refuse(problem: str):
        raise ZoneRefused(f'defines the time zone "{short(tzid)}" with {problem}.')
    try:
        start = _wall(props["DTSTART"][0])
        offset_from, offset_to = _offset(props["TZOFFSETFROM"][0]), _offset(props["TZOFFSETTO"][0])
        dates = sorted(_wall(v) for values in props.get("RDATE", ()) for v in values.split(","))
    except (KeyError, IndexError, ValueError):
        refuse("an observance lacking a valid DTSTART, TZOFFSETFROM or TZOFFSETTO")
    if max(abs(offset_from), abs(offset_to)) > MAX_OFFSET:
        refuse("a UTC offset beyond ±14:00 (the limit)")
    rules = props.get("RRULE", ())
    if len(rules) > 1:
        refuse("an observance having more than one RRULE")
    rule, until = _zone_rule(rules[0], start, offset_from, refuse) if rules else (None, None)
    if rule is None:
        dates.append(start)
    if len(dates) > MAX_ZONE_DATES:
        refuse(f"more than {MAX_ZONE_DATES} onsets listed as dates (the limit)")
    return Observance(start, offset_from, offset_to, rule, until, tuple(sorted(dates)))


def _zone_rule(text: str, start: datetime, offset_from: timedelta, refuse) -> tuple[dict, datetime | None]:
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";") if part)
    if parts.get("FREQ") != "YEARLY" or parts.get("INTERVAL", "1") != "1" or set(parts) - ZONE_RULE_PARTS:
        refuse("an observance rule other than yearly within one month (the limit)")
    try:
        months = _listed(parts, "BYMONTH", int, [start.month])
        monthdays = _listed(parts, "BYMONTHDAY", int, [])
        weekdays = _listed(parts, "BYDAY", _weekday, [])
        until = _until(parts["UNTIL"], offset_from) if "UNTIL" in parts else None
    except (ValueError, IndexError):
        refuse("an observance rule that is not valid")
    if not _within_one_month(months, monthdays):
        refuse("an observance rule other than yearly within one month (the limit)")
    rule = {"bymonth": months, "bymonthday": monthdays or (None if weekdays else [start.day]),
            "byweekday": weekdays or None, "byhour": start.hour, "byminute": start.minute,
            "bysecond": start.second}
    return rule, until


def _within_one_month(months: list[int], monthdays: list[int]) -> bool:
    return len(months) == 1 and 1 <= months[0] <= 12 and all(1 <= abs(d) <= 31 for d in monthdays)


def _listed(parts: dict[str, str], key: str, parse, default: list) -> list:
    """A rule part's comma-separated values, parsed; `default` when the rule lacks the part."""
    return [parse(value) for value in parts[key].split(",")] if key in parts else default


def _weekday(text: str):
    day, number = text.strip()[-2:], text.strip()[:-2]
    if day not in WEEKDAYS or (number and not (number.lstrip("+-").isdigit() and 1 <= abs(int(number)) <= 5)):
        raise ValueError(text)
    weekday = DATEUTIL_WEEKDAYS[WEEKDAYS.index(day)]
    return weekday(int(number)) if number else weekday


def _wall(text: str) -> datetime:
    """A local date-time as VTIMEZONE writes it (19671029T020000), or a date (its midnight)."""
    text = text.strip().rstrip("Z")
    return datetime.strptime(text, "%Y%m%dT%H%M%S" if "T" in text else "%Y%m%d")


def _until(text: str, offset_from: timedelta) -> datetime:
    value = _wall(text)
    # an UNTIL in UTC (RFC 5545 requires it here) becomes wall-clock time before the onset
    return value + offset_from if text.strip().endswith("Z") else value


def _offset(text: str) -> timedelta:
    text = text.strip()
    if len(text) not in (5, 7) or text[0] not in "+-" or not text[1:].isdigit():
        raise ValueError(text)
    hours, minutes, seconds = int(text[1:3]), int(text[3:5]), int(text[5:7] or 0)
    if minutes > 59 or seconds > 59:
        raise ValueError(text)
    value = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return -value if text[0] == "-" else value


class FileZone(tzinfo):
    """A zone one uploaded file defines. Onsets of a year are computed when that year is first
    asked for (a rule within one month has at most 31), each year spending the file's Budget."""

    def __init__(self, tzid: str, observances: list[Observance], budget: Budget):
        if not observances:
            raise ZoneRefused(f'defines the time zone "{short(tzid)}" with no observances.')
        if len(observances) > MAX_OBSERVANCES:
            raise ZoneRefused(f'defines the time zone "{short(tzid)}" with more than {MAX_OBSERVANCES} '
                              "observances (the limit).")
        if sum(len(o.dates) for o in observances) > MAX_ZONE_DATES:
            raise ZoneRefused(f'defines the time zone "{short(tzid)}" with more than {MAX_ZONE_DATES} onsets '
                              "listed as dates (the limit).")
        self._name, self._observances, self._budget = tzid, observances, budget
        self._years: dict[int, list[tuple[datetime, timedelta]]] = {}
        #: onsets given as dates, of every observance, sorted
        self._dates = sorted((d, o.offset_to) for o in observances for d in o.dates)
        first = min(observances, key=lambda o: o.start)
        self._before_first = first.offset_from
        self._offsets = sorted({o.offset_to for o in observances} | {first.offset_from})
        #: the years in which a rule ends: the last onset before a later time may lie there
        self._rule_ends = sorted({o.until.year for o in observances if o.rule and o.until}, reverse=True)

    def _onsets_in(self, year: int) -> list[tuple[datetime, timedelta]]:
        """(onset, offset from then) of every rule in `year`, sorted; computed once a year."""
        if year not in self._years:
            self._budget.spend()
            onsets = []
            for o in self._observances:
                if o.rule is None or not 1 <= year <= 9999 or year < o.start.year \
                        or (o.until and year > o.until.year):
                    continue
                onsets += [(when, o.offset_to) for when in rrule(
                    YEARLY, dtstart=datetime(year, 1, 1), until=datetime(year, 12, 31, 23, 59, 59),
                    cache=False, **o.rule) if o.start <= when and (o.until is None or when <= o.until)]
            self._years[year] = sorted(onsets)
        return self._years[year]

    def _offset_at(self, wall: datetime) -> timedelta:
        """The offset from the latest onset at or before `wall` (wall-clock time)."""
        self._budget.check_time()
        found = None
        n = bisect_right(self._dates, (wall, timedelta.max))
        if n:
            found = self._dates[n - 1]
        for year in (wall.year, wall.year - 1, *(y for y in self._rule_ends if y < wall.year - 1)):
            onsets = self._onsets_in(year)
            n = bisect_right(onsets, (wall, timedelta.max))
            if n:
                found = max(found, onsets[n - 1]) if found else onsets[n - 1]
                break
        return found[1] if found else self._before_first

    def utcoffset(self, dt):
        return None if dt is None else self._offset_at(dt.replace(tzinfo=None))

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return self._name

    def fromutc(self, dt):
        wall = dt.replace(tzinfo=None)
        for offset in self._offsets:  # the offset whose wall-clock time maps back to this instant
            if self._offset_at(wall + offset) == offset:
                return (wall + offset).replace(tzinfo=self)
        return (wall + self._offset_at(wall)).replace(tzinfo=self)
