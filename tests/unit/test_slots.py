"""Free time and slots: working hours on real dates (DST included), busy time removed, ranking."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.slots import (Interval, Suggestion, WeeklyBlock, rank, slot_starts, subtract,
                                               working_intervals)

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def ny(*args):
    return datetime(*args, tzinfo=NY).astimezone(UTC)


MON_9_17 = WeeklyBlock(0, time(9), time(17))


@pytest.mark.parametrize("first, last, blocks, expected", [
    # one Monday, one block
    (date(2026, 6, 1), date(2026, 6, 1), [MON_9_17], [Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 17))]),
    # a Tuesday only: nothing
    (date(2026, 6, 2), date(2026, 6, 2), [MON_9_17], []),
    # two blocks with lunch between
    (date(2026, 6, 1), date(2026, 6, 1), [WeeklyBlock(0, time(9), time(12)), WeeklyBlock(0, time(13), time(17))],
     [Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 12)), Interval(ny(2026, 6, 1, 13), ny(2026, 6, 1, 17))]),
    # the Monday after spring forward: still 09:00-17:00 on the wall clock (13:00 UTC, not 14:00)
    (date(2026, 3, 9), date(2026, 3, 9), [MON_9_17], [Interval(ny(2026, 3, 9, 9), ny(2026, 3, 9, 17))]),
    # the Monday after fall back likewise (14:00 UTC)
    (date(2026, 11, 2), date(2026, 11, 2), [MON_9_17], [Interval(ny(2026, 11, 2, 9), ny(2026, 11, 2, 17))]),
])
def test_working_intervals(first, last, blocks, expected):
    assert working_intervals(blocks, first, last, NY) == expected


def test_dst_monday_starts_an_hour_earlier_in_utc():
    before = working_intervals([MON_9_17], date(2026, 3, 2), date(2026, 3, 2), NY)[0].start
    after = working_intervals([MON_9_17], date(2026, 3, 9), date(2026, 3, 9), NY)[0].start
    assert (before.hour, after.hour) == (14, 13)


DAY = Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 17))


@pytest.mark.parametrize("busy, expected", [
    ([], [DAY]),                                                             # nothing booked
    ([Interval(ny(2026, 6, 1, 11), ny(2026, 6, 1, 12))],                     # a booking mid-morning
     [Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 11)), Interval(ny(2026, 6, 1, 12), ny(2026, 6, 1, 17))]),
    ([Interval(ny(2026, 6, 1, 8), ny(2026, 6, 1, 10))],                      # overlapping the start
     [Interval(ny(2026, 6, 1, 10), ny(2026, 6, 1, 17))]),
    ([Interval(ny(2026, 6, 1, 8), ny(2026, 6, 1, 18))], []),                 # time off all day
    ([Interval(ny(2026, 6, 1, 17), ny(2026, 6, 1, 18))], [DAY]),             # right after: untouched
])
def test_subtract(busy, expected):
    assert subtract([DAY], busy) == expected


def test_slots_fit_the_session_and_start_inside_the_window():
    free = [Interval(ny(2026, 6, 1, 9, 10), ny(2026, 6, 1, 11))]
    window = Interval(ny(2026, 6, 1, 0), ny(2026, 6, 1, 10, 1))
    starts = slot_starts(free, timedelta(minutes=50), timedelta(minutes=30), window)
    # 09:10 is off the half-hour grid -> 09:30; 10:00 starts inside the window and fits by 11:00
    assert starts == [ny(2026, 6, 1, 9, 30), ny(2026, 6, 1, 10, 0)]


def test_no_slot_when_the_session_does_not_fit():
    free = [Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 9, 40))]
    assert slot_starts(free, timedelta(minutes=50), timedelta(minutes=30), DAY) == []


def test_rank_optimal_then_own_therapist_then_earliest():
    t0 = ny(2026, 6, 1, 9)
    s = [Suggestion(2, t0, optimal=False, own_therapist=True),
         Suggestion(3, t0 + timedelta(hours=5), optimal=True, own_therapist=False),
         Suggestion(1, t0 + timedelta(hours=6), optimal=True, own_therapist=True),
         Suggestion(1, t0 + timedelta(hours=7), optimal=True, own_therapist=True)]
    assert rank(s) == [s[2], s[3], s[1], s[0]]
