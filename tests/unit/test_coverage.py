"""The coverage rule (domain/coverage.py): a window is covered by an attended session, provisionally by
a future booking (or one under way), unconfirmed by a booking over without an outcome, and uncovered
otherwise."""
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.domain.coverage import (ATTENDED, BOOKED, CANCELLED, CLINIC_CANCELLED, LATE_CANCELLED,
                                                  NO_SHOW, Coverage, IntegrationSession, cover, decide)
from ketamine_integration.domain.windows import IntegrationWindow

UTC = timezone.utc
#: the time of asking: June 10, noon
NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def _at(day, hour=10):
    return datetime(2026, 6, day, hour, tzinfo=UTC)


def _w(key, opens_day, closes_day, optimal_day=None):
    """A window [opens_day, closes_day), optimal until noon of optimal_day (the day after opening)."""
    return IntegrationWindow(key=key, opens=_at(opens_day, 0), optimal_until=_at(optimal_day or opens_day + 1, 12),
                             closes=_at(closes_day, 0))


#: an integration session's length
LENGTH = timedelta(minutes=50)


def _s(day, outcome, hour=10):
    return IntegrationSession(_at(day, hour), outcome, ends_at=_at(day, hour) + LENGTH)


COVERED, PROVISIONAL, UNCONFIRMED, UNCOVERED = (Coverage.COVERED, Coverage.PROVISIONAL, Coverage.UNCONFIRMED,
                                                Coverage.UNCOVERED)
WINDOW = _w(1, 6, 20)  # June 6 to 20, optimal until June 7 noon; NOW (June 10) is inside


@pytest.mark.parametrize("sessions, expected, optimal", [
    # attended inside the window: covered
    ([_s(8, ATTENDED)], COVERED, False),
    # attended inside the optimal span: covered there
    ([_s(7, ATTENDED)], COVERED, True),
    # future booked: covered only provisionally
    ([_s(12, BOOKED)], PROVISIONAL, False),
    # past booked with no outcome (its time came on June 8): unconfirmed
    ([_s(8, BOOKED)], UNCONFIRMED, False),
    # a booking starting right now is under way: booked, not yet held (not unconfirmed until it ends)
    ([IntegrationSession(NOW, BOOKED, ends_at=NOW + LENGTH)], PROVISIONAL, False),
    # a booking that began 49 minutes ago, still under way: provisional
    ([IntegrationSession(NOW - timedelta(minutes=49), BOOKED, ends_at=NOW + timedelta(minutes=1))], PROVISIONAL,
     False),
    # a booking ending right now: over with no outcome, unconfirmed
    ([IntegrationSession(NOW - LENGTH, BOOKED, ends_at=NOW)], UNCONFIRMED, False),
    # no-show: uncovered
    ([_s(8, NO_SHOW)], UNCOVERED, False),
    # late-cancelled: uncovered
    ([_s(8, LATE_CANCELLED)], UNCOVERED, False),
    # cancelled by the clinic: uncovered
    ([_s(8, CLINIC_CANCELLED)], UNCOVERED, False),
    # cancelled ahead of its time: uncovered
    ([_s(12, CANCELLED)], UNCOVERED, False),
    # nothing at all: uncovered
    ([], UNCOVERED, False),
    # attended, but after the window closed: covers nothing
    ([_s(21, ATTENDED)], UNCOVERED, False),
    # a no-show, then a rebooking ahead: provisional again
    ([_s(8, NO_SHOW), _s(12, BOOKED)], PROVISIONAL, False),
    # a no-show, then a rebooking whose time came with no outcome: unconfirmed
    ([_s(7, NO_SHOW), _s(9, BOOKED)], UNCONFIRMED, False),
])
def test_one_window_one_session_needed(sessions, expected, optimal):
    [coverage] = cover([WINDOW], sessions, per_window=1, shared=True, now=NOW).values()
    assert (coverage.state, coverage.optimal) == (expected, optimal)
    assert coverage.needs_booking is (expected is UNCOVERED)


@pytest.mark.parametrize("sessions, expected", [
    # two attended: covered
    ([_s(7, ATTENDED), _s(8, ATTENDED)], COVERED),
    # one attended and one ahead: provisional until the second is held
    ([_s(7, ATTENDED), _s(12, BOOKED)], PROVISIONAL),
    # one attended and one whose time came with no outcome: unconfirmed
    ([_s(7, ATTENDED), _s(9, BOOKED)], UNCONFIRMED),
    # one attended and one no-show: uncovered (not enough sessions)
    ([_s(7, ATTENDED), _s(9, NO_SHOW)], UNCOVERED),
    # one attended alone: uncovered
    ([_s(7, ATTENDED)], UNCOVERED),
])
def test_a_protocol_asking_two_sessions_per_window(sessions, expected):
    assert cover([WINDOW], sessions, per_window=2, shared=False, now=NOW)[1].state is expected


@pytest.mark.parametrize("shared, sessions, expected", [
    # shared windows, one attended session in both: it covers both
    (True, [_s(9, ATTENDED)], {1: COVERED, 2: COVERED}),
    # not shared: it counts once, for the window that closes first; the other is uncovered
    (False, [_s(9, ATTENDED)], {1: COVERED, 2: UNCOVERED}),
    # shared, one future booking in both: both provisional
    (True, [_s(12, BOOKED)], {1: PROVISIONAL, 2: PROVISIONAL}),
    # shared, one past booking without an outcome in both: both unconfirmed
    (True, [_s(9, BOOKED)], {1: UNCONFIRMED, 2: UNCONFIRMED}),
    # not shared, an attended session and a later booking: each window gets one
    (False, [_s(9, ATTENDED), _s(13, BOOKED)], {1: COVERED, 2: PROVISIONAL}),
    # not shared, the no-show counts for neither: the booking serves the first-closing window
    (False, [_s(9, NO_SHOW), _s(13, BOOKED)], {1: PROVISIONAL, 2: UNCOVERED}),
])
def test_overlapping_windows(shared, sessions, expected):
    windows = [_w(1, 6, 16), _w(2, 8, 20)]  # June 8 to 16 lies in both
    found = cover(windows, sessions, per_window=1, shared=shared, now=NOW)
    assert {key: c.state for key, c in found.items()} == expected


def test_the_decision_turns_on_the_time_of_asking_the_assignment_does_not():
    """What the stored windows keep (the sessions) does not change with the clock; the state does."""
    booking = (_s(12, BOOKED),)
    assert decide(WINDOW, booking, per_window=1, now=NOW).state is PROVISIONAL
    assert decide(WINDOW, booking, per_window=1, now=NOW + timedelta(days=3)).state is UNCONFIRMED
    # held sessions cover whenever one asks
    held = (_s(8, ATTENDED),)
    assert {decide(WINDOW, held, per_window=1, now=NOW + timedelta(days=d)).state for d in (-5, 0, 30)} == {COVERED}


def test_the_sessions_that_count_are_kept_in_time_order():
    sessions = [_s(12, BOOKED), _s(7, ATTENDED), _s(8, NO_SHOW)]
    coverage = cover([WINDOW], sessions, per_window=1, shared=True, now=NOW)[1]
    assert coverage.sessions == (_s(7, ATTENDED), _s(12, BOOKED))


PLANNED = IntegrationWindow(key=7, opens=_at(12, 0), optimal_until=_at(14, 0), closes=_at(26, 0), provisional=True)


@pytest.mark.parametrize("sessions, expected", [
    # nothing booked in a planned dose's window: uncovered, offered to book like any window
    ([], UNCOVERED),
    # a booking ahead: provisional, as in a real window
    ([_s(13, BOOKED)], PROVISIONAL),
    # a booking whose time came with no outcome (the dose is late): unconfirmed, as anywhere
    ([_s(12, BOOKED, hour=0)], UNCONFIRMED),
    # a session held inside it before the dose was signed: still only provisional, never covered
    ([_s(12, ATTENDED, hour=6)], PROVISIONAL),
    # a no-show covers nothing
    ([_s(12, NO_SHOW, hour=2)], UNCOVERED),
])
def test_a_provisional_window_is_covered_at_best_provisionally(sessions, expected):
    now = datetime(2026, 6, 12, 8, tzinfo=UTC)
    assert cover([PLANNED], sessions, per_window=1, shared=False, now=now)[7].state is expected


def _pinned(day, outcome, key, hour=10):
    """A session booked for window `key` (booked from that dose's provisional window's suggestions)."""
    return IntegrationSession(_at(day, hour), outcome, for_window=key, ends_at=_at(day, hour) + LENGTH)


#: two overlapping windows, June 8 to 16 in both; #3 is a planned dose's provisional window
EARLY, LATE = _w(2, 6, 16), _w(3, 8, 20)
PLANNED_LATE = IntegrationWindow(key=3, opens=_at(8, 0), optimal_until=_at(9, 12), closes=_at(20, 0), provisional=True)


@pytest.mark.parametrize("windows, sessions, expected", [
    # pinned: booked for #3, inside both: it counts for #3, and #2 (which closes first) is flagged
    ([EARLY, LATE], [_pinned(12, BOOKED, 3)], {2: UNCOVERED, 3: PROVISIONAL}),
    # the same booking without a pin: the earliest-closing window takes it
    ([EARLY, LATE], [_s(12, BOOKED)], {2: PROVISIONAL, 3: UNCOVERED}),
    # pinned, and the window it was booked for is provisional: still its own, even before the real #2
    ([EARLY, PLANNED_LATE], [_pinned(12, BOOKED, 3)], {2: UNCOVERED, 3: PROVISIONAL}),
    # pinned but outside its window (June 21: the dose moved): free, the greedy rule places it (nowhere here)
    ([EARLY, LATE], [_pinned(21, BOOKED, 3)], {2: UNCOVERED, 3: UNCOVERED}),
    # pinned but held outside #3 (June 7, before it opens) and inside #2: free, so #2 takes it
    ([EARLY, LATE], [_pinned(7, ATTENDED, 3)], {2: COVERED, 3: UNCOVERED}),
    # pinned to a window not given (its dose cancelled): free, the earliest-closing window takes it
    ([EARLY, LATE], [_pinned(12, BOOKED, 9)], {2: PROVISIONAL, 3: UNCOVERED}),
    # overlapping: a pinned and an unpinned session: each window gets one
    ([EARLY, LATE], [_pinned(9, ATTENDED, 3), _s(12, BOOKED)], {2: PROVISIONAL, 3: COVERED}),
    # overlapping: two booked for #3 (one needed): the first is #3's, the second is free and serves #2
    ([EARLY, LATE], [_pinned(9, ATTENDED, 3), _pinned(11, ATTENDED, 3)], {2: COVERED, 3: COVERED}),
    # a pinned no-show counts for nothing: #3 is uncovered, the unpinned booking serves #2
    ([EARLY, LATE], [_pinned(9, NO_SHOW, 3), _s(12, BOOKED)], {2: PROVISIONAL, 3: UNCOVERED}),
    # pinned to the earlier window: the later one gets the next free session
    ([EARLY, LATE], [_s(9, ATTENDED), _pinned(12, BOOKED, 2)], {2: PROVISIONAL, 3: COVERED}),
])
def test_a_session_booked_for_a_window_counts_for_it_while_it_holds_it(windows, sessions, expected):
    found = cover(windows, sessions, per_window=1, shared=False, now=NOW)
    assert {key: c.state for key, c in found.items()} == expected


def test_a_protocol_sharing_sessions_counts_a_pinned_one_for_every_window_holding_it():
    found = cover([EARLY, LATE], [_pinned(12, BOOKED, 3)], per_window=1, shared=True, now=NOW)
    assert {key: c.state for key, c in found.items()} == {2: PROVISIONAL, 3: PROVISIONAL}


def test_an_unpinned_session_goes_to_a_real_window_before_a_provisional_one():
    """A provisional window closing first takes nothing a signed dose's window needs."""
    soon = IntegrationWindow(key=5, opens=_at(8, 0), optimal_until=_at(9, 0), closes=_at(14, 0), provisional=True)
    found = cover([LATE, soon], [_s(12, BOOKED)], per_window=1, shared=False, now=NOW)
    assert {key: c.state for key, c in found.items()} == {3: PROVISIONAL, 5: UNCOVERED}
