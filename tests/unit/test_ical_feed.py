"""The feed writer keeps each VEVENT as icalendar wrote it; the feed must stay byte for byte
what icalendar makes of the whole calendar, whatever was written before."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar

from ketamine_integration.documents import ical
from ketamine_integration.documents.ical import CalendarEvent

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def event(n: int, starts: datetime, *, summary: str = "Integration session — T.S.", status: str = "CONFIRMED",
          sequence: int = 0) -> CalendarEvent:
    changed = datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(minutes=n + sequence)
    return CalendarEvent(uid=f"appointment-{n}@clinic.invalid", sequence=sequence, status=status,
                         starts_at=starts.astimezone(UTC), ends_at=starts.astimezone(UTC) + timedelta(minutes=50),
                         summary=summary, location="Cedar Room", last_modified=changed,
                         created=datetime(2026, 10, 1, tzinfo=UTC))


def whole_calendar(events, zone=NY, name="Clinic") -> bytes:
    """The feed as icalendar writes it in one piece (how it was written before the memo)."""
    calendar = ical._calendar(zone, name=name)
    for item in events:
        calendar.add_component(ical._event(item, zone, item.last_modified))
    return ical._with_zone(calendar, zone, events)


def test_the_feed_is_what_icalendar_writes_for_the_whole_calendar():
    events = [event(n, datetime(2027, 3, 10 + n, 10, tzinfo=NY)) for n in range(6)]  # across the spring change
    events.append(event(9, datetime(2026, 11, 1, 1, 30, tzinfo=NY).replace(fold=1)))  # the repeated hour: UTC
    assert ical.feed(events, name="Clinic", zone=NY) == whole_calendar(events)


def test_a_changed_event_is_written_anew_not_served_from_the_kept_copy():
    first = [event(1, datetime(2027, 1, 5, 10, tzinfo=NY))]
    assert ical.feed(first, name="Clinic", zone=NY) == whole_calendar(first)
    for changed in ([event(1, datetime(2027, 1, 6, 11, tzinfo=NY), sequence=1)],
                    [event(1, datetime(2027, 1, 5, 10, tzinfo=NY), summary="Integration session — R.V.")],
                    [event(1, datetime(2027, 1, 5, 10, tzinfo=NY), status="CANCELLED", sequence=2)]):
        body = ical.feed(changed, name="Clinic", zone=NY)
        assert body == whole_calendar(changed)
        [written] = Calendar.from_ical(body).walk("VEVENT")
        assert written.decoded("dtstart") == changed[0].starts_at and str(written["summary"]) == changed[0].summary


def test_the_same_instant_in_another_clinic_zone_is_written_in_that_zone():
    item = event(1, datetime(2027, 6, 1, 14, tzinfo=UTC))
    berlin = ZoneInfo("Europe/Berlin")
    assert b"TZID=America/New_York:20270601T100000" in ical.feed([item], name="Clinic", zone=NY)
    body = ical.feed([item], name="Clinic", zone=berlin)
    assert body == whole_calendar([item], zone=berlin) and b"TZID=Europe/Berlin:20270601T160000" in body


def test_only_utc_events_or_none_need_no_timezone():
    ambiguous = [event(1, datetime(2026, 11, 1, 1, 0, tzinfo=NY).replace(fold=1))]  # 1:00-1:50, the second time
    for events in (ambiguous, []):
        body = ical.feed(events, name="Clinic", zone=NY)
        assert body == whole_calendar(events) and b"BEGIN:VTIMEZONE" not in body


def test_a_zone_without_offsets_needs_no_timezone_as_icalendar_decides():
    events = [event(1, datetime(2027, 6, 1, 14, tzinfo=UTC))]
    for name in ("UTC", "Etc/UTC", "Atlantic/Reykjavik"):
        zone = ZoneInfo(name)
        body = ical.feed(events, name="Clinic", zone=zone)
        assert body == whole_calendar(events, zone=zone)


def test_the_timezone_spans_every_event_even_one_written_in_utc():
    """The earliest event falls in the repeated hour (written in UTC): the VTIMEZONE still spans it."""
    events = [event(1, datetime(2026, 11, 1, 1, 0, tzinfo=NY).replace(fold=1)),
              event(2, datetime(2027, 6, 1, 10, tzinfo=NY))]
    assert ical.feed(events, name="Clinic", zone=NY) == whole_calendar(events)
