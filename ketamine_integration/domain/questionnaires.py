"""Questionnaires at the protocol's moments (issue 23, point 3): which of a course's measures are
asked when, from the protocol's `measures:` schedule, and whether each moment is upcoming, open,
overdue, missed or answered at a given time.

Pure: the course's facts (enrolment day, dose and session times, the series' end, its responses),
the clock and the clinic's zone come in as arguments. Each moment of a measure opens, is due and
closes at instants derived from clinic days (midnight to midnight in the clinic's zone), so a
daylight-saving change moves none of them by an hour:

- **baseline**: from the day of enrolment until the first dose starts (the baseline rule of
  notes/baselines.py: nothing taken after dosing began is a baseline); open with no end before any
  dose is planned;
- **before each dosing**: from the start of the clinic day before the dose until the dose starts,
  for every dose planned, booked or recorded (not cancelled), boosters included;
- **each integration session**: from the start of the clinic day before the session; due at its
  start, still taken until the end of its day (the therapist may hand it over in the session);
- **end of series**: from the day after the series' last dose (the course entered integration),
  due within END_OF_SERIES_DUE_DAYS, taken late until END_OF_SERIES_LATE_DAYS;
- **follow-up**: `follow_up_days` after the series' last dose: open FOLLOW_UP_EARLY_DAYS before that
  day, due at the end of the week around it, taken late for FOLLOW_UP_LATE_DAYS more.

A response covers a moment when it was taken within the moment's opening [opens, closes): one a
patient completed at its instant; one a clinician recorded, dated a clinic day only, somewhere in
that day before it was entered (so a response dated the day of a dose covers "before the dose" only
if it was entered before the dose started). One response may cover several moments of its measure
(the questionnaire asks about the last two weeks).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .measures import MEASURES
from .windows import day_start

BASELINE, BEFORE_DOSING, INTEGRATION, END_OF_SERIES, FOLLOW_UP = (
    "baseline", "before_each_dosing", "each_integration", "end_of_series", "follow_up")
#: the status of a moment at a time, and how pages say it (with the tone of its badge)
UPCOMING, OPEN, OVERDUE, MISSED, ANSWERED = "upcoming", "open", "overdue", "missed", "answered"
#: and the shape of its badge's icon where its tone has none (a status is never colour alone)
STATUS_WORDS = {UPCOMING: ("Not open yet", "neutral", "clock"), OPEN: ("Open", "info", None),
                OVERDUE: ("Overdue", "warn", None), MISSED: ("Missed", "danger", None),
                ANSWERED: ("Completed", "ok", None)}
#: how the staff pages name a moment (before dosing and follow-ups: their own label)
STAFF_NAMES = {BASELINE: "Baseline (before the first dose)", INTEGRATION: "Integration session",
               END_OF_SERIES: "End of the series"}
#: end of series: due this many days after the series' last dose day, still taken until this many
END_OF_SERIES_DUE_DAYS, END_OF_SERIES_LATE_DAYS = 7, 28
#: follow-up: opens this many days before its day, due this many after it, taken late this many more
FOLLOW_UP_EARLY_DAYS, FOLLOW_UP_DUE_DAYS, FOLLOW_UP_LATE_DAYS = 3, 3, 14


@dataclass(frozen=True)
class Dose:
    """A dosing session not cancelled: its number in the course and when it starts (UTC): the
    recorded start, else the planned one."""
    id: int
    sequence: int
    starts: datetime


@dataclass(frozen=True)
class Session:
    """An integration session booked or held (not cancelled, not a no-show)."""
    id: int
    starts: datetime


@dataclass(frozen=True)
class Taken:
    """A live response of the course: its measure and the span it was taken in (UTC). A patient's
    is one instant (taken_from == taken_until); a clinician's, the part of its date before it was
    entered."""
    id: int
    measure: str
    taken_from: datetime
    taken_until: datetime
    by_patient: bool = False


@dataclass(frozen=True)
class CourseTimes:
    enrolled_on: date
    doses: tuple[Dose, ...] = ()
    sessions: tuple[Session, ...] = ()
    #: the end of the series' last signed dose, once the course entered integration (None: not yet)
    series_ended_at: datetime | None = None
    #: when the course was discontinued: nothing opens after it, and what was open closes then
    stopped_at: datetime | None = None
    responses: tuple[Taken, ...] = ()


@dataclass(frozen=True)
class Moment:
    """One time a measure is asked: `key` names it within its measure ("before_each_dosing:12")."""
    measure: str
    point: str
    key: str
    #: in the patient's words, for the portal
    label: str
    opens: datetime
    #: when it should be done by (None: no limit yet)
    due: datetime | None
    #: after this it no longer counts for its moment (None: no limit yet)
    closes: datetime | None

    @property
    def staff_label(self) -> str:
        """As the staff pages name it: "Baseline", "Before dosing session 2", "Follow-up, 30 days"."""
        if self.point in (BEFORE_DOSING, FOLLOW_UP):
            return self.label.replace(" your dosing series", " the series")
        return STAFF_NAMES[self.point]

    def covered_by(self, taken: Taken) -> bool:
        return (taken.measure == self.measure and self.opens <= taken.taken_from
                and (self.closes is None or taken.taken_until < self.closes))

    def status_at(self, now: datetime) -> str:
        if now < self.opens:
            return UPCOMING
        if self.closes is not None and now >= self.closes:
            return MISSED
        return OVERDUE if self.due is not None and now >= self.due else OPEN


@dataclass(frozen=True)
class Asked:
    """A moment with its status at a time, and the response that covers it (if any)."""
    moment: Moment
    status: str
    answered_by: Taken | None = None

    @property
    def words(self) -> str:
        return STATUS_WORDS[self.status][0]

    @property
    def tone(self) -> str:
        return STATUS_WORDS[self.status][1]

    @property
    def shape(self) -> str | None:
        return STATUS_WORDS[self.status][2]

    @property
    def waiting(self) -> bool:
        """Open or overdue and not answered: what the patient is asked for now."""
        return self.status in (OPEN, OVERDUE)


def taken_span(administered_on: date, entered_at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """When a clinician-recorded response (dated a clinic day) was taken, as far as is known: that
    day, up to when it was entered."""
    return day_start(administered_on, zone), min(day_start(administered_on + timedelta(days=1), zone), entered_at)


def _days_after(day: date, days: int, zone: ZoneInfo) -> datetime:
    return day_start(day + timedelta(days=days), zone)


def _baseline(measure: str, times: CourseTimes, zone: ZoneInfo) -> Moment:
    first = min((d.starts for d in times.doses), default=None)
    return Moment(measure, BASELINE, BASELINE, "Before your treatment starts",
                  day_start(times.enrolled_on, zone), first, first)


def _before_doses(measure: str, times: CourseTimes, zone: ZoneInfo) -> list[Moment]:
    return [Moment(measure, BEFORE_DOSING, f"{BEFORE_DOSING}:{d.id}", f"Before dosing session {d.sequence}",
                   _days_after(d.starts.astimezone(zone).date(), -1, zone), d.starts, d.starts)
            for d in sorted(times.doses, key=lambda d: d.starts)]


def _integration(measure: str, times: CourseTimes, zone: ZoneInfo) -> list[Moment]:
    moments = []
    for s in sorted(times.sessions, key=lambda s: s.starts):
        day = s.starts.astimezone(zone).date()
        moments.append(Moment(measure, INTEGRATION, f"{INTEGRATION}:{s.id}", "Around your integration session",
                              _days_after(day, -1, zone), s.starts, _days_after(day, 1, zone)))
    return moments


def _after_series(measure: str, at: tuple[str, ...], follow_up_days: Iterable[int], times: CourseTimes,
                  zone: ZoneInfo) -> list[Moment]:
    if times.series_ended_at is None:
        return []
    last = times.series_ended_at.astimezone(zone).date()
    moments = []
    if END_OF_SERIES in at:
        moments.append(Moment(measure, END_OF_SERIES, END_OF_SERIES, "At the end of your dosing series",
                              _days_after(last, 1, zone), _days_after(last, END_OF_SERIES_DUE_DAYS + 1, zone),
                              _days_after(last, END_OF_SERIES_LATE_DAYS + 1, zone)))
    for days in sorted(follow_up_days) if FOLLOW_UP in at else ():
        moments.append(Moment(measure, FOLLOW_UP, f"{FOLLOW_UP}:{days}",
                              f"Follow-up, {days} days after your dosing series",
                              _days_after(last, days - FOLLOW_UP_EARLY_DAYS, zone),
                              _days_after(last, days + FOLLOW_UP_DUE_DAYS + 1, zone),
                              _days_after(last, days + FOLLOW_UP_DUE_DAYS + 1 + FOLLOW_UP_LATE_DAYS, zone)))
    return moments


def _until_stopped(moment: Moment, stopped_at: datetime | None) -> Moment | None:
    """A discontinued course asks nothing more: a moment opening after it goes, an open one closes then."""
    if stopped_at is None:
        return moment
    if moment.opens >= stopped_at:
        return None
    due = stopped_at if moment.due is None else min(moment.due, stopped_at)
    closes = stopped_at if moment.closes is None else min(moment.closes, stopped_at)
    return Moment(moment.measure, moment.point, moment.key, moment.label, moment.opens, due, closes)


def moments(schedule, times: CourseTimes, zone: ZoneInfo) -> list[Moment]:
    """Every moment the protocol's measure schedule (`Protocol.measures`: measure, at, follow_up_days)
    asks for, measure by measure in the protocol's order, each in time order."""
    found = []
    for entry in schedule:
        if entry.measure not in MEASURES:  # a snapshot naming a measure the registry no longer has
            continue
        own = []
        if BASELINE in entry.at:
            own.append(_baseline(entry.measure, times, zone))
        if BEFORE_DOSING in entry.at:
            own += _before_doses(entry.measure, times, zone)
        if INTEGRATION in entry.at:
            own += _integration(entry.measure, times, zone)
        own += _after_series(entry.measure, entry.at, entry.follow_up_days, times, zone)
        kept = (_until_stopped(m, times.stopped_at) for m in own)
        found += sorted((m for m in kept if m is not None), key=lambda m: (m.opens, m.key))
    return found


def asked_at(schedule, times: CourseTimes, now: datetime, zone: ZoneInfo) -> list[Asked]:
    """Each moment with its status at `now`: answered when a response covers it (whenever that
    response was given: a late answer covers nothing, an early one neither)."""
    result = []
    for moment in moments(schedule, times, zone):
        answer = next((t for t in times.responses if moment.covered_by(t)), None)
        result.append(Asked(moment, ANSWERED if answer else moment.status_at(now), answer))
    return result


def find(asked: Iterable[Asked], measure: str, key: str) -> Asked | None:
    return next((a for a in asked if a.moment.measure == measure and a.moment.key == key), None)
