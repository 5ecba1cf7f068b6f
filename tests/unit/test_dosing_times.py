"""The times of a dosing record in their order (experience.record_times.time_problems): dosing ends
after it starts, discharge comes after the start and within a day of it, and the REMS "ready to
leave" time lies between the start of dosing and discharge."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.experience.record_times import starts_during, time_problems

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=NY)
START = datetime(2026, 6, 1, 9, 0, tzinfo=NY)


def _after(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


@pytest.mark.parametrize("times, expected", [
    # an ordinary session: 40 minutes of dosing, discharge at 130, ready to leave at 90
    (dict(ended_at=_after(40), discharged_at=_after(130), ready_to_leave_at=_after(90)), {}),
    # the review: dosing 08:00-19:59 (here 09:00-20:59), discharge the next day 26.5 hours after the start
    (dict(ended_at=_after(719), discharged_at=_after(26.5 * 60)),
     {"discharged_at": "Discharge more than 24 hours after the start of dosing is not plausible; check the date."}),
    # exactly 24 hours after the start is still plausible (an overnight observation)
    (dict(ended_at=_after(40), discharged_at=_after(24 * 60)), {}),
    # the review's draft: discharge before the start and no end time
    (dict(discharged_at=_after(-60)), {"discharged_at": "Discharge comes after the start of dosing; check the time."}),
    # discharge at the very minute dosing started
    (dict(discharged_at=_after(0)), {"discharged_at": "Discharge comes after the start of dosing; check the time."}),
    # after the start but before the end of dosing
    (dict(ended_at=_after(40), discharged_at=_after(30)),
     {"discharged_at": "Discharge cannot come before the end of dosing."}),
    # REMS: ready to leave before dosing started
    (dict(discharged_at=_after(130), ready_to_leave_at=_after(-30)),
     {"ready_to_leave_at": "The patient is ready to leave between the start of dosing and discharge; check the time."}),
    # ...or after discharge
    (dict(discharged_at=_after(130), ready_to_leave_at=_after(131)),
     {"ready_to_leave_at": "The patient is ready to leave between the start of dosing and discharge; check the time."}),
    # ready to leave at discharge itself is fine
    (dict(discharged_at=_after(130), ready_to_leave_at=_after(130)), {}),
    # a draft without a start yet: discharge alone is not judged against it
    (dict(started_at=None, discharged_at=_after(-60)), {}),
])
def test_times_of_a_record_in_their_order(times, expected):
    values = dict(dict(started_at=START), **times)
    assert time_problems(values, NOW) == expected


@pytest.mark.parametrize("other, inside", [
    # another session monitored (or booked) 07:00-09:30: this dose starts inside it
    ((_after(-120), _after(30)), True),
    # another booked 10:00-12:00 starts inside this one's 09:00-11:10
    ((_after(60), _after(180)), True),
    # another discharged at the very minute this dose starts: still inside its monitoring
    ((_after(-130), _after(0)), True),
    # another booked to start at the minute this one's discharge is recorded
    ((_after(130), _after(250)), True),
    # another booked later that day, after this one's discharge
    ((_after(240), _after(360)), False),
    # another held that morning, discharged before this dose
    ((_after(-180), _after(-30)), False),
    # a planned session whose booking is gone: its planned start alone, inside this one's monitoring
    ((_after(45), _after(45)), True),
])
def test_a_dose_never_starts_during_another_sessions_monitored_or_booked_time(other, inside):
    """record_times.starts_during, for a dose from 09:00 to a discharge at 11:10."""
    assert starts_during(START, _after(130), other) is inside

