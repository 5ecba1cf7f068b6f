"""Self-guided practices (issue 23, point 5): how often an assigned practice is due, which
occurrence a log fills, and adherence. Pure: the period, the logs and the day come in as arguments.

A practice is due `times` a day or `times` a week. Weeks are counted in 7-day blocks from the day
the assignment starts (not calendar weeks: "three times a week from Thursday" means Thursday to
Wednesday); the period's last block may be shorter and then expects its share of the week,
rounded up. Adherence counts only blocks that are over by the day given (`through`): a day, or a
week, still under way is progress, not a shortfall.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

#: what the patient answers for one occurrence, and how each counts toward adherence
OUTCOMES = {"done": "Done", "partly": "Partly", "not": "Not done"}
OUTCOME_SCORE = {"done": 1.0, "partly": 0.5, "not": 0.0}
#: how often: times a day or a week, with the most a therapist may ask for each
PER = {"day": "a day", "week": "a week"}
MAX_TIMES = {"day": 6, "week": 14}
#: the longest period one assignment covers (a longer one is assigned again when reviewed)
MAX_PERIOD_DAYS = 366
NOTE_LIMIT = 500
WEEK = 7
#: the clinic's starting vocabulary (migration 0039 seeds it): the keys integration notes have
#: stored since before the vocabulary was a table, so signed notes keep their words
DEFAULT_PRACTICES = (("journaling", "Journaling"), ("meditation", "Meditation and breathwork"),
                     ("movement", "Movement"), ("creative", "Creative expression"), ("nature", "Time in nature"),
                     ("social", "Social connection"))


@dataclass(frozen=True)
class Frequency:
    times: int
    per: str

    def words(self) -> str:
        """'once a day', 'twice a day', '3 times a week' (patient-facing)."""
        count = {1: "once", 2: "twice"}.get(self.times, f"{self.times} times")
        return f"{count} {PER[self.per]}"


@dataclass(frozen=True)
class Period:
    starts_on: date
    #: the last day it counts (inclusive); an ended assignment's end is the day it was ended
    ends_on: date

    def holds(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


def frequency_problems(times: int | None, per: str | None) -> dict[str, str]:
    """Why a frequency cannot be assigned, by field ("times", "per")."""
    if per not in PER:
        return {"per": "Choose a day or a week."}
    if times is None or not 1 <= times <= MAX_TIMES[per]:
        return {"times": f"Choose from 1 to {MAX_TIMES[per]} times {PER[per]}."}
    return {}


def period_problems(starts_on: date | None, ends_on: date | None, earliest: date) -> dict[str, str]:
    """Why a period cannot be assigned, by field ("starts_on", "ends_on"); `earliest`: the first
    day it may start (the course's start)."""
    if starts_on is None:
        return {"starts_on": "Enter the first day of the practice."}
    if starts_on < earliest:
        return {"starts_on": f"Start on or after {earliest.isoformat()}, when the course began."}
    if ends_on is None:
        return {"ends_on": "Enter the last day of the practice (it can be assigned again at review)."}
    if ends_on < starts_on:
        return {"ends_on": "The last day cannot be before the first."}
    if (ends_on - starts_on).days + 1 > MAX_PERIOD_DAYS:
        return {"ends_on": f"Assign at most {MAX_PERIOD_DAYS} days at a time; assign it again at review."}
    return {}


def block_of(frequency: Frequency, period: Period, day: date) -> tuple[date, date]:
    """The block (a day, or a 7-day week from the start, clipped to the period) holding `day`."""
    if frequency.per == "day":
        return day, day
    start = period.starts_on + timedelta(days=(day - period.starts_on).days // WEEK * WEEK)
    return start, min(start + timedelta(days=WEEK - 1), period.ends_on)


def expected_in_block(frequency: Frequency, block: tuple[date, date]) -> int:
    """Occurrences a block asks for: `times` for a day or a full week; a shorter last week its
    share, rounded up (3 a week over 3 days: 2)."""
    if frequency.per == "day":
        return frequency.times
    days = (block[1] - block[0]).days + 1
    return frequency.times if days >= WEEK else math.ceil(frequency.times * days / WEEK)


def blocks(frequency: Frequency, period: Period, through: date) -> list[tuple[date, date]]:
    """The period's blocks that are over by `through` (inclusive), in order."""
    found, day = [], period.starts_on
    while day <= period.ends_on:
        block = block_of(frequency, period, day)
        if block[1] > through:
            break
        found.append(block)
        day = block[1] + timedelta(days=1)
    return found


@dataclass(frozen=True)
class Log:
    on: date
    outcome: str


@dataclass(frozen=True)
class Adherence:
    """Occurrences expected in the blocks that are over, and what the logs in them score."""

    expected: int
    #: done counts 1, partly 0.5, not 0; at most `expected` in each block
    score: float
    done: int = 0
    partly: int = 0
    not_done: int = 0

    @property
    def rate(self) -> float | None:
        """Score over expected; None while nothing was due yet (never a division by zero)."""
        return self.score / self.expected if self.expected else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)

    def words(self) -> str:
        if self.expected == 0:
            return "Nothing due yet"
        score = f"{self.score:g}"
        return f"{self.percent}% ({score} of {self.expected} expected)"


def adherence(frequency: Frequency, period: Period, logs: list[Log], through: date) -> Adherence:
    """Adherence over the blocks of the period that are over by `through` (days after it, and a
    week still under way, do not count); logs outside those blocks are left out."""
    expected = score = 0
    counts = {"done": 0, "partly": 0, "not": 0}
    for block in blocks(frequency, period, through):
        due = expected_in_block(frequency, block)
        inside = [log for log in logs if block[0] <= log.on <= block[1]]
        # the best-scoring logs first: a block never scores more than it asks for
        kept = sorted(inside, key=lambda log: -OUTCOME_SCORE[log.outcome])[:due]
        expected += due
        score += sum(OUTCOME_SCORE[log.outcome] for log in kept)
        for log in kept:
            counts[log.outcome] += 1
    return Adherence(expected, score, counts["done"], counts["partly"], counts["not"])


@dataclass(frozen=True)
class Progress:
    """The block under way on a day: what it asks for and what was logged in it so far."""

    block: tuple[date, date]
    expected: int
    logged: int


def progress_on(frequency: Frequency, period: Period, logs: list[Log], today: date) -> Progress | None:
    """The block holding `today` (None outside the period)."""
    if not period.holds(today):
        return None
    block = block_of(frequency, period, today)
    logged = sum(block[0] <= log.on <= block[1] for log in logs)
    return Progress(block, expected_in_block(frequency, block), logged)


#: what a patient can do about a day already logged: a log is part of their record and stays as saved
LOG_STAYS = ("A log stays as you saved it: to add something about that day, write it in the note of your next "
             "log, or tell your therapist at your next session.")


def date_words(day: date, today: date) -> str:
    """A day as the patient reads it: "Friday 4 December" (with the year when it is not this one)."""
    words = f"{day:%A} {day.day} {day:%B}"
    return words if day.year == today.year else f"{words} {day.year}"


def occurrence_for(frequency: Frequency, period: Period, logged_days: list[date], on: date,
                   today: date) -> tuple[int | None, dict[str, str]]:
    """The occurrence a new log for `on` fills (1, 2 ... on a day for a daily practice; 1 for a
    weekly one, which is logged at most once a day), or the reasons it cannot be logged, by field
    ("for_date"), in the patient's words. `logged_days`: the day of each log already kept for the
    assignment."""
    if on > today:
        return None, {"for_date": "Choose today or an earlier day: a practice is logged once it is done (or not)."}
    if on < period.starts_on:
        return None, {"for_date": f"This practice starts on {date_words(period.starts_on, today)}: choose a day "
                                  "from then on."}
    if on > period.ends_on:
        return None, {"for_date": f"This practice ended on {date_words(period.ends_on, today)}: choose a day up to "
                                  "then."}
    same_day = sum(day == on for day in logged_days)
    if frequency.per == "day":
        if same_day >= frequency.times:
            return None, {"for_date": f"Already logged {frequency.words()} for {date_words(on, today)}, all it asks "
                                      f"for a day. {LOG_STAYS}"}
        return same_day + 1, {}
    if same_day:
        return None, {"for_date": f"Already logged for {date_words(on, today)}: a weekly practice is logged once a "
                                  f"day. {LOG_STAYS}"}
    block = block_of(frequency, period, on)
    due = expected_in_block(frequency, block)
    if sum(block[0] <= day <= block[1] for day in logged_days) >= due:
        return None, {"for_date": f"Already logged {due} times in the week of {date_words(block[0], today)} to "
                                  f"{date_words(block[1], today)}, all it asks for that week. {LOG_STAYS}"}
    return 1, {}


def open_days(frequency: Frequency, period: Period, logged_days: list[date], days: list[date],
              today: date) -> list[date]:
    """Those of `days` that can still take a log (the day picker offers only these)."""
    return [day for day in days if occurrence_for(frequency, period, logged_days, day, today)[0] is not None]
