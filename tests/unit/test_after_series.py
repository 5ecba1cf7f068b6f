"""Sessions after the series (domain/after_series.py): due dates and periods from the series' last dose
(scheduling/after_series.py says which dose), across daylight-saving changes; status; which sessions
count (none the dosing windows rest on); when the worklist flags one."""
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.after_series import (NEAR, counted_for_windows, cover_after_series, flagged,
                                                      horizon, schedule, status_at)
from ketamine_integration.domain.coverage import (ATTENDED, BOOKED, CANCELLED, NO_SHOW, Coverage,
                                                  IntegrationSession)
from ketamine_integration.domain.protocols import AfterSeries
from ketamine_integration.domain.windows import WindowStatus
from ketamine_integration.scheduling.after_series import last_series_dose

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
IM_KAP = AfterSeries(sessions=3, every_days=14)


def ny(*args):
    return datetime(*args, tzinfo=NY)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=NY).astimezone(UTC)


@pytest.mark.parametrize("anchor, rule, expected", [
    # IM KAP, last dose ended on a Tuesday afternoon: due 14, 28, 42 days later; each counts 7 days
    # either side (days 7-20, 21-34, 35-48): the periods meet without a gap
    (ny(2026, 6, 2, 15, 40), IM_KAP, [(date(2026, 6, 16), date(2026, 6, 9), date(2026, 6, 22)),
                                      (date(2026, 6, 30), date(2026, 6, 23), date(2026, 7, 6)),
                                      (date(2026, 7, 14), date(2026, 7, 7), date(2026, 7, 20))]),
    # an odd spacing (sublingual: every 21 days): 10 days before, 10 after (21 days in all)
    (ny(2026, 6, 2, 15, 40), AfterSeries(sessions=2, every_days=21),
     [(date(2026, 6, 23), date(2026, 6, 13), date(2026, 7, 3)),
      (date(2026, 7, 14), date(2026, 7, 4), date(2026, 7, 24))]),
    # a dose ending late in the evening counts from its clinic day, not from the next UTC day
    (ny(2026, 6, 2, 22, 30), AfterSeries(sessions=1, every_days=14),
     [(date(2026, 6, 16), date(2026, 6, 9), date(2026, 6, 22))]),
    # every day: a one-day period on the due date itself
    (ny(2026, 6, 2, 15, 40), AfterSeries(sessions=2, every_days=1),
     [(date(2026, 6, 3), date(2026, 6, 3), date(2026, 6, 3)), (date(2026, 6, 4), date(2026, 6, 4), date(2026, 6, 4))]),
    # the protocol asks for none
    (ny(2026, 6, 2, 15, 40), AfterSeries(sessions=0, every_days=14), []),
])
def test_due_dates_and_periods(anchor, rule, expected):
    planned = schedule(anchor, rule, NY)
    assert [(p.due, p.first_day, p.last_day) for p in planned] == expected
    assert [p.number for p in planned] == list(range(1, len(expected) + 1))
    for earlier, later in zip(planned, planned[1:]):
        assert earlier.closes == later.opens     # no gap, no overlap


def test_periods_are_clinic_days_across_the_fall_back_change():
    """DST: the last dose on October 20, 2026; the first period (October 27 to November 9) spans
    the change of November 1, so it opens at midnight EDT and closes at midnight EST: 14 days and
    an hour of elapsed time, both bounds at the clinic's midnight."""
    [first] = schedule(ny(2026, 10, 20, 11, 0), AfterSeries(sessions=1, every_days=14), NY)
    assert first.due == date(2026, 11, 3)
    assert first.opens == datetime(2026, 10, 27, 4, tzinfo=UTC)     # 00:00 EDT (UTC-4)
    assert first.closes == datetime(2026, 11, 10, 5, tzinfo=UTC)    # 00:00 EST (UTC-5)
    assert first.closes - first.opens == timedelta(days=14, hours=1)
    # the optimal span: the week around the due date (October 31 to November 6), in clinic days too
    assert (first.optimal_from, first.optimal_until) == (midnight(date(2026, 10, 31)), midnight(date(2026, 11, 7)))


def test_spring_forward_keeps_the_clinic_midnight():
    """DST: March 8, 2026 (02:00 -> 03:00) inside the period: it closes at midnight EDT."""
    [first] = schedule(ny(2026, 2, 24, 16, 0), AfterSeries(sessions=1, every_days=14), NY)
    assert (first.opens, first.closes) == (datetime(2026, 3, 3, 5, tzinfo=UTC), datetime(2026, 3, 17, 4, tzinfo=UTC))


def test_a_naive_anchor_is_refused():
    with pytest.raises(ValueError):
        schedule(datetime(2026, 6, 2, 15, 40), IM_KAP, NY)


FIRST = schedule(ny(2026, 6, 2, 15, 40), IM_KAP, NY)[0]    # counts June 9 to 22, due June 16


@pytest.mark.parametrize("now, expected", [
    (ny(2026, 6, 8, 23, 59), WindowStatus.NOT_YET_OPEN),   # the evening before its first day
    (ny(2026, 6, 9, 0, 0), WindowStatus.OPEN),             # its first day, at midnight
    (ny(2026, 6, 13, 0, 0), WindowStatus.OPEN_OPTIMAL),    # the week around the due date starts (13-19)
    (ny(2026, 6, 19, 23, 0), WindowStatus.OPEN_OPTIMAL),   # ...and ends
    (ny(2026, 6, 20, 12, 0), WindowStatus.OPEN),           # after it, more than 48 hours left
    (ny(2026, 6, 21, 0, 1), WindowStatus.CLOSING_SOON),    # under 48 hours before the period closes
    (ny(2026, 6, 23, 0, 0), WindowStatus.CLOSED),          # the day after its last day
])
def test_status(now, expected):
    assert status_at(FIRST, now) is expected


def at(month, day, hour=10):
    return ny(2026, month, day, hour).astimezone(UTC)


def session(month, day, outcome, hour=10, kind="integration"):
    return IntegrationSession(at(month, day, hour), outcome, ends_at=at(month, day, hour) + timedelta(minutes=50),
                              kind=kind)


NOW = at(6, 12, 12)


@pytest.mark.parametrize("integration, taken, expected", [
    # nothing: uncovered (the worklist's job)
    ([], [], Coverage.UNCOVERED),
    # attended inside the period: covered
    ([session(6, 11, ATTENDED)], [], Coverage.COVERED),
    # booked ahead inside the period: provisional
    ([session(6, 16, BOOKED)], [], Coverage.PROVISIONAL),
    # a past booking with no outcome: unconfirmed (confirm it before booking another)
    ([session(6, 10, BOOKED)], [], Coverage.UNCONFIRMED),
    # a booking starting at the time of asking (June 12, noon), under way: provisional, not unconfirmed
    ([session(6, 12, BOOKED, hour=12)], [], Coverage.PROVISIONAL),
    # a follow-up booked ahead in the period is the session after the series (issue 21 review)
    ([session(6, 16, BOOKED, kind="follow_up")], [], Coverage.PROVISIONAL),
    # a follow-up attended in the period covers it
    ([session(6, 11, ATTENDED, kind="follow_up")], [], Coverage.COVERED),
    # a preparation session counts for nothing after the series
    ([session(6, 11, ATTENDED, kind="preparation")], [], Coverage.UNCOVERED),
    # a no-show or a cancellation covers nothing
    ([session(6, 10, NO_SHOW), session(6, 17, CANCELLED)], [], Coverage.UNCOVERED),
    # attended before its first day (inside the last dose's window) or after its last: not this one
    ([session(6, 8, ATTENDED), session(6, 23, ATTENDED)], [], Coverage.UNCOVERED),
    # the session the last dose's window rests on does not count again after the series
    ([session(6, 10, ATTENDED)], [session(6, 10, ATTENDED)], Coverage.UNCOVERED),
    # ...but a second one in both does
    ([session(6, 10, ATTENDED), session(6, 11, ATTENDED)], [session(6, 10, ATTENDED)], Coverage.COVERED),
])
def test_coverage_of_a_session_after_the_series(integration, taken, expected):
    assert cover_after_series([FIRST], integration, taken, NOW)[1].state is expected


def test_one_session_counts_for_one_session_after_the_series():
    """Two periods, one attended session in the first: the second stays uncovered."""
    first, second = schedule(ny(2026, 6, 2, 15, 40), IM_KAP, NY)[:2]
    found = cover_after_series([first, second], [session(6, 20, ATTENDED)], [], at(6, 28))
    assert (found[1].state, found[2].state) == (Coverage.COVERED, Coverage.UNCOVERED)


@pytest.mark.parametrize("assigned, per_window, expected", [
    # one window, one session: it is taken
    ([(session(6, 3, ATTENDED),)], 1, [session(6, 3, ATTENDED)]),
    # a shared window is assigned every session inside it, and rests on the held one only
    ([(session(6, 3, NO_SHOW), session(6, 4, ATTENDED), session(6, 10, ATTENDED))], 1, [session(6, 4, ATTENDED)]),
    # nothing held: the booking it rests on (provisionally) is taken
    ([(session(6, 3, BOOKED), session(6, 10, BOOKED))], 1, [session(6, 3, BOOKED)]),
    # two per window: the two held ones
    ([(session(6, 3, ATTENDED), session(6, 4, BOOKED), session(6, 5, ATTENDED))], 2,
     [session(6, 3, ATTENDED), session(6, 5, ATTENDED)]),
    # no session asked per window still takes one (a window is served by a session, min 1)
    ([(session(6, 3, ATTENDED), session(6, 4, ATTENDED))], 0, [session(6, 3, ATTENDED)]),
    # a window with nothing takes nothing
    ([()], 1, []),
])
def test_what_the_dosing_windows_rest_on(assigned, per_window, expected):
    assert counted_for_windows(assigned, per_window) == expected


@pytest.mark.parametrize("now, sessions, expected", [
    (FIRST.opens - NEAR - timedelta(minutes=1), [], False),   # more than a week before it opens
    (FIRST.opens - NEAR, [], True),                           # a week before: near
    (FIRST.opens + timedelta(days=3), [], True),              # open, nothing booked
    (FIRST.opens + timedelta(days=3), [session(6, 16, BOOKED)], False),   # booked ahead
    (FIRST.opens + timedelta(days=3), [session(6, 9, BOOKED)], False),    # unconfirmed: confirm, do not rebook
    (FIRST.closes, [], False),                                # closed: too late to book
])
def test_the_worklist_flags_it_when_near_or_open_and_nothing_is_booked(now, sessions, expected):
    coverage = cover_after_series([FIRST], sessions, [], now)[1]
    assert flagged(FIRST, coverage, now) is expected


def test_horizon_reaches_past_the_last_period():
    anchor = ny(2026, 6, 2, 23, 59)
    last = schedule(anchor, IM_KAP, NY)[-1]
    assert anchor + horizon(IM_KAP) > last.closes


def _dose(sequence, status, ended_day):
    return SimpleNamespace(sequence=sequence, status=status,
                           ended_at=ny(2026, 6, ended_day, 9, 40) if ended_day else None)


@pytest.mark.parametrize("doses, maintenance_since, expected", [
    # the last signed dose ends the series
    ([_dose(1, "signed", 1), _dose(2, "signed", 8), _dose(3, "signed", 15)], None, 3),
    # a draft or a planned dose has no end to count from: the last signed one does
    ([_dose(1, "signed", 1), _dose(2, "signed", 8), _dose(3, "draft", 15), _dose(4, "planned", None)], None, 2),
    # a booster dosed after the course entered maintenance is no part of the series
    ([_dose(1, "signed", 1), _dose(2, "signed", 8), _dose(3, "signed", 29)], ny(2026, 6, 20, 12), 2),
    # nothing signed: no series end yet
    ([_dose(1, "draft", 1)], None, None),
])
def test_the_series_ends_with_its_last_signed_dose(doses, maintenance_since, expected):
    last = last_series_dose(doses, maintenance_since)
    assert (last.sequence if last else None) == expected
