"""Practice rules (domain/practices.py): expected occurrences from frequency and period, adherence
(done 1, partly a half, never a division by zero, no future day counted), which occurrence a log
fills, and the checks on a frequency and a period."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ketamine_integration.domain.practices import (LOG_STAYS, Frequency, Log, Period, adherence, block_of,
                                                   expected_in_block, frequency_problems, occurrence_for, open_days,
                                                   period_problems, progress_on)

MON = date(2026, 3, 2)           # a Monday; weeks run from each assignment's own first day
D = timedelta(days=1)
DAILY, TWICE_DAILY, THRICE_WEEKLY = Frequency(1, "day"), Frequency(2, "day"), Frequency(3, "week")
FOUR_WEEKS = Period(MON, MON + 27 * D)


def logs(*pairs) -> list[Log]:
    return [Log(MON + n * D, outcome) for n, outcome in pairs]


# (frequency, period, logs, through, expected occurrences, score, percent)
ADHERENCE = [
    # through the day before the start: nothing was due, no division by zero
    (DAILY, FOUR_WEEKS, [], MON - D, 0, 0, None),
    # through the first day of a daily practice, done: 1 of 1
    (DAILY, FOUR_WEEKS, logs((0, "done")), MON, 1, 1, 100),
    # three days, done, partly, not: 1.5 of 3
    (DAILY, FOUR_WEEKS, logs((0, "done"), (1, "partly"), (2, "not")), MON + 2 * D, 3, 1.5, 50),
    # a day with no log counts as expected, scoring nothing
    (DAILY, FOUR_WEEKS, logs((0, "done")), MON + 3 * D, 4, 1, 25),
    # a log after `through` (today's, not over yet) is left out, and so is its day
    (DAILY, FOUR_WEEKS, logs((0, "done"), (1, "done")), MON, 1, 1, 100),
    # twice a day: each day expects two
    (TWICE_DAILY, FOUR_WEEKS, logs((0, "done"), (0, "done"), (1, "partly")), MON + D, 4, 2.5, 62),
    # a weekly practice, first week under way: nothing due yet (the week is not over)
    (THRICE_WEEKLY, FOUR_WEEKS, logs((0, "done"), (2, "done")), MON + 5 * D, 0, 0, None),
    # the first week over (day 7 is its last): 2 of 3 done
    (THRICE_WEEKLY, FOUR_WEEKS, logs((0, "done"), (2, "done")), MON + 6 * D, 3, 2, 67),
    # two weeks over, the second with one partly
    (THRICE_WEEKLY, FOUR_WEEKS, logs((0, "done"), (2, "done"), (4, "done"), (8, "partly")), MON + 13 * D, 6, 3.5, 58),
    # more logs in a week than it asks for never score above it (the best three count)
    (THRICE_WEEKLY, FOUR_WEEKS, logs(*((n, "done") for n in range(5))), MON + 6 * D, 3, 3, 100),
    # ... and the best ones are kept: done before partly before not
    (THRICE_WEEKLY, FOUR_WEEKS, logs((0, "not"), (1, "partly"), (2, "done"), (3, "done"), (4, "done")),
     MON + 6 * D, 3, 3, 100),
    # through long after the period: only its days count
    (DAILY, Period(MON, MON + 2 * D), logs((0, "done"), (1, "done"), (2, "done")), MON + 60 * D, 3, 3, 100),
    # a 10-day period at 3 a week: a full week (3) and a last block of 3 days (3 x 3/7 rounded up: 2)
    (THRICE_WEEKLY, Period(MON, MON + 9 * D), logs((0, "done"), (8, "done")), MON + 9 * D, 5, 2, 40),
    # an assignment ended before it began (its last day before its first): nothing ever due
    (DAILY, Period(MON, MON - D), [], MON + 10 * D, 0, 0, None),
    # a log outside the period (before it) is left out
    (DAILY, Period(MON + D, MON + 5 * D), logs((0, "done"), (1, "done")), MON + D, 1, 1, 100),
]


@pytest.mark.parametrize("frequency, period, kept, through, expected, score, percent", ADHERENCE)
def test_adherence(frequency, period, kept, through, expected, score, percent):
    result = adherence(frequency, period, kept, through)
    assert (result.expected, result.score, result.percent) == (expected, score, percent)
    assert (result.rate is None) == (expected == 0)


def test_adherence_in_words_and_counts():
    result = adherence(DAILY, FOUR_WEEKS, logs((0, "done"), (1, "partly"), (2, "not")), MON + 3 * D)
    assert result.words() == "38% (1.5 of 4 expected)"
    assert (result.done, result.partly, result.not_done) == (1, 1, 1)
    assert adherence(DAILY, FOUR_WEEKS, [], MON - D).words() == "Nothing due yet"


# (frequency, period, day, the block holding it, what the block expects)
BLOCKS = [
    (DAILY, FOUR_WEEKS, MON + 3 * D, (MON + 3 * D, MON + 3 * D), 1),               # a day is its own block
    (TWICE_DAILY, FOUR_WEEKS, MON, (MON, MON), 2),                                  # twice a day: 2 in it
    (THRICE_WEEKLY, FOUR_WEEKS, MON + 6 * D, (MON, MON + 6 * D), 3),                # the first week's last day
    (THRICE_WEEKLY, FOUR_WEEKS, MON + 7 * D, (MON + 7 * D, MON + 13 * D), 3),       # the second week's first
    (THRICE_WEEKLY, Period(MON, MON + 9 * D), MON + 8 * D, (MON + 7 * D, MON + 9 * D), 2),  # a 3-day last week
    (Frequency(1, "week"), Period(MON, MON + 7 * D), MON + 7 * D, (MON + 7 * D, MON + 7 * D), 1),  # 1 day: 1 (up)
    (Frequency(14, "week"), Period(MON, MON + 7 * D), MON + 7 * D, (MON + 7 * D, MON + 7 * D), 2),  # 14 x 1/7
]


@pytest.mark.parametrize("frequency, period, day, block, due", BLOCKS)
def test_blocks_and_what_they_expect(frequency, period, day, block, due):
    assert block_of(frequency, period, day) == block
    assert expected_in_block(frequency, block) == due


TODAY = MON + 10 * D

# (frequency, period, days already logged, the day logged, today, occurrence, the reason's start)
OCCURRENCES = [
    (DAILY, FOUR_WEEKS, [], MON, TODAY, 1, None),                                    # a first log
    (TWICE_DAILY, FOUR_WEEKS, [MON], MON, TODAY, 2, None),                           # the day's second
    (TWICE_DAILY, FOUR_WEEKS, [MON, MON], MON, TODAY, None, "Already logged twice a day"),  # the day is full
    (DAILY, FOUR_WEEKS, [], TODAY + D, TODAY, None, "Choose today or an earlier day"),     # tomorrow
    (DAILY, FOUR_WEEKS, [], MON - D, TODAY, None, "This practice starts on Monday 2 March"),  # before the start
    (DAILY, Period(MON, MON + 2 * D), [], MON + 3 * D, TODAY, None,
     "This practice ended on Wednesday 4 March"),                                    # after its period
    (THRICE_WEEKLY, FOUR_WEEKS, [MON], MON, TODAY, None, "Already logged for Monday 2 March"),  # weekly: once a day
    (THRICE_WEEKLY, FOUR_WEEKS, [MON, MON + D], MON + 2 * D, TODAY, 1, None),        # the week's third
    (THRICE_WEEKLY, FOUR_WEEKS, [MON, MON + D, MON + 2 * D], MON + 3 * D, TODAY, None,
     "Already logged 3 times in the week of Monday 2 March to Sunday 8 March"),              # the week is full
    (THRICE_WEEKLY, FOUR_WEEKS, [MON, MON + D, MON + 2 * D], MON + 7 * D, TODAY, 1, None),  # a new week
    (DAILY, FOUR_WEEKS, [], TODAY, TODAY, 1, None),                                  # today itself
]


@pytest.mark.parametrize("frequency, period, logged, day, today, occurrence, reason", OCCURRENCES)
def test_which_occurrence_a_log_fills(frequency, period, logged, day, today, occurrence, reason):
    found, problems = occurrence_for(frequency, period, logged, day, today)
    assert found == occurrence
    if reason is None:
        assert problems == {}
    else:
        assert list(problems) == ["for_date"] and problems["for_date"].startswith(reason)
        if reason.startswith("Already logged"):  # says what the patient can do instead
            assert problems["for_date"].endswith(LOG_STAYS)


# (frequency, days already logged, the days offered, those still open)
OPEN_DAYS = [
    (DAILY, [MON + 9 * D], [TODAY, MON + 9 * D, MON + 8 * D], [TODAY, MON + 8 * D]),  # yesterday logged: skipped
    (TWICE_DAILY, [TODAY], [TODAY, MON + 9 * D], [TODAY, MON + 9 * D]),               # once of twice: still open
    (THRICE_WEEKLY, [MON + 7 * D, MON + 8 * D, MON + 9 * D], [TODAY, MON + 6 * D],     # this week full
     [MON + 6 * D]),                                                                    # (last week's day open)
    (DAILY, [], [], []),                                                               # nothing offered
]


@pytest.mark.parametrize("frequency, logged, days, still_open", OPEN_DAYS)
def test_the_day_picker_offers_only_days_still_open(frequency, logged, days, still_open):
    assert open_days(frequency, FOUR_WEEKS, logged, days, TODAY) == still_open


# (times, per, the field refused, or None)
FREQUENCIES = [
    (1, "day", None),          # once a day
    (6, "day", None),          # the most a day
    (7, "day", "times"),       # more than that
    (14, "week", None),        # the most a week
    (15, "week", "times"),     # more than that
    (0, "week", "times"),      # never is not a frequency
    (None, "week", "times"),   # not given
    (3, "month", "per"),       # not a period the rules know
    (3, None, "per"),          # not given
]


@pytest.mark.parametrize("times, per, field", FREQUENCIES)
def test_frequency_checks(times, per, field):
    assert list(frequency_problems(times, per)) == ([field] if field else [])


# (starts_on, ends_on, the field refused, or None); the course began on MON
PERIODS = [
    (MON, MON + 27 * D, None),           # four weeks
    (MON, MON, None),                    # a single day
    (MON - D, MON + 6 * D, "starts_on"),  # before the course began
    (None, MON, "starts_on"),            # no first day
    (MON, None, "ends_on"),              # no last day
    (MON + D, MON, "ends_on"),           # ends before it starts
    (MON, MON + 365 * D, None),          # 366 days, the most
    (MON, MON + 366 * D, "ends_on"),     # a day more
]


@pytest.mark.parametrize("starts_on, ends_on, field", PERIODS)
def test_period_checks(starts_on, ends_on, field):
    assert list(period_problems(starts_on, ends_on, MON)) == ([field] if field else [])


def test_progress_of_the_block_under_way():
    kept = logs((7, "done"), (8, "not"))
    progress = progress_on(THRICE_WEEKLY, FOUR_WEEKS, kept, MON + 9 * D)
    assert (progress.block, progress.expected, progress.logged) == ((MON + 7 * D, MON + 13 * D), 3, 2)
    assert progress_on(THRICE_WEEKLY, FOUR_WEEKS, kept, MON + 40 * D) is None   # outside the period


@pytest.mark.parametrize("frequency, words", [(DAILY, "once a day"), (TWICE_DAILY, "twice a day"),
                                              (THRICE_WEEKLY, "3 times a week"), (Frequency(1, "week"), "once a week")])
def test_frequency_in_words(frequency, words):
    assert frequency.words() == words
