"""The feed and the invitation download read back by two parsers other than the icalendar that wrote
them, vobject and Mozilla's ical.js, each using the file's own VTIMEZONE: every event's UTC start
and end must be the database's, over two years of daylight-saving changes (issue 25, point 5)."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.calendars import views as calendar_views
from ketamine_integration.extensions import db
from tests.calendar_readers.readers import both_readers
from tests.integration.test_calendars import _appointment, _new_feed

pytestmark = pytest.mark.both_engines  # the instants go through each engine's date-time columns

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
DOMAIN = "@clinic-calendar.invalid"
#: the clock at each feed read: a window of 60 days back and 400 ahead each, together January 2026
#: to April 2028, five changes of the clocks
READS = (datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2027, 3, 1, 12, tzinfo=UTC))


def _local_times() -> list[datetime]:
    """10:00 every third day, and on each day the clocks change and the days either side at 00:30,
    01:30 (in the autumn twice over: the repeated hour, written in UTC), 03:30 and 10:00."""
    times = {datetime(2026, 1, 2, 10, tzinfo=NY) + timedelta(days=3 * n) for n in range(275)}
    changes = (date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7), date(2028, 3, 12))
    for change in changes:
        for day in (change - timedelta(days=1), change, change + timedelta(days=1)):
            for hour, minute, fold in ((0, 30, 0), (1, 30, 0), (1, 30, 1), (3, 30, 0), (10, 0, 0)):
                times.add(datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY, fold=fold))
    by_instant = {t.astimezone(UTC): t for t in times}  # one appointment per instant
    return sorted(by_instant.values(), key=lambda t: t.astimezone(UTC))


@pytest.fixture
def therapist(make):
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint", email="hazel@clinic.example")
    patient = make.patient(given_name="Tamsin", family_name="Sorrel", therapists=[therapist])
    return therapist, patient


def _book_all(make, clinician: int, patient: int, local_times: list[datetime]) -> None:
    """Appointments as the booking service leaves them (test_calendars._appointment), in one transaction."""
    def add():
        for local in local_times:
            start = local.astimezone(UTC)
            appointment = Appointment(patient_id=patient, clinician_id=clinician, kind="follow_up", starts_at=start,
                                      ends_at=start + timedelta(minutes=50), modality="telehealth",
                                      created_by_id=clinician)
            appointment.changes.append(AppointmentChange(change="booked", by_user_id=clinician))
            db.session.add(appointment)
        db.session.flush()
    make.run(add)


def _stored(make) -> dict[str, tuple[datetime, datetime]]:
    """Every appointment's UTC start and end as the database gives them back, by its event's UID."""
    columns = select(Appointment.id, Appointment.starts_at, Appointment.ends_at)
    rows = make.query(lambda: db.session.execute(columns).all())
    return {f"appointment-{i}{DOMAIN}": (s.astimezone(UTC), e.astimezone(UTC)) for i, s, e in rows}


def test_two_years_of_feed_events_read_as_the_database_holds_them(therapist, make, auth, client, monkeypatch):
    _book_all(make, *therapist, _local_times())
    stored = _stored(make)
    path = _new_feed(auth, client, "ther")
    covered = set()
    for now in READS:
        monkeypatch.setattr(calendar_views, "utcnow", lambda now=now: now)
        response = client.get(path)
        assert response.status_code == 200
        expected = {uid: times for uid, times in stored.items()
                    if now - timedelta(days=60) <= times[0] < now + timedelta(days=400)}
        for reader, events in both_readers(response.get_data()).items():
            read = {uid: (e.starts_at, e.ends_at) for uid, e in events.items()}
            wrong = sorted((times[0], read.get(uid)) for uid, times in expected.items() if read.get(uid) != times)
            assert not wrong, f"{reader}: {len(wrong)} of {len(expected)} events read wrong, e.g. {wrong[:3]}"
            assert set(read) == set(expected), reader
            zoned = [e for e in events.values() if e.zone is not None]
            # every event but those in a repeated hour names the clinic's zone, resolved from the file
            assert {e.zone for e in zoned} == {"America/New_York"} and len(zoned) >= len(expected) - 30
        covered |= set(expected)
    assert covered == set(stored) and len(stored) > 300


@pytest.mark.parametrize("starts", [
    datetime(2027, 12, 6, 10, tzinfo=NY),           # after November 2027, where the RDATE list misled both
    datetime(2028, 7, 3, 10, tzinfo=NY),            # daylight time, two summers on
    datetime(2027, 3, 14, 3, 30, tzinfo=NY),        # the first hour after the spring change
])
def test_an_invitation_reads_as_the_database_holds_it(therapist, make, auth, client, starts):
    appointment = _appointment(make, therapist[0], therapist[1], starts, minutes=50)
    auth.sign_in("ther")
    response = client.get(f"/appointments/{appointment}/invite.ics")
    assert response.status_code == 200
    expected = _stored(make)
    for reader, events in both_readers(response.get_data()).items():
        [(uid, event)] = events.items()
        assert (event.starts_at, event.ends_at) == expected[uid], reader
        assert event.zone == "America/New_York", reader
