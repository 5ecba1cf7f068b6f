"""Dosing-series spacing and plausible values, as tables."""
from datetime import date, timedelta
from pathlib import Path

import pytest

from ketamine_integration.domain.dosing import VITAL_RANGES, mg_per_kg, spacing_problems
from ketamine_integration.domain.protocol_library import ProtocolLibrary

IV = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols").find(
    "iv-ketamine-induction", 2).protocol.experience  # 6 sessions, 1-7 days apart, within 21 days
D0 = date(2026, 3, 2)


def series(*offsets):
    return [D0 + timedelta(days=o) for o in offsets]


@pytest.mark.parametrize("dates, expected", [
    (series(0, 2, 4, 7, 9, 11), []),                              # Mon/Wed/Fri for two weeks
    (series(0), []),                                              # the first session alone
    (series(0, 0), ["is 0 day(s); the protocol asks for at least 1"]),   # two on one day
    (series(0, 8), ["is 8 days; the protocol allows at most 7"]),        # a gap too long
    (series(0, 7), []),                                           # exactly the longest gap
    (series(0, 1), []),                                           # exactly the shortest gap
    (series(0, 4, 8, 12, 16, 22), ["spans 22 days"]),              # series too long
    (series(0, 2, 4, 6, 8, 10, 12), ["7 dosing sessions; the protocol's series has 6"]),
    (series(11, 9, 0, 7, 2, 4), []),                              # order does not matter
])
def test_spacing(dates, expected):
    problems = spacing_problems(dates, IV)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected):
        assert fragment in problem


@pytest.mark.parametrize("field, value, ok", [
    ("systolic", 20, False),      # the example
    ("systolic", 50, True),       # lowest plausible
    ("systolic", 260, True),
    ("systolic", 261, False),
    ("spo2", 140, False),         # the example
    ("spo2", 100, True),
    ("spo2", 49, False),
    ("heart_rate", 24, False),
    ("diastolic", 80, True),
])
def test_vital_ranges(field, value, ok):
    assert (VITAL_RANGES[field].problem(value, field) is None) == ok


def test_mg_per_kg():
    assert mg_per_kg(35, 70) == 0.5
    assert mg_per_kg(40, 81.5) == 0.491
