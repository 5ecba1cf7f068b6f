"""Integration windows: computation across DST, status at every boundary, which sessions count for
which window (whether they cover it: test_coverage.py), the clinic days a window includes; the
provisional window of a planned dose, and which planned dose a booking depends on."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.protocols import Span, Window
from ketamine_integration.domain.windows import (IntegrationWindow, WindowStatus, assign_sessions, booked_for,
                                                 day_start, expected_end, provisional_window_for, shift,
                                                 status_at, window_for)

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
IV = Window(opens_after=Span(24, "h"), optimal_until=Span(72, "h"), closes_after=Span(14, "d"))


def ny(*args, fold=0):
    return datetime(*args, tzinfo=NY, fold=fold)


@pytest.mark.parametrize("anchor, span, expected", [
    # an ordinary week: 24 h and 1 day agree
    (ny(2026, 6, 10, 11, 0), Span(24, "h"), ny(2026, 6, 11, 11, 0)),
    (ny(2026, 6, 10, 11, 0), Span(1, "d"), ny(2026, 6, 11, 11, 0)),
    # spring forward (8 March 2026, 02:00 -> 03:00): 24 elapsed hours end at 12:00 local...
    (ny(2026, 3, 7, 11, 0), Span(24, "h"), ny(2026, 3, 8, 12, 0)),
    # ...while one calendar day keeps the wall clock: 11:00 again (23 hours later)
    (ny(2026, 3, 7, 11, 0), Span(1, "d"), ny(2026, 3, 8, 11, 0)),
    # fall back (1 November 2026, 02:00 -> 01:00): 24 hours end at 10:00 local
    (ny(2026, 10, 31, 11, 0), Span(24, "h"), ny(2026, 11, 1, 10, 0)),
    (ny(2026, 10, 31, 11, 0), Span(1, "d"), ny(2026, 11, 1, 11, 0)),    # 25 hours later
    # 14 days spanning the change keep the wall clock too
    (ny(2026, 10, 25, 16, 30), Span(14, "d"), ny(2026, 11, 8, 16, 30)),
    # a wall time in the spring-forward gap (02:30 does not exist) moves forward to 03:30
    (ny(2026, 3, 7, 2, 30), Span(1, "d"), ny(2026, 3, 8, 3, 30)),
    # a wall time that happens twice (01:30 on fall-back day) is the first, EDT
    (ny(2026, 10, 31, 1, 30), Span(1, "d"), ny(2026, 11, 1, 1, 30, fold=0)),
    # fractional hours
    (ny(2026, 6, 10, 11, 0), Span(1.5, "h"), ny(2026, 6, 10, 12, 30)),
])
def test_shift(anchor, span, expected):
    result = shift(anchor, span, NY)
    # compare in UTC: PEP 495 makes == across zones false for a wall time that occurs twice
    assert result == expected.astimezone(UTC) and result.tzinfo is UTC


def test_shift_refuses_naive_times():
    with pytest.raises(ValueError):
        shift(datetime(2026, 1, 1), Span(1, "d"), NY)


def test_window_is_anchored_on_the_end_of_dosing():
    end = ny(2026, 3, 6, 15, 45)  # Friday before spring forward
    w = window_for(7, end, IV, NY)
    assert w.opens == ny(2026, 3, 7, 15, 45)                 # +24 h, before the change
    assert w.optimal_until == ny(2026, 3, 9, 16, 45)          # +72 h crosses it: 16:45 EDT
    assert w.closes == ny(2026, 3, 20, 15, 45)               # +14 calendar days: same wall clock
    assert w.closes - end == timedelta(days=14, hours=-1)    # ...which is an hour short in UTC


def test_window_closing_at_midnight_belongs_to_the_next_day():
    w = window_for(1, ny(2026, 5, 1, 0, 0), IV, NY)
    assert w.closes.astimezone(NY) == ny(2026, 5, 15, 0, 0)
    assert status_at(w, w.closes - timedelta(microseconds=1)) is WindowStatus.CLOSING_SOON
    assert status_at(w, w.closes) is WindowStatus.CLOSED


W = IntegrationWindow(key=1, opens=datetime(2026, 6, 2, 12, tzinfo=UTC),
                      optimal_until=datetime(2026, 6, 4, 12, tzinfo=UTC),
                      closes=datetime(2026, 6, 15, 12, tzinfo=UTC))


@pytest.mark.parametrize("now, expected", [
    (W.opens - timedelta(seconds=1), WindowStatus.NOT_YET_OPEN),      # a second before it opens
    (W.opens, WindowStatus.OPEN_OPTIMAL),                             # exactly on the opening boundary
    (W.optimal_until - timedelta(seconds=1), WindowStatus.OPEN_OPTIMAL),
    (W.optimal_until, WindowStatus.OPEN),                             # optimal span ends here
    (W.closes - timedelta(hours=48), WindowStatus.OPEN),              # exactly 48 h left is not "under 48 h"
    (W.closes - timedelta(hours=47, minutes=59), WindowStatus.CLOSING_SOON),
    (W.closes - timedelta(seconds=1), WindowStatus.CLOSING_SOON),
    (W.closes, WindowStatus.CLOSED),                                  # exactly on the closing boundary
    (W.closes + timedelta(days=30), WindowStatus.CLOSED),
])
def test_status(now, expected):
    assert status_at(W, now) is expected


def test_closing_soon_outranks_optimal_in_a_short_window():
    short = IntegrationWindow(key=2, opens=W.opens, optimal_until=W.opens + timedelta(hours=40),
                              closes=W.opens + timedelta(hours=40))
    assert status_at(short, W.opens + timedelta(hours=1)) is WindowStatus.CLOSING_SOON


def _w(key, opens_day, closes_day):
    return IntegrationWindow(key=key, opens=datetime(2026, 6, opens_day, tzinfo=UTC),
                             optimal_until=datetime(2026, 6, opens_day, 12, tzinfo=UTC),
                             closes=datetime(2026, 6, closes_day, tzinfo=UTC))


def _at(day, hour=10):
    return datetime(2026, 6, day, hour, tzinfo=UTC)


@pytest.mark.parametrize("windows, sessions, shared, expected", [
    # one window, one session inside: covered
    ([_w(1, 2, 9)], [_at(3)], False, {1: [_at(3)]}),
    # a session exactly at the opening instant counts; one exactly at closing does not
    ([_w(1, 2, 9)], [datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 9, tzinfo=UTC)], False,
     {1: [datetime(2026, 6, 2, tzinfo=UTC)]}),
    # overlapping windows, one session in both: shared protocol -> both covered
    ([_w(1, 2, 9), _w(2, 4, 11)], [_at(5)], True, {1: [_at(5)], 2: [_at(5)]}),
    # ...not shared -> it counts once, for the window that closes first
    ([_w(1, 2, 9), _w(2, 4, 11)], [_at(5)], False, {1: [_at(5)], 2: []}),
    # not shared, two sessions: earliest-closing first keeps both windows covered, even though
    # the later window's session is the earlier one in time
    ([_w(1, 2, 6), _w(2, 3, 12)], [_at(4), _at(5)], False, {1: [_at(4)], 2: [_at(5)]}),
    # the order that fails greedily by session time: session on day 3 fits both, day 8 only w2
    ([_w(1, 2, 5), _w(2, 2, 10)], [_at(8), _at(3)], False, {1: [_at(3)], 2: [_at(8)]}),
    # a session outside every window covers nothing
    ([_w(1, 2, 5)], [_at(20)], False, {1: []}),
])
def test_assign_sessions(windows, sessions, shared, expected):
    assert assign_sessions(windows, sessions, per_window=1, shared=shared) == expected


def test_two_sessions_per_window():
    assigned = assign_sessions([_w(1, 2, 9)], [_at(3), _at(4), _at(5)], per_window=2, shared=False)
    assert assigned == {1: [_at(3), _at(4)]}


def test_sessions_are_read_by_their_start():
    """Any session object: `start` reads its time, and the objects themselves are assigned."""
    sessions = [("late", _at(8)), ("early", _at(3))]
    assigned = assign_sessions([_w(1, 2, 5), _w(2, 2, 10)], sessions, per_window=1, shared=False,
                               start=lambda s: s[1])
    assert assigned == {1: [("early", _at(3))], 2: [("late", _at(8))]}



# A window opening at 15:45 on 7 March and closing at 15:45 on 20 March (New York), across spring forward.
SPRING = window_for(3, ny(2026, 3, 6, 15, 45), IV, NY)


@pytest.mark.parametrize("window, day, expected", [
    (SPRING, date(2026, 3, 6), False),   # the day of the dose: the window opens the next afternoon
    (SPRING, date(2026, 3, 7), True),    # the day it opens (at 15:45): a session that day may be inside
    (SPRING, date(2026, 3, 8), True),    # the 23-hour day of spring forward
    (SPRING, date(2026, 3, 20), True),   # the day it closes (at 15:45): still inside in the morning
    (SPRING, date(2026, 3, 21), False),  # the day after it closed
    # a window closing exactly at midnight leaves the day that starts then outside it
    (window_for(1, ny(2026, 5, 1, 0, 0), IV, NY), date(2026, 5, 14), True),
    (window_for(1, ny(2026, 5, 1, 0, 0), IV, NY), date(2026, 5, 15), False),
    # fall back (1 November, a 25-hour day): the window of a dose on 31 October 11:00 opens that day at 11:00
    (window_for(4, ny(2026, 10, 31, 11, 0), IV, NY), date(2026, 11, 1), True),
])
def test_includes_day(window, day, expected):
    assert window.includes_day(day, NY) is expected


def test_day_start_is_the_clinic_midnight_in_utc():
    assert day_start(date(2026, 3, 8), NY) == datetime(2026, 3, 8, 5, tzinfo=UTC)     # EST, before the change
    assert day_start(date(2026, 3, 9), NY) == datetime(2026, 3, 9, 4, tzinfo=UTC)     # EDT, after it


@pytest.mark.parametrize("planned_start, booked, monitoring, opens, optimal_until, closes", [
    # an ordinary week: a 120-minute booking outlasts 60 minutes of monitoring, so counted from 11:00
    (ny(2026, 6, 10, 9, 0), 120, 60, ny(2026, 6, 11, 11, 0), ny(2026, 6, 13, 11, 0), ny(2026, 6, 24, 11, 0)),
    # the protocol's monitoring (esketamine: 2 hours) outlasts a 90-minute booking: from 11:00 too
    (ny(2026, 6, 10, 9, 0), 90, 120, ny(2026, 6, 11, 11, 0), ny(2026, 6, 13, 11, 0), ny(2026, 6, 24, 11, 0)),
    # no booking to say how long (its length unknown): the monitoring time alone, from 10:00
    (ny(2026, 6, 10, 9, 0), None, 60, ny(2026, 6, 11, 10, 0), ny(2026, 6, 13, 10, 0), ny(2026, 6, 24, 10, 0)),
    # spring forward (8 March 2026): 24 elapsed hours from 11:00 EST end at 12:00 EDT; the 14
    # calendar days keep the wall clock, 11:00
    (ny(2026, 3, 7, 9, 0), 120, 60, ny(2026, 3, 8, 12, 0), ny(2026, 3, 10, 12, 0), ny(2026, 3, 21, 11, 0)),
    # fall back (1 November 2026): 24 hours from 11:00 EDT end at 10:00 EST; the close keeps 11:00
    (ny(2026, 10, 31, 9, 0), 120, 60, ny(2026, 11, 1, 10, 0), ny(2026, 11, 3, 10, 0), ny(2026, 11, 14, 11, 0)),
    # a late start whose booking runs past midnight: counted from 01:30 the next day
    (ny(2026, 6, 10, 23, 30), 120, 60, ny(2026, 6, 12, 1, 30), ny(2026, 6, 14, 1, 30), ny(2026, 6, 25, 1, 30)),
])
def test_provisional_window_of_a_planned_dose(planned_start, booked, monitoring, opens, optimal_until, closes):
    window = provisional_window_for(9, planned_start, booked, monitoring, IV, NY)
    assert (window.opens, window.optimal_until, window.closes) == tuple(
        t.astimezone(UTC) for t in (opens, optimal_until, closes))
    assert window.provisional and window.key == 9


def test_the_expected_end_is_the_latest_likely_one():
    """The real window, counted from when dosing ended (before discharge), opens no later than the
    provisional one: a session booked at the provisional opening is inside the real window too."""
    planned = ny(2026, 6, 10, 9, 0)
    assert expected_end(planned, 120, 60) == ny(2026, 6, 10, 11, 0).astimezone(UTC)
    real = window_for(9, planned + timedelta(minutes=40), IV, NY)        # an infusion of 40 minutes
    provisional = provisional_window_for(9, planned, 120, 60, IV, NY)
    assert real.contains(provisional.opens) and not real.provisional
    assert not real.contains(provisional.closes - timedelta(minutes=30))  # ...one near its close is not


REAL = IntegrationWindow(key=1, opens=_at(2, 0), optimal_until=_at(4, 0), closes=_at(16, 0))
LATER = IntegrationWindow(key=2, opens=_at(10, 0), optimal_until=_at(12, 0), closes=_at(24, 0), provisional=True)
SOONER = IntegrationWindow(key=3, opens=_at(12, 0), optimal_until=_at(14, 0), closes=_at(20, 0), provisional=True)


@pytest.mark.parametrize("instant, prefer, expected", [
    # inside a signed dose's window only: it depends on no plan
    (_at(5), None, None),
    # inside a signed dose's window and a planned one's: the real window holds it whatever the plan does
    (_at(11), None, None),
    # ...unless it was booked from the planned dose's suggestions: that dose
    (_at(11), 2, 2),
    # inside two provisional windows: the earliest-closing one (the coverage rule serves it first)
    (_at(17), None, 3),
    # inside one provisional window only
    (_at(22), None, 2),
    # a preferred window that does not hold it is ignored
    (_at(22), 3, 2),
    # a booking moved within the real window of the dose it was booked for (now signed) keeps that dose
    (_at(5), 1, 1),
    # outside every window: none
    (_at(25), None, None),
])
def test_the_planned_dose_a_booking_depends_on(instant, prefer, expected):
    assert booked_for([REAL, LATER, SOONER], instant, prefer=prefer) == expected
