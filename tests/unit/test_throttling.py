"""The sign-in back-off rule: when a key with recent failures may try again."""
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.domain.throttling import Policy, refused_until, wait_text

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
POLICY = Policy(limit=5, window=timedelta(minutes=15), backoff=timedelta(seconds=60))


def ago(*seconds):
    return [NOW - timedelta(seconds=s) for s in seconds]


@pytest.mark.parametrize("failures, expected", [
    # four failures: under the limit
    (ago(1, 2, 3, 4), None),
    # the fifth, just now: one minute from the latest
    (ago(0, 1, 2, 3, 4), NOW + timedelta(seconds=60)),
    # order does not matter
    (ago(4, 0, 3, 1, 2), NOW + timedelta(seconds=60)),
    # five, the latest 59 s ago: one second left
    (ago(59, 70, 80, 90, 100), NOW + timedelta(seconds=1)),
    # five, the latest exactly 60 s ago: the pause is over
    (ago(60, 70, 80, 90, 100), None),
    # a sixth failure doubles the pause (two minutes from the latest)
    (ago(0, 61, 62, 63, 64, 65), NOW + timedelta(seconds=120)),
    # a seventh: four minutes
    (ago(0, 121, 200, 201, 202, 203, 204), NOW + timedelta(seconds=240)),
    # one of five is older than the window: it no longer counts
    (ago(0, 1, 2, 3, 15 * 60), None),
    # ...but 1 s younger than the window it does
    (ago(0, 1, 2, 3, 15 * 60 - 1), NOW + timedelta(seconds=1)),
    # ten failures want 32 minutes, yet the pause ends once six have aged out of the window
    # (four left): the sixth-oldest, 240 s ago, leaves it 11 minutes from now
    (ago(0, 60, 120, 180, 240, 300, 360, 420, 480, 540), NOW - timedelta(seconds=240) + timedelta(minutes=15)),
    # a failure stamped after "now" (another server's clock ahead, or an attempt that waited
    # for its turn) still counts, and the pause runs from it
    (ago(-5, 1, 2, 3, 4), NOW + timedelta(seconds=65)),
])
def test_refused_until(failures, expected):
    assert refused_until(failures, POLICY, NOW) == expected


def test_no_overflow_for_very_many_failures():
    failures = [NOW - timedelta(seconds=s) for s in range(500)]
    assert refused_until(failures, POLICY, NOW) <= NOW + POLICY.window


@pytest.mark.parametrize("seconds, text", [
    (0.2, "1 second"),       # never "0 seconds"
    (45, "45 seconds"),
    (59.1, "1 minute"),      # 60 s rounded up
    (60, "1 minute"),
    (61, "2 minutes"),       # rounded up: never tells someone to come back too early
    (14 * 60, "14 minutes"),
])
def test_wait_text(seconds, text):
    assert wait_text(seconds) == text
