"""The time grid's geometry (domain/time_grid.py): rows from wall-clock minutes, the hours shown,
overlapping sessions side by side, the now-line, free cells; daylight-saving days (23 and 25 hours)
included."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.slots import Interval
from ketamine_integration.domain.time_grid import (HourSpan, Placement, free_cells, hour_span, lanes,
                                                   local_instant, now_row, place_all, readable_lanes, rows_of,
                                                   wall_minute)

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
SPRING = date(2026, 3, 8)   # 02:00 -> 03:00: a 23-hour day
FALL = date(2026, 11, 1)    # 02:00 -> 01:00: a 25-hour day
JUNE = date(2026, 6, 1)
NINE_TO_FIVE = HourSpan(9 * 60, 17 * 60)


def ny(*args, fold=0):
    return datetime(*args, tzinfo=NY, fold=fold).astimezone(UTC)


@pytest.mark.parametrize("instant, day, expected", [
    (ny(2026, 6, 1, 10, 30), JUNE, 630),                  # an ordinary morning
    (ny(2026, 5, 31, 23, 0), JUNE, 0),                    # the evening before: the day's start
    (ny(2026, 6, 2, 0, 0), JUNE, 1440),                   # the next midnight: the day's end
    (ny(2026, 3, 8, 10, 0), SPRING, 600),                 # 10:00 after spring forward: row of 10:00, not 11:00
    (ny(2026, 3, 8, 3, 0), SPRING, 180),                  # the first minute after the skipped hour
    (ny(2026, 11, 1, 10, 0), FALL, 600),                  # 10:00 after fall back: row of 10:00, not 09:00
    (ny(2026, 11, 1, 1, 30, fold=0), FALL, 90),           # the repeated hour, first time
    (ny(2026, 11, 1, 1, 30, fold=1), FALL, 90),           # and second time: the same wall-clock row
])
def test_wall_minute(instant, day, expected):
    assert wall_minute(instant, day, NY) == expected


@pytest.mark.parametrize("ranges, expected", [
    ([(9 * 60, 17 * 60)], (540, 1020)),                   # one clinician's day
    ([(9 * 60 + 30, 16 * 60 + 10)], (540, 1020)),         # rounded out to whole hours
    ([(9 * 60, 17 * 60), (7 * 60 + 45, 8 * 60)], (420, 1020)),  # an early session widens it
    ([(10 * 60, 12 * 60), (18 * 60, 20 * 60 + 5)], (600, 1260)),  # evening extra hours
    ([(22 * 60, 1440)], (1320, 1440)),                    # up to midnight, not past it
    ([(600, 600)], (480, 1080)),                          # an empty range counts for nothing: fallback
    ([], (480, 1080)),                                    # no hours and no sessions: the fallback
])
def test_hour_span(ranges, expected):
    span = hour_span(ranges, fallback=(8, 18))
    assert (span.first_minute, span.last_minute) == expected


def test_hour_marks_and_rows():
    span = HourSpan(9 * 60, 12 * 60)
    assert span.hour_marks() == [("09:00", 1), ("10:00", 13), ("11:00", 25)]
    assert (span.rows, span.hours) == (36, 3)


@pytest.mark.parametrize("start, end, expected", [
    (9 * 60, 9 * 60 + 50, (1, 10)),                       # 09:00-09:50: ten five-minute rows
    (10 * 60, 10 * 60 + 30, (13, 6)),                     # 10:00-10:30
    (10 * 60 + 7, 10 * 60 + 31, (14, 6)),                 # odd minutes: from the row it starts in to the one it ends in
    (8 * 60, 9 * 60 + 30, (1, 6)),                        # starting before the span: cut at its top
    (16 * 60 + 30, 18 * 60, (91, 6)),                     # ending after it: cut at its bottom
    (12 * 60, 12 * 60, (37, 1)),                          # no length: still one row
])
def test_rows_of(start, end, expected):
    assert rows_of(start, end, NINE_TO_FIVE) == expected


@pytest.mark.parametrize("ranges, expected, count", [
    # alone: the whole column
    ([(600, 650)], [(0, 1)], 1),
    # one after another (touching): no overlap, both whole width
    ([(600, 650), (650, 700)], [(0, 1), (0, 1)], 1),
    # two overlapping: side by side
    ([(600, 660), (630, 690)], [(0, 1), (1, 1)], 2),
    # three at once, then one alone later: the late one takes all three lanes
    ([(600, 660), (600, 660), (610, 640), (720, 780)], [(0, 1), (1, 1), (2, 1), (0, 3)], 3),
    # a long one beside two short ones in turn: the short ones share the second lane
    ([(600, 720), (600, 630), (660, 690)], [(0, 1), (1, 1), (1, 1)], 2),
    # of two starting together the longer takes the first lane; the lane the short one frees is taken
    # again, and that session widens into the third lane, free by then
    ([(600, 630), (600, 720), (640, 700), (610, 620)], [(1, 1), (0, 1), (1, 2), (2, 1)], 3),
    # a block beside a short one widens into the lane nothing overlapping it holds
    ([(600, 700), (600, 620), (600, 620), (650, 700)], [(0, 1), (1, 1), (2, 1), (1, 2)], 3),
])
def test_lanes_side_by_side(ranges, expected, count):
    assert lanes(ranges) == (expected, count)


def test_more_overlaps_than_lanes_share_the_last():
    placed, count = lanes([(600, 660)] * 10)
    assert count == 8
    assert [lane for lane, _ in placed] == [0, 1, 2, 3, 4, 5, 6, 7, 7, 7]


def test_place_all_gives_rows_and_lanes():
    placed, folded, count = place_all([(600, 650), (630, 660)], NINE_TO_FIVE)
    assert count == 2 and folded == []
    assert placed == [Placement(13, 10, 0, 1), Placement(19, 6, 1, 1)]


@pytest.mark.parametrize("ranges, max_lanes, shown, folded, count", [
    # two overlapping, two lanes: nothing folded
    ([(600, 650), (630, 660)], 2, [0, 1], [], 2),
    # three at 09:00 in a week's column of two lanes: the first shown, the other two "+2 more" beside it
    ([(540, 590), (540, 590), (540, 590)], 2, [0], [((540, 590), (1, 2))], 2),
    # twelve hour-long ones starting every quarter hour (the review's Friday): four at once take four
    # lanes; the first lane is shown, the rest are one "+9 more" over their whole time
    ([(540 + 15 * n, 600 + 15 * n) for n in range(12)], 2, [0, 4, 8],
     [((555, 765), (1, 2, 3, 5, 6, 7, 9, 10, 11))], 2),
    # three at 09:00 fold, a pair at 14:00 fits: folding one group leaves the other as it is
    ([(540, 590), (540, 590), (540, 590), (840, 890), (850, 900)], 2, [0, 3, 4], [((540, 590), (1, 2))], 2),
    # three lanes allowed: two shown, the third and fourth folded into the third lane
    ([(540, 600)] * 4, 3, [0, 1], [((540, 600), (2, 3))], 3),
    # ten at once in a column alone (eight lanes): seven shown, "+3 more" in the eighth
    ([(600, 660)] * 10, 8, [0, 1, 2, 3, 4, 5, 6], [((600, 660), (7, 8, 9))], 8),
])
def test_overlaps_past_the_readable_lanes_fold_into_one_more(ranges, max_lanes, shown, folded, count):
    placed, folds, lanes_used = place_all(ranges, NINE_TO_FIVE, max_lanes)
    assert [i for i, p in enumerate(placed) if p is not None] == shown
    assert [((f.start, f.end), f.hidden) for f in folds] == folded
    assert lanes_used == count
    # the "+k more" sits in the last lane, and nothing shown shares a lane with it at its time
    for f in folds:
        assert f.place.lane == max_lanes - 1
        assert not any(p is not None and p.lane + p.width > f.place.lane and ranges[i][0] < f.end
                       and f.start < ranges[i][1] for i, p in enumerate(placed))


def test_a_session_beside_no_fold_widens_into_the_last_lane():
    # three at 09:00 fold; one at 10:00 alone takes both lanes
    placed, folds, _ = place_all([(540, 590), (540, 590), (540, 590), (600, 650)], NINE_TO_FIVE, 2)
    assert (placed[3].lane, placed[3].width) == (0, 2) and (placed[0].lane, placed[0].width) == (0, 1)


@pytest.mark.parametrize("columns, expected", [
    (7, 2),   # a week: two lanes a day
    (5, 2),   # five clinicians' columns
    (3, 4),   # three rooms
    (2, 7),   # two clinicians
    (1, 8),   # one column alone: every lane
    (20, 2),  # never fewer than two
])
def test_readable_lanes(columns, expected):
    assert readable_lanes(columns) == expected


@pytest.mark.parametrize("now, day, span, expected", [
    (ny(2026, 6, 1, 10, 42), JUNE, NINE_TO_FIVE, 21),          # 10:42: the row of 10:40
    (ny(2026, 6, 1, 8, 59), JUNE, NINE_TO_FIVE, None),         # before the hours shown
    (ny(2026, 6, 1, 17, 0), JUNE, NINE_TO_FIVE, None),         # after them
    (ny(2026, 6, 2, 10, 0), JUNE, NINE_TO_FIVE, None),         # another day's column
    (datetime(2026, 6, 2, 1, 0, tzinfo=UTC), JUNE, HourSpan(18 * 60, 24 * 60), 37),  # UTC's tomorrow is the clinic's 21:00 today
    (ny(2026, 3, 8, 10, 0), SPRING, NINE_TO_FIVE, 13),         # 23-hour day: 10:00 on the 10:00 row
    (ny(2026, 11, 1, 10, 0), FALL, NINE_TO_FIVE, 13),          # 25-hour day: likewise
    (ny(2026, 11, 1, 1, 15, fold=1), FALL, HourSpan(0, 300), 16),  # the repeated hour's second 01:15
])
def test_now_row(now, day, span, expected):
    assert now_row(now, day, NY, span) == expected


@pytest.mark.parametrize("day, minute, expected", [
    (JUNE, 600, ny(2026, 6, 1, 10)),                      # an ordinary time
    (JUNE, 1440, ny(2026, 6, 2, 0)),                      # the day's end: the next midnight
    (SPRING, 150, None),                                  # 02:30 does not exist that night
    (SPRING, 180, ny(2026, 3, 8, 3)),                     # 03:00 does
    (FALL, 90, ny(2026, 11, 1, 1, 30, fold=0)),           # 01:30 happens twice: the first
])
def test_local_instant(day, minute, expected):
    assert local_instant(day, minute, NY) == expected


def test_free_cells_inside_free_time_and_after_now():
    free = [Interval(ny(2026, 6, 1, 9), ny(2026, 6, 1, 11)), Interval(ny(2026, 6, 1, 11, 50), ny(2026, 6, 1, 13))]
    cells = free_cells(free, JUNE, NY, NINE_TO_FIVE, 30, not_before=ny(2026, 6, 1, 9, 10))
    # 09:00 has begun; 11:00-11:50 is busy, so 11:30 does not fit either; 12:00 and 12:30 do
    assert [(s, e) for s, e, _, _ in cells] == [(570, 600), (600, 630), (630, 660), (720, 750), (750, 780)]
    assert cells[0][2:] == (ny(2026, 6, 1, 9, 30), ny(2026, 6, 1, 10))


def test_free_cells_fit_the_whole_session_and_end_when_it_does():
    """Issue 21 review: a slot labelled 13:30-14:00 booked a 50-minute session ending 14:20. A start
    is offered only where the session's whole length is free, and ends when the session does."""
    free = [Interval(ny(2026, 6, 1, 13), ny(2026, 6, 1, 14))]
    cells = free_cells(free, JUNE, NY, NINE_TO_FIVE, 30, not_before=ny(2026, 6, 1, 9), length=50)
    # 13:00-13:50 fits in the free hour; 13:30-14:20 does not
    assert [(s, e) for s, e, _, _ in cells] == [(780, 810)]
    assert cells[0][2:] == (ny(2026, 6, 1, 13), ny(2026, 6, 1, 13, 50))


def test_free_cells_skip_the_hour_the_clocks_skip():
    whole_night = [Interval(ny(2026, 3, 7, 12), ny(2026, 3, 9, 12))]
    cells = free_cells(whole_night, SPRING, NY, HourSpan(0, 5 * 60), 30, not_before=ny(2026, 3, 7, 0))
    assert [s for s, _, _, _ in cells] == [0, 30, 60, 180, 210, 240, 270]  # no 01:30, 02:00 or 02:30
    # each is half an hour of real time
    assert all(end - start == timedelta(minutes=30) for _, _, start, end in cells)


def test_free_cells_on_the_day_the_clocks_go_back():
    whole_night = [Interval(ny(2026, 10, 31, 12), ny(2026, 11, 2, 12))]
    cells = free_cells(whole_night, FALL, NY, HourSpan(0, 3 * 60), 30, not_before=ny(2026, 10, 31, 0))
    assert [s for s, _, _, _ in cells] == [0, 30, 60, 90, 120, 150]
    # the 01:30 cell is drawn to 02:00 on the wall clock (an hour and a half of real time, across the
    # repeated hour), but the session it offers lasts its length: it ends 30 minutes after it starts
    assert cells[3][:2] == (90, 120) and cells[3][3] - cells[3][2] == timedelta(minutes=30)
