"""Busy (start, end) pairs from an uploaded calendar's text, within a time and work budget.

The order is the cost order: the text's shape (ics_structure, which also takes the time zones out of
icalendar's hands), the file's zones (ics_zones), then the parse, then every event and rule checked,
and only then expansion (recurrence), all under one Budget. Nothing here reads the
clock, the database or the app: the window, the zone and the limits come in as arguments.
"""
from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterator

import x_wr_timezone
from icalendar import Calendar, vDuration, vRecur

from .ics_structure import ZONE_PARAM, StructureLimits, StructureRefused, prepare
from .ics_zones import ZoneRefused, known_zone, resolve
from .recurrence import Budget, Rule, RuleRefused, occurrences, parse_rule


@dataclass(frozen=True)
class ReadLimits:
    structure: StructureLimits = StructureLimits()
    #: occurrences the file's rules may produce in all, inside the period or not (a year of
    #: daily meetings is 365; a file of 2,000 events rarely produces 5,000)
    max_generated: int = 20_000
    #: busy times in the period (more is not one person's calendar)
    max_blocks: int = 5_000
    #: wall time for the whole read, parse included: an upload occupies a server process this long
    #: at most (a legitimate 1 MB export is read in about 0.5 s)
    max_seconds: float = 1.5


class Unreadable(Exception):
    """The file is not imported; the message names the event (if one is to blame) and the problem."""


@dataclass(frozen=True)
class Window:
    start: datetime           #: UTC
    end: datetime             #: UTC
    zone: tzinfo              #: the clinic's: floating times and all-day dates are read in it
    own_uid_suffix: str       #: this clinic's own sessions exported back carry it
    max_length: timedelta     #: a single event longer than this is not busy time
    #: the clinician's own addresses, lower case, without "mailto:": an event whose ATTENDEE line for
    #: one of them says PARTSTAT=DECLINED is not busy time (an empty set: no event counts as declined)
    own_addresses: frozenset[str] = frozenset()


def read_busy(text: str, window: Window, limits: ReadLimits = ReadLimits()) -> list[tuple[datetime, datetime]]:
    """Busy (start, end) pairs in UTC, sorted; recurring events expanded over the window; free
    (TRANSPARENT), cancelled and declined events are not busy. Each instance has its own length:
    an override (RECURRENCE-ID) its own DTEND or DURATION, the series' only if it gives neither.
    Raises Unreadable."""
    budget = Budget(limits.max_generated, clock.monotonic() + limits.max_seconds, limits.max_seconds)
    checked = _read_events(text, window.zone, limits, budget)
    series = Series.of(checked, window.zone)
    busy, seen = [], 0
    for event, where, rule in checked:
        try:
            budget.check_time()
            if not series.counts(event) or not _blocks_time(event, window):
                continue
            for begins, ends in _spans(event, rule, window, budget, series):
                seen += 1
                if seen > limits.max_blocks:
                    raise Unreadable(f"has more than {limits.max_blocks} events in the period; export only the "
                                     "calendar that blocks clinic time.")
                if ends - begins > window.max_length:  # judged on the whole event, before clipping
                    continue
                begins, ends = max(begins, window.start), min(ends, window.end)
                if ends > begins:
                    busy.append((begins, ends))
        except RuleRefused as err:
            raise Unreadable(f"{where} {err}") from None
        except (ValueError, TypeError, OverflowError) as err:  # dates past year 9999, and the like
            raise Unreadable(f"{where} has a repeating event that cannot be expanded ({_short(err)}).") from None
    return sorted(busy)


@dataclass(frozen=True)
class Series:
    """What ties a file's events together by UID (RFC 5545 3.8.4.4): the instances overrides replace,
    the override that counts for each (the highest SEQUENCE, then the last in the file: an export
    may carry an instance twice), and each series' length, for an override that gives none."""

    #: (UID, instance key) -> the override (event object) that replaces that instance
    overrides: dict
    #: UID -> the series' master event (the first in the file)
    masters: dict
    zone: tzinfo  #: the clinic's, which floating times are read in

    @classmethod
    def of(cls, checked: list[tuple], zone: tzinfo) -> "Series":
        overrides, ranks, masters = {}, {}, {}
        for n, (event, _, _) in enumerate(checked):
            uid = str(event.get("uid"))
            if event.get("recurrence-id") is None:
                masters.setdefault(uid, event)
                continue
            key, rank = (uid, _key(event.decoded("recurrence-id"), zone)), (_sequence(event), n)
            if key not in ranks or rank > ranks[key]:
                overrides[key], ranks[key] = event, rank
        return cls(overrides, masters, zone)

    def counts(self, event) -> bool:
        """False for an override another override of the same instance supersedes."""
        if event.get("recurrence-id") is None:
            return True
        return self.overrides.get(self.instance(event)) is event

    def instance(self, event) -> tuple:
        return str(event.get("uid")), _key(event.decoded("recurrence-id"), self.zone)

    def replaced(self, uid: str, key: tuple) -> bool:
        return (uid, key) in self.overrides

    def length(self, event, start) -> tuple[timedelta, bool]:
        """(length, exact) of the event's instances: its own DTEND or DURATION, else, for an
        override, its series' (a moved meeting keeps its length unless the file says otherwise)."""
        master = self.masters.get(str(event.get("uid")))
        if event.get("recurrence-id") is not None and event.get("dtend") is None \
                and event.get("duration") is None and master is not None:
            return _length(master, master.decoded("dtstart"), self.zone), master.get("duration") is not None
        return _length(event, start, self.zone), event.get("duration") is not None


def _sequence(event) -> int:
    try:
        return int(str(event.get("sequence", 0)))
    except ValueError:
        return 0


def _read_events(text: str, zone: tzinfo, limits: ReadLimits, budget: Budget) -> list[tuple]:
    """The file's events, each checked (see _checked), their times in the zones the file
    defines; Unreadable."""
    try:
        prepared = prepare(text, limits.structure)
        zones = resolve(prepared.tzids, prepared.definitions, zone, budget)
    except (StructureRefused, ZoneRefused) as err:
        raise Unreadable(str(err)) from None
    try:
        calendar = Calendar.from_ical(prepared.text)
        budget.check_time()
        events = calendar.walk("VEVENT")
        _zone_values(events, zones)
        calendar = _standard(calendar)
        events = calendar.walk("VEVENT")
        return [_checked(n, event, zone) for n, event in enumerate(events, 1)]
    except RuleRefused as err:  # the budget, spent while parsing or converting times
        late = clock.monotonic() > budget.deadline
        raise Unreadable(f"took longer than {limits.max_seconds:g} s to read (the limit)." if late
                         else f"has time zones whose rules {err}.") from None
    except (ValueError, IndexError, KeyError) as err:
        raise Unreadable(f"could not be read as iCalendar ({_short(err)}).") from None


def _zone_values(events, zones: list) -> None:
    """Give each time that named a TZID the zone resolved for it (icalendar read it as floating)."""
    for event in events:
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"):
            values = event.get(name)
            for value in (values if isinstance(values, list) else [values]):
                index = getattr(value, "params", {}).get(ZONE_PARAM)
                if index is None:
                    continue
                for item in getattr(value, "dts", [value]):
                    item.dt = _zoned(item.dt, zones[int(index)])


def _zoned(value, zone: tzinfo):
    if isinstance(value, tuple):  # an RDATE period: (start, end or duration)
        return tuple(_zoned(v, zone) for v in value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _standard(calendar):
    """RFC 5545 form of a calendar using X-WR-TIMEZONE (Google's exports), if it names a zone
    known by name; otherwise its floating times stay floating (read in the clinic's zone)."""
    name = calendar.get("X-WR-TIMEZONE")
    if name is None:
        return calendar
    zone = known_zone(str(name)) if len(str(name)) <= 100 else None
    return x_wr_timezone.to_standard(calendar, timezone=zone) if zone is not None else calendar


def _short(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def _blocks_time(event, window: Window) -> bool:
    return not (str(event.get("transp", "OPAQUE")).upper() == "TRANSPARENT"
                or str(event.get("status", "")).upper() == "CANCELLED"
                or str(event.get("uid", "")).endswith(window.own_uid_suffix)  # this clinic's own sessions, back
                or _declined(event, window.own_addresses))


def _declined(event, addresses: frozenset[str]) -> bool:
    """Whether the clinician declined the invitation: the ATTENDEE line naming one of their addresses
    (its mailto: value, or, only for a value that is no mailto: address, the EMAIL parameter Apple
    writes beside a urn:uuid value) says DECLINED.
    Other attendees' answers say nothing of the clinician's time."""
    if not addresses:
        return False
    attendees = event.get("attendee")
    for attendee in (attendees if isinstance(attendees, list) else [attendees] if attendees else []):
        if str(getattr(attendee, "params", {}).get("PARTSTAT", "")).upper() == "DECLINED" \
                and _addresses_of(attendee) & addresses:
            return True
    return False


def _addresses_of(attendee) -> set[str]:
    """The attendee's address: its mailto: value; the EMAIL parameter only when the value is no mailto:
    address (Apple writes a urn:uuid value with EMAIL beside it). A line whose value is someone else's
    address speaks for that person, whatever its EMAIL says: it was another attendee declining that
    counted as the clinician."""
    value = str(attendee).strip()
    if value[:7].lower() == "mailto:":
        return {value[7:].strip().lower()}
    email = getattr(attendee, "params", {}).get("EMAIL")
    return {str(email).strip().lower().removeprefix("mailto:")} if email else set()


def _checked(n: int, event, zone: tzinfo) -> tuple:
    """(event, how messages name it, its Rule or None), or Unreadable. The UID names it, not the
    SUMMARY: a refusal is kept in the audit trail, and another calendar's titles are private."""
    where = f"event {n}" + (f" (UID {str(event.get('uid'))[:60]})" if event.get("uid") else "")
    if event.get("dtstart") is None:
        raise Unreadable(f"{where} has no DTSTART.")
    for name in ("dtstart", "dtend", "recurrence-id"):
        if event.get(name) is None:
            continue
        try:
            value = event.decoded(name)
            _as_utc(value, zone)  # a time at the edge of year 1 or 9999 has no UTC instant
        except (ValueError, TypeError, AttributeError, OverflowError):
            raise Unreadable(f"{where}: {name.upper()} is not a valid date or time.") from None
    if event.get("dtend") is not None and _as_utc(event.decoded("dtend"), zone) \
            < _as_utc(event.decoded("dtstart"), zone):
        raise Unreadable(f"{where} ends before it starts.")
    if event.get("duration") is not None:
        try:
            duration = event.decoded("duration")
        except (ValueError, TypeError):
            duration = None
        if not isinstance(duration, timedelta) or duration < timedelta(0):
            raise Unreadable(f"{where}: DURATION is not a valid length of time.")
    _check_periods(event, where, zone)
    return event, where, _rule(event, where)


def _check_periods(event, where: str, zone: tzinfo) -> None:
    """Unreadable for an RDATE period (RFC 5545 3.3.9) that ends before it starts or lasts less than
    nothing: its instance was dropped as lasting nothing, the file imported as if it were right."""
    for value in _dates(event, "rdate"):
        if not isinstance(value, tuple):
            continue
        start, end = value
        length = end if isinstance(end, timedelta) else _as_utc(end, zone) - _as_utc(start, zone)
        if length < timedelta(0):
            raise Unreadable(f"{where} has an RDATE period that ends before it starts "
                             f"({_period_text(start)} to {_period_text(end)}).")


def _period_text(value) -> str:
    return vDuration(value).to_ical().decode() if isinstance(value, timedelta) else value.isoformat()


def _rule(event, where: str) -> Rule | None:
    rules = event.get("rrule")
    rules = [r for r in (rules if isinstance(rules, list) else [rules]) if r is not None]
    if not rules or event.get("recurrence-id") is not None:  # a moved instance is that instance only
        return None
    if len(rules) > 1:
        raise Unreadable(f"{where} has {len(rules)} RRULEs; busy-time import reads one per event.")
    if not isinstance(rules[0], vRecur):
        raise Unreadable(f"{where}: RRULE is not a valid repeating rule.")
    try:
        return parse_rule(rules[0])
    except RuleRefused as err:
        raise Unreadable(f"{where} {err}") from None


def _as_utc(value, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(timezone.utc)
    return datetime.combine(value, time.min, zone).astimezone(timezone.utc)  # an all-day date: local midnight


def _key(value, zone: tzinfo) -> tuple:
    """What identifies an instance across the master, EXDATE and RECURRENCE-ID (RFC 5545 3.8.4.4)."""
    return ("t", _as_utc(value, zone)) if isinstance(value, datetime) else ("d", value)


def _dates(event, name: str) -> list:
    values = event.get(name)
    return [v.dt for vs in (values if isinstance(values, list) else [values]) if vs is not None for v in vs.dts]


def _spans(event, rule: Rule | None, window: Window, budget: Budget, series: Series) -> Iterator[tuple]:
    """(start, end) in UTC of every instance of `event` that may overlap the window: DTSTART, the
    rule's occurrences and RDATEs, less EXDATEs and the instances overrides replace (an override
    is its one instance: the replaced-instance test applies to the series' own instances)."""
    start, uid = event.decoded("dtstart"), str(event.get("uid"))
    length, exact = series.length(event, start)
    is_override = event.get("recurrence-id") is not None
    excluded = {_key(v, window.zone) for v in _dates(event, "exdate")}
    excluded_days = {k[1] for k in excluded if k[0] == "d"}
    earliest = window.start - window.max_length
    instances = [(start, length)] + [_rdate_instance(v, length) for v in _dates(event, "rdate")]
    budget.spend(len(instances) - 1)
    if rule is not None:
        instances = _chain(instances, _rule_instances(start, rule, window, budget), length)
    seen = set()
    for begin, span in instances:
        key = _key(begin, window.zone)
        if key in seen or _excluded(begin, key, excluded, excluded_days) \
                or (not is_override and series.replaced(uid, key)):
            continue
        seen.add(key)
        begins, ends = _span(begin, span, exact, window.zone)
        if begins < window.end and ends > earliest:
            yield begins, ends


def _rdate_instance(value, length: timedelta) -> tuple:
    """(start, length) of an RDATE: a period carries its own end or duration, a time the event's length."""
    if not isinstance(value, tuple):
        return value, length
    return value[0], value[1] if isinstance(value[1], timedelta) else value[1] - value[0]


def _excluded(begin, key: tuple, excluded: set, excluded_days: set) -> bool:
    """Whether EXDATE removes this instance (an all-day EXDATE removes every instance that day)."""
    return key in excluded or (isinstance(begin, datetime) and begin.date() in excluded_days)


def _chain(instances: list, more: Iterator, length: timedelta) -> Iterator:
    yield from instances
    for begin in more:
        yield begin, length


def _rule_instances(start, rule: Rule, window: Window, budget: Budget) -> Iterator:
    """The rule's occurrences near the window, typed like DTSTART (date, floating or zoned time)."""
    zone = start.tzinfo if isinstance(start, datetime) and start.tzinfo else window.zone
    first = start.replace(tzinfo=None) if isinstance(start, datetime) else datetime.combine(start, time.min)
    # a day either side: the window is in UTC, the rule in the event's wall-clock time
    low = (window.start - window.max_length).astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    high = window.end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    until = rule.until
    if isinstance(until, datetime):
        until = until.astimezone(zone).replace(tzinfo=None) if until.tzinfo else until
    elif isinstance(until, date):
        until = datetime.combine(until, time(23, 59, 59))  # a date UNTIL includes that day
    for when in occurrences(first, rule, low=low, high=high, until=until, budget=budget):
        if not isinstance(start, datetime):
            yield when.date()
        else:
            yield when.replace(tzinfo=start.tzinfo)


def _length(event, start, zone: tzinfo) -> timedelta:
    if event.get("duration") is not None:
        return event.decoded("duration")
    if event.get("dtend") is None:
        return timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)  # RFC 5545 3.6.1
    end = event.decoded("dtend")
    if isinstance(start, datetime) == isinstance(end, datetime) and \
            (not isinstance(start, datetime) or (start.tzinfo is None) == (end.tzinfo is None)):
        return end - start
    return _as_utc(end, zone) - _as_utc(start, zone)


def _span(begin, length: timedelta, exact: bool, zone: tzinfo) -> tuple[datetime, datetime]:
    """(start, end) in UTC. A DURATION in hours and minutes is exact elapsed time (RFC 5545
    3.3.6), so an hour that starts in the spring-forward gap still lasts an hour."""
    begins = _as_utc(begin, zone)
    if exact and isinstance(begin, datetime) and length.days == 0:
        return begins, begins + length
    if not isinstance(begin, datetime):
        # an all-day date with a length in hours (a DTEND with a time, DURATION:PT8H): counted from its
        # midnight; a date plus hours is that same date, and the event was dropped as lasting nothing
        begin = datetime.combine(begin, time.min)
    return begins, _as_utc(begin + length, zone)
