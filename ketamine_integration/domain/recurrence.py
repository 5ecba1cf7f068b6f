"""A repeating rule (RFC 5545 RRULE) read from an untrusted calendar, and its occurrences in a window,
at a cost bounded by the window and a work budget rather than by what the rule asks for.

dateutil.rrule does the calendar arithmetic (BY-part expansion, BYSETPOS, week numbers), but it is
fed only rules whose every step is cheap: at most one time of day (a busy block never repeats more
often than daily), a DTSTART moved forward to the window by whole INTERVAL periods, RFC 5545's limiting
BY-parts applied here (so dateutil never scans periods that all fail them), and years shifted to an
identical stretch of the calendar so that dateutil's own stop at year 9999 lies a few decades past
the window (a rule that never matches ends there instead of scanning 8,000 years).
Every occurrence dateutil produces is counted against a budget shared by the whole file, which also
carries a deadline.
"""
from __future__ import annotations

import calendar
import time as clock
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import MAXYEAR, date, datetime, time, timedelta
from typing import Iterator

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule
from dateutil.rrule import weekdays as DATEUTIL_WEEKDAYS

FREQUENCIES = {"YEARLY": YEARLY, "MONTHLY": MONTHLY, "WEEKLY": WEEKLY, "DAILY": DAILY}
SUB_DAILY = ("SECONDLY", "MINUTELY", "HOURLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: rule parts read, with the range of their values (RFC 5545 3.3.10)
RANGES = {"BYMONTH": (1, 12), "BYMONTHDAY": (-31, 31), "BYYEARDAY": (-366, 366), "BYWEEKNO": (-53, 53),
          "BYHOUR": (0, 23), "BYMINUTE": (0, 59), "BYSECOND": (0, 59), "BYSETPOS": (-366, 366)}
KNOWN_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", *RANGES}
#: BY-parts RFC 5545's table marks N/A for a frequency: dateutil would scan with them, nothing uses them
NOT_FOR = {"BYWEEKNO": ("DAILY", "WEEKLY", "MONTHLY"), "BYYEARDAY": ("DAILY", "WEEKLY", "MONTHLY"),
           "BYMONTHDAY": ("WEEKLY",)}
#: a larger INTERVAL is not a calendar someone keeps (and overflows the date arithmetic)
MAX_INTERVAL = 1000
#: a rule with COUNT is followed from its DTSTART (its skipped occurrences are counted, not
#: skipped by arithmetic) when its COUNT is at most this, or when each period has one occurrence
MAX_COUNT_FOLLOWED = 5000
#: a rule's period, for messages
_PERIOD_NAMES = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
#: 400 Gregorian years are exactly 146,097 days, 20,871 weeks: dates, weekdays and week numbers repeat
CYCLE_YEARS = 400


class RuleRefused(Exception):
    """A rule that is not read; the message says why, after the event's name."""


@dataclass
class Budget:
    """Work one file may cost: occurrences produced by the rules (kept or not) and wall time."""

    max_generated: int
    deadline: float  #: time.monotonic() after which the reading stops
    seconds: float   #: what the deadline allows, for the message
    generated: int = 0
    _tick: int = field(default=0, repr=False)

    def spend(self, count: int = 1) -> None:
        self.generated += count
        if self.generated > self.max_generated:
            raise RuleRefused(f"makes the file's repeating events produce more than {self.max_generated:,} "
                              "occurrences (the limit, counting those outside the period)")
        self._tick += count
        if self._tick >= 64:
            self._tick = 0
            self.check_time()

    def check_time(self) -> None:
        if clock.monotonic() > self.deadline:
            raise RuleRefused(f"is where reading stopped: the file took longer than {self.seconds:g} s to read "
                              "(the limit)")


@dataclass(frozen=True)
class Rule:
    freq: str
    interval: int
    count: int | None
    until: date | datetime | None
    wkst: int
    #: BY-parts as dateutil keywords; BYDAY as (weekday, ordinal or None)
    by: dict

    @property
    def code(self) -> int:
        return FREQUENCIES[self.freq]


def parse_rule(parts: dict) -> Rule:
    """A Rule from an icalendar vRecur mapping (upper-case keys, lists of values); RuleRefused."""
    freq = _frequency(parts)
    unknown = sorted(set(parts) - KNOWN_PARTS)
    if unknown:
        raise RuleRefused(f"has the rule part {unknown[0][:20]}, which busy-time import does not read.")
    interval = _interval(parts)
    count = _single(parts, "COUNT", None)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise RuleRefused("has a COUNT that is not a whole number of 1 or more.")
    until = _single(parts, "UNTIL", None)
    if until is not None and not isinstance(until, date):
        raise RuleRefused("has an UNTIL that is not a date or time.")
    wkst = str(_single(parts, "WKST", "MO")).upper()
    if wkst not in WEEKDAYS:
        raise RuleRefused(f"has WKST={wkst[:10]}, which is not a weekday.")
    return Rule(freq, interval, count, until, WEEKDAYS.index(wkst), _by_parts(parts, freq))


def _frequency(parts: dict) -> str:
    freq = str((parts.get("FREQ") or [""])[0]).upper()
    if freq in SUB_DAILY:
        raise RuleRefused(f"repeats {freq.lower()}; busy time repeats daily at most often.")
    if freq not in FREQUENCIES:
        raise RuleRefused(f"has FREQ={freq or '(none)'}, which is not a frequency.")
    return freq


def _interval(parts: dict) -> int:
    interval = _single(parts, "INTERVAL", 1)
    if not isinstance(interval, int) or interval < 1:
        raise RuleRefused("has a repeat INTERVAL that is not a whole number of 1 or more.")
    if interval > MAX_INTERVAL:
        raise RuleRefused(f"has a repeat INTERVAL of {interval}, above the limit of {MAX_INTERVAL}.")
    return interval


def _by_parts(parts: dict, freq: str) -> dict:
    """The BY-parts as dateutil keywords, checked; at most one time of day."""
    by = {name.lower(): _values(parts, name, freq) for name in RANGES if parts.get(name)}
    if parts.get("BYDAY"):
        by["byweekday"] = _weekdays(parts["BYDAY"], freq, "byweekno" in by)
    times = len(by.get("byhour", [0])) * len(by.get("byminute", [0])) * len(by.get("bysecond", [0]))
    if times > 1:
        raise RuleRefused(f"repeats {times} times a day (BYHOUR × BYMINUTE × BYSECOND); busy time repeats "
                          "daily at most often.")
    return by


def _single(parts: dict, name: str, default):
    values = parts.get(name) or [default]
    if len(values) != 1:
        raise RuleRefused(f"has {len(values)} values for {name}, which takes one.")
    return values[0]


def _values(parts: dict, name: str, freq: str) -> tuple[int, ...]:
    if freq in NOT_FOR.get(name, ()):
        raise RuleRefused(f"has {name} with FREQ={freq}, a combination RFC 5545 does not define.")
    low, high = RANGES[name]
    values = parts[name]
    if not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high and (v or low == 0)
               for v in values):
        raise RuleRefused(f"has a {name} value outside {low}..{high}.")
    return tuple(sorted(set(values)))


def _weekdays(values, freq: str, with_weekno: bool) -> tuple[tuple[int, int | None], ...]:
    days = set()
    for value in values:
        text = str(value).strip().upper()
        day, number = text[-2:], text[:-2]
        if day not in WEEKDAYS or (number and not number.lstrip("+-").isdigit()):
            raise RuleRefused(f"has BYDAY={text[:12]}, which is not a weekday.")
        ordinal = int(number) if number else None
        if ordinal is not None and (freq not in ("MONTHLY", "YEARLY") or with_weekno):
            raise RuleRefused(f"has BYDAY={text[:12]} with FREQ={freq}; a numbered weekday needs MONTHLY or YEARLY.")
        if ordinal is not None and not (1 <= abs(ordinal) <= (5 if freq == "MONTHLY" else 53)):
            raise RuleRefused(f"has BYDAY={text[:12]}, a weekday number out of range.")
        days.add((WEEKDAYS.index(day), ordinal))
    return tuple(sorted(days, key=lambda d: (d[0], d[1] or 0)))


# -- expansion ----------------------------------------------------------------------------

def occurrences(first: datetime, rule: Rule, *, low: datetime, high: datetime, until: datetime | None,
                budget: Budget) -> Iterator[datetime]:
    """The rule's occurrences in [low, high], all naive wall-clock times of the event's own zone
    (`first` is its DTSTART, `until` its UNTIL, both the same way). DTSTART itself is not added."""
    by = _with_defaults(first, rule)
    _check_positions(rule, by)
    regular = _one_per_period(rule, by)
    limit = _limiter(rule, by)
    begin, remaining = _start_and_count(first, rule, by, low, regular)
    if remaining == 0 or begin > high or (until is not None and until < low):
        return
    shift = _shift(begin.year, high.year)
    for shifted in rrule(rule.code, dtstart=begin.replace(year=begin.year + shift), interval=rule.interval,
                         wkst=rule.wkst, cache=False, **by):
        budget.spend()
        when = shifted.replace(year=shifted.year - shift)
        if when > high or (until is not None and when > until):
            return
        if limit is not None and not limit(when):
            continue
        if remaining is not None:
            if remaining == 0:
                return
            remaining -= 1
        if when >= low:
            yield when


def _with_defaults(first: datetime, rule: Rule) -> dict:
    """The BY-parts dateutil would take from DTSTART, written out: the rule is then the same
    whatever DTSTART it is started from, which is what lets DTSTART be moved forward."""
    by = dict(rule.by)
    by["byweekday"] = [_dateutil_weekday(d) for d in by.get("byweekday", ())] or None
    for name, value in (("byhour", first.hour), ("byminute", first.minute), ("bysecond", first.second)):
        by.setdefault(name, (value,))
    if not any(by.get(k) for k in ("byweekno", "byyearday", "bymonthday", "byweekday")):
        if rule.freq == "YEARLY":
            by.setdefault("bymonth", (first.month,))
            by["bymonthday"] = (first.day,)
        elif rule.freq == "MONTHLY":
            by["bymonthday"] = (first.day,)
        elif rule.freq == "WEEKLY":
            by["byweekday"] = [_dateutil_weekday((first.weekday(), None))]
    if by["byweekday"] is None:
        del by["byweekday"]
    return by


def _dateutil_weekday(day: tuple[int, int | None]):
    weekday, ordinal = day
    return DATEUTIL_WEEKDAYS[weekday](ordinal) if ordinal else DATEUTIL_WEEKDAYS[weekday]


def _limiter(rule: Rule, by: dict):
    """RFC 5545's "Limit" BY-parts (BYMONTH below YEARLY; BYMONTHDAY and BYDAY for DAILY; BYDAY
    beside BYMONTHDAY for MONTHLY) only remove occurrences: they are taken out of what dateutil
    gets and applied here, so dateutil yields every period's candidates and never scans a long
    run of periods that all fail (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 would scan to year 9999).
    BYSETPOS counts after the limits, so with BYSETPOS they stay with dateutil (and the shift to
    the end of time bounds its scan), except for DAILY, whose period holds one occurrence."""
    if rule.freq == "YEARLY" or (by.get("bysetpos") and rule.freq != "DAILY"):
        return None
    months = set(by.pop("bymonth", ()))
    monthdays = set(by.pop("bymonthday", ())) if rule.freq == "DAILY" else set()
    weekdays = _limiting_weekdays(rule, by)
    positions = set(by.pop("bysetpos", ()))
    if positions and not positions & {1, -1}:
        return lambda when: False  # a day holds one occurrence: any other position selects none
    if not (months or monthdays or weekdays):
        return None

    def keep(when: datetime) -> bool:
        days = calendar.monthrange(when.year, when.month)[1]
        return ((not months or when.month in months)
                and (not monthdays or when.day in monthdays or when.day - days - 1 in monthdays)
                and (not weekdays or any(_is_weekday(when, day, n, days) for day, n in weekdays)))
    return keep


def _limiting_weekdays(rule: Rule, by: dict) -> tuple[tuple[int, int | None], ...]:
    """BYDAY taken out of `by` where it limits: always for DAILY, beside BYMONTHDAY for MONTHLY."""
    if rule.freq == "DAILY" or (rule.freq == "MONTHLY" and by.get("bymonthday") and by.get("byweekday")):
        return tuple((d.weekday, d.n) for d in by.pop("byweekday", ()))
    return ()


def _is_weekday(when: datetime, day: int, n: int | None, days_in_month: int) -> bool:
    """Whether `when` is weekday `day`, and the n-th (from the end if negative) of its month."""
    if when.weekday() != day:
        return False
    return n is None or n == (when.day - 1) // 7 + 1 or n == -((days_in_month - when.day) // 7 + 1)


def _shift(low_year: int, high_year: int) -> int:
    """Years to add so that the years a rule is expanded over fall as late before dateutil's stop at
    year 9999 as the calendar allows unchanged (same leap years, same weekday of 1 January, the
    year after included for week numbers): a rule that never matches then stops being scanned a
    few decades past the window, not thousands of years. A whole number of 400-year cycles always
    qualifies; a near one is searched for when the span is short (DTSTART moved forward)."""
    cycles = CYCLE_YEARS * max(0, (MAXYEAR - 2 - high_year) // CYCLE_YEARS)
    if high_year - low_year > 8:
        return cycles
    return _near_shift(low_year, high_year, cycles)


@lru_cache(maxsize=64)
def _near_shift(low_year: int, high_year: int, fallback: int) -> int:
    def kind(year):
        return calendar.isleap(year), date(year, 1, 1).weekday()
    years = range(low_year, high_year + 2)
    for shift in range(MAXYEAR - 2 - high_year, fallback, -1):
        if all(kind(y) == kind(y + shift) for y in years):
            return shift
    return fallback


def _check_positions(rule: Rule, by: dict) -> None:
    """A BYSETPOS beyond the most occurrences a period can hold selects nothing, ever."""
    positions = by.get("bysetpos")
    if not positions or rule.freq == "DAILY":
        return
    # at most one occurrence a day (sub-daily rules are refused before), so a period holds at most its days
    days = len(by.get("byweekday", ())) or 1
    period, most, why = {"WEEKLY": ("week", days, f"it happens on only {days} day(s) a week"),
                         "MONTHLY": ("month", 31, "a month has at most 31 days"),
                         "YEARLY": ("year", 366, "a year has at most 366 days")}[rule.freq]
    nearest = min(abs(p) for p in positions)
    if nearest > most:
        raise RuleRefused(f"asks for occurrence number {nearest} in each {period} (BYSETPOS={nearest}), but {why}, "
                          "so it would never take place.")


def _start_and_count(first: datetime, rule: Rule, by: dict, low: datetime,
                     regular: bool) -> tuple[datetime, int | None]:
    """Where to start expanding and how many occurrences are left from there (None: no COUNT).

    Without COUNT, DTSTART moves to the start of the last INTERVAL period beginning at or before
    `low`. With COUNT, it moves only when each period holds exactly one occurrence (the skipped
    ones are then the skipped periods); otherwise a COUNT up to MAX_COUNT_FOLLOWED is followed from
    DTSTART under the budget, and a larger one from long before the window is refused."""
    if first >= low:
        return first, rule.count
    begin, periods = _period_start(first, rule, low)
    if rule.count is None:
        return begin, None
    if not regular:
        if rule.count > MAX_COUNT_FOLLOWED:
            raise RuleRefused(f"repeats {rule.count:,} times (COUNT={rule.count}) starting in {first.year}; a series "
                              f"that does not happen exactly once every {_PERIOD_NAMES[rule.freq]} is counted from its "
                              f"start only up to {MAX_COUNT_FOLLOWED:,} times. End the series sooner, or export the "
                              "calendar again from a recent date.")
        return first, rule.count
    start_of_first, _ = _period_start(first, rule, first)
    opening = next(iter(rrule(rule.code, dtstart=start_of_first, interval=rule.interval, wkst=rule.wkst,
                              count=1, cache=False, **by)))
    skipped = periods - (1 if opening < first else 0)
    return begin, max(rule.count - skipped, 0)


def _period_start(first: datetime, rule: Rule, low: datetime) -> tuple[datetime, int]:
    """(the start of the last period of the rule's INTERVAL grid beginning at or before `low`,
    how many INTERVAL steps that is from DTSTART's period)."""
    n = rule.interval
    if rule.freq == "DAILY":
        steps = (low.date() - first.date()).days // n
        return first + timedelta(days=steps * n), steps
    if rule.freq == "WEEKLY":
        def week_of(when):
            return when.date() - timedelta(days=(when.weekday() - rule.wkst) % 7)
        steps = (week_of(low) - week_of(first)).days // 7 // n
        return datetime.combine(week_of(first) + timedelta(weeks=steps * n), time.min), steps
    if rule.freq == "MONTHLY":
        steps = ((low.year - first.year) * 12 + low.month - first.month) // n
        year, month = divmod(first.year * 12 + first.month - 1 + steps * n, 12)
        return datetime(year, month + 1, 1), steps
    steps = (low.year - first.year) // n
    return datetime(first.year + steps * n, 1, 1), steps


def _one_per_period(rule: Rule, by: dict) -> bool:
    """Whether every period of the rule holds exactly one occurrence (what counting skipped
    periods needs)."""
    if by.get("bysetpos") or by.get("byweekno") or by.get("byyearday"):
        return False
    return _ONE_PER_PERIOD[rule.freq](by.get("bymonthday", ()), by.get("bymonth", ()), by.get("byweekday", ()))


def _one_a_day(monthdays, months, weekdays) -> bool:
    return not (monthdays or months or weekdays)


def _one_a_week(monthdays, months, weekdays) -> bool:
    return len(weekdays) == 1 and not months


def _one_a_month(monthdays, months, weekdays) -> bool:
    return not weekdays and not months and len(monthdays) == 1 and 1 <= abs(monthdays[0]) <= 28


def _one_a_year(monthdays, months, weekdays) -> bool:
    return (not weekdays and len(months) == 1 and len(monthdays) == 1
            and 1 <= monthdays[0] <= (28 if months[0] == 2 else calendar.monthrange(2001, months[0])[1]))


#: whether a rule of each frequency, with these BY-parts, has one occurrence a period
_ONE_PER_PERIOD = {"DAILY": _one_a_day, "WEEKLY": _one_a_week, "MONTHLY": _one_a_month, "YEARLY": _one_a_year}
