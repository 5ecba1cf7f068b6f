"""When a login session stops being usable: a pure rule, tested by table."""
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.accounts.sessions import end_reason

T0 = datetime(2026, 11, 1, 5, 0, tzinfo=timezone.utc)  # the US fall-back night, 01:00 EDT
IDLE, ABSOLUTE = timedelta(minutes=15), timedelta(hours=12)


@pytest.mark.parametrize("started, last_seen, ended, active, now, expected", [
    (T0, T0, None, True, T0, None),                                           # just signed in
    (T0, T0, None, True, T0 + timedelta(minutes=14, seconds=59), None),        # one second inside idle
    (T0, T0, None, True, T0 + IDLE, "idle"),                                   # exactly at the limit: ended
    (T0, T0 + timedelta(hours=11), None, True, T0 + timedelta(hours=11, minutes=10), None),  # busy all day
    (T0, T0 + timedelta(hours=11, minutes=59), None, True, T0 + ABSOLUTE, "absolute"),      # active but too long
    (T0, T0, T0 + timedelta(minutes=1), True, T0 + timedelta(minutes=2), "logout"),         # signed out
    (T0, T0, None, False, T0 + timedelta(minutes=1), "disabled"),               # account disabled
    (T0, T0, T0, False, T0 + timedelta(minutes=1), "logout"),                   # ended wins over disabled
    (T0, T0, None, False, T0 + ABSOLUTE, "disabled"),                            # disabled wins over timeouts
    # The clocks went back an hour at 06:00 UTC; UTC arithmetic does not notice, as it should not.
    (T0, T0 + timedelta(minutes=50), None, True, T0 + timedelta(minutes=64), None),
])
def test_end_reason(started, last_seen, ended, active, now, expected):
    assert end_reason(created_at=started, last_seen_at=last_seen, ended_at=ended,
                      user_active=active, now=now, idle=IDLE, absolute=ABSOLUTE) == expected
