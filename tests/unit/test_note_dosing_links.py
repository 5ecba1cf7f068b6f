"""Which dosing sessions an integration note may serve (notes/dosing_links.resolve_links): windows
that include the session date, others only as a stated exception with its reason."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.windows import IntegrationWindow
from ketamine_integration.notes.dosing_links import choice_for, resolve_links

NY = ZoneInfo("America/New_York")
NOTE_DAY = date(2026, 12, 2)


def _window(opens: datetime, closes: datetime) -> IntegrationWindow:
    return IntegrationWindow(key=0, opens=opens, optimal_until=opens, closes=closes)


# dose 1 (id 11): window 3-17 November, closed before the note; dose 2 (id 12): 28 Nov - 12 Dec, open
CHOICES = [
    choice_for(11, 1, _window(datetime(2026, 11, 3, 17, tzinfo=timezone.utc),
                              datetime(2026, 11, 17, 17, tzinfo=timezone.utc)), NOTE_DAY, NY),
    choice_for(12, 2, _window(datetime(2026, 11, 28, 17, tzinfo=timezone.utc),
                              datetime(2026, 12, 12, 17, tzinfo=timezone.utc)), NOTE_DAY, NY),
]
REASON = "Late review after a hospital stay"


@pytest.mark.parametrize("in_window, exceptions, reason, links, problem_fields", [
    # the open window: an ordinary link
    ([12], [], None, {12: None}, set()),
    # nothing chosen: nothing linked, nothing to say
    ([], [], None, {}, set()),
    # the closed window ticked as if it were open: refused on the list
    ([11, 12], [], None, {11: None, 12: None}, {"dosing_sessions"}),
    # the closed window as an exception with its reason: kept with the reason
    ([12], [11], REASON, {11: REASON, 12: None}, set()),
    # ... without a reason, or one too short to say anything: refused on the reason
    ([], [11], None, {11: None}, {"dosing_exception_reason"}),
    ([], [11], " ok ", {11: "ok"}, {"dosing_exception_reason"}),
    # an open window ticked as an exception needs no reason: it is an ordinary link
    ([], [12], None, {12: None}, set()),
    # a reason with no exception chosen is refused, not silently dropped
    ([12], [], REASON, {12: None}, {"dosing_exception_reason"}),
    # a session of another course (or unsigned): refused, nothing linked
    ([99], [], None, {}, {"dosing_sessions"}),
])
def test_resolve_links(in_window, exceptions, reason, links, problem_fields):
    kept, problems = resolve_links(CHOICES, in_window, exceptions, reason)
    assert set(problems) == problem_fields and kept == links  # links are stored only when there is no problem


def test_a_window_closed_before_the_note_is_named_with_its_dates():
    _, problems = resolve_links(CHOICES, [11], [], None)
    assert problems["dosing_sessions"].startswith("Dosing session 1's window (2026-11-03 to 2026-11-17) does not "
                                                  "include the session date.")


def test_each_choice_says_whether_its_window_includes_the_day():
    assert [(c.sequence, c.includes, c.first_day, c.last_day) for c in CHOICES] == [
        (1, False, date(2026, 11, 3), date(2026, 11, 17)), (2, True, date(2026, 11, 28), date(2026, 12, 12))]
