"""The VTIMEZONE the app writes into every .ics (documents/vtimezone.py), read back by vobject and
Mozilla's ical.js, which kept only the first date of icalendar's RDATE lists (issue 25, point 5)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from ketamine_integration.documents import ical
from ketamine_integration.documents.ical import CalendarEvent
from ketamine_integration.documents.vtimezone import onsets, vtimezone
from tests.calendar_readers.readers import icaljs_events, vobject_events

UTC = timezone.utc


def _event(n: int, starts: datetime) -> CalendarEvent:
    start = starts.astimezone(UTC)
    return CalendarEvent(uid=f"appointment-{n}@clinic.invalid", sequence=0, status="CONFIRMED", starts_at=start,
                         ends_at=start + timedelta(minutes=50), summary="Integration session",
                         location="Cedar Room", last_modified=datetime(2025, 12, 1, tzinfo=UTC),
                         created=datetime(2025, 12, 1, tzinfo=UTC))


def _two_years(zone: ZoneInfo) -> list[CalendarEvent]:
    """A session at 10:00 every fourth day of 2026 and 2027, and on each day the clocks change and
    the days either side: at 00:30, 01:30, 03:30 and 10:00 local, as the zone's rules make them
    (a time in the repeated hour is written in UTC, one in the skipped hour is its later instant)."""
    starts = [datetime(2026, 1, 1, 10, tzinfo=zone) + timedelta(days=4 * n) for n in range(183)]
    for change in onsets(zone, datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)):
        day = change.at.astimezone(zone).date()
        for offset in (-1, 0, 1):
            for hour, minute in ((0, 30), (1, 30), (3, 30), (10, 0)):
                moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone) + timedelta(days=offset)
                starts.append(moment.astimezone(UTC).astimezone(zone))
    return [_event(n, start) for n, start in enumerate(sorted(set(starts)))]


ZONES = [
    "America/New_York",   # the tests' clinic: second Sunday of March, first of November
    "America/Los_Angeles",
    "Europe/Berlin",      # last Sunday of March and of October ("-1SU")
    "Australia/Sydney",   # southern hemisphere: daylight time across the new year
    "Asia/Tokyo",         # no daylight time: one STANDARD observance
    "Europe/Dublin",      # winter is "negative daylight saving" in the tz database: IST is standard time
]


#: zones at UTC+00:00 before their VTIMEZONE's first change: vobject compares a file's zone with UTC over
#: 2000-2020 (vobject.icalendar.tzinfo_eq), finds them equal (the VTIMEZONE begins in 2025) and reads the
#: TZID with pytz instead, so vobject's own reading of the file's zone is checked by building it directly
VOBJECT_SEES_UTC = {"Europe/Dublin"}


@pytest.mark.parametrize("zone_key", ZONES)
@pytest.mark.parametrize("reader", [vobject_events, icaljs_events], ids=["vobject", "ical.js"])
def test_every_event_of_two_years_reads_as_the_instant_it_was_written_from(zone_key, reader):
    zone = ZoneInfo(zone_key)
    events = _two_years(zone)
    body = ical.feed(events, name="Appointments", zone=zone)
    read = reader(body)
    wrong = [(e.uid, e.starts_at, read[e.uid].starts_at) for e in events
             if (read[e.uid].starts_at, read[e.uid].ends_at) != (e.starts_at, e.ends_at)]
    assert not wrong, f"{len(wrong)} of {len(events)} events read at another instant, e.g. {wrong[:3]}"
    zoned = _zoned_uids(body)
    assert len(zoned) > len(events) / 2  # the rest are in a repeated hour, written in UTC
    if reader is vobject_events and zone_key in VOBJECT_SEES_UTC:
        return  # test_a_zone_at_utc_in_winter_reads_right_in_its_own_vtimezone reads it with vobject's own zone
    unresolved = [uid for uid in zoned if read[uid].zone != zone_key]
    assert not unresolved, f"{reader.__name__} did not read {unresolved[:3]} in the file's own VTIMEZONE"


def _zoned_uids(body: bytes) -> set[str]:
    return {str(event["uid"]) for event in Calendar.from_ical(body).walk("VEVENT")
            if "TZID" in event["dtstart"].params}


@pytest.mark.parametrize("reader", [vobject_events, icaljs_events], ids=["vobject", "ical.js"])
def test_an_invitation_far_ahead_reads_right(reader):
    """An invitation for one session after November 2027 (where the RDATE form went wrong)."""
    zone = ZoneInfo("America/New_York")
    item = _event(1, datetime(2027, 12, 6, 10, tzinfo=zone))
    body = ical.invitation(item, organizer=ical.Person("Clinic", "desk@clinic.invalid"),
                           attendees=[ical.Person("Hazel Quint", "hazel@clinic.invalid")], zone=zone,
                           now=datetime(2026, 12, 5, tzinfo=UTC))
    [(uid, read)] = reader(body).items()
    assert read.starts_at == datetime(2027, 12, 6, 15, tzinfo=UTC) and read.zone == "America/New_York"


def test_new_york_is_two_yearly_rules_with_dtstart_read_by_tzoffsetfrom():
    written = vtimezone("America/New_York", 2025, 2029)
    assert "COMMENT" not in written and "RDATE" not in written.to_ical().decode()
    [daylight] = written.walk("DAYLIGHT")
    [standard] = written.walk("STANDARD")
    # RFC 5545 3.6.5: DTSTART is local time read with TZOFFSETFROM: 02:00 EST, 02:00 EDT
    assert daylight.decoded("dtstart") == datetime(2025, 3, 9, 2, 0)
    assert standard.decoded("dtstart") == datetime(2025, 11, 2, 2, 0)
    assert daylight["rrule"].to_ical() == b"FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"
    assert standard["rrule"].to_ical() == b"FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"
    offsets = (daylight.decoded("tzoffsetfrom"), daylight.decoded("tzoffsetto"))
    assert offsets == (timedelta(hours=-5), timedelta(hours=-4))
    assert str(daylight["tzname"]) == "EDT" and str(standard["tzname"]) == "EST"


def test_a_rule_that_ended_carries_until_and_a_one_off_change_stands_alone():
    """São Paulo kept daylight time until February 2019 and then stopped."""
    written = vtimezone("America/Sao_Paulo", 2016, 2021)
    [ended] = [o for o in written.walk("STANDARD") if "rrule" in o]
    assert ended["rrule"]["UNTIL"] == (datetime(2019, 2, 17, 2, 0, tzinfo=UTC))
    assert all("rrule" not in o for o in written.walk("DAYLIGHT") if o.decoded("dtstart").year == 2018)


@pytest.mark.parametrize("reader", [vobject_events, icaljs_events], ids=["vobject", "ical.js"])
def test_a_zone_whose_rule_ended_reads_right_before_and_after(reader):
    zone = ZoneInfo("America/Sao_Paulo")
    events = [_event(n, datetime(2017, 1, 1, 10, tzinfo=zone) + timedelta(days=5 * n)) for n in range(220)]
    read = reader(ical.feed(events, name="Appointments", zone=zone))
    assert [read[e.uid].starts_at for e in events] == [e.starts_at for e in events]


@pytest.mark.parametrize("reader", [vobject_events, icaljs_events], ids=["vobject", "ical.js"])
def test_a_rule_that_ended_east_of_utc_keeps_its_last_change(reader):
    """Gaza's autumn change moves from the fourth Saturday of October (2025, 2026) to the last (2027 on):
    the first rule's UNTIL, its last onset in UTC (23:00 the day before), made vobject and icalendar drop
    that onset and read sessions an hour off from October 2026 to March 2027."""
    zone = ZoneInfo("Asia/Gaza")
    events = [_event(n, datetime(2026, 9, 1, 10, tzinfo=zone) + timedelta(days=3 * n)) for n in range(80)]
    read = reader(ical.feed(events, name="Appointments", zone=zone))
    assert [read[e.uid].starts_at for e in events] == [e.starts_at for e in events]


def test_dublin_summer_is_daylight_and_winter_standard():
    """Dublin's tz rules make winter GMT the negative-saving time (dst() is -1 h) and summer IST the
    standard one: observances are chosen by offset (the larger offset of the year is DAYLIGHT),
    as every other zone writes them and as vobject and icalendar read them."""
    written = vtimezone("Europe/Dublin", 2026, 2027)
    [daylight] = written.walk("DAYLIGHT")
    [standard] = written.walk("STANDARD")
    assert (daylight.decoded("tzoffsetfrom"), daylight.decoded("tzoffsetto")) == (timedelta(0), timedelta(hours=1))
    assert daylight["rrule"].to_ical() == b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" and str(daylight["tzname"]) == "IST"
    assert (standard.decoded("tzoffsetfrom"), standard.decoded("tzoffsetto")) == (timedelta(hours=1), timedelta(0))
    assert str(standard["tzname"]) == "GMT"


@pytest.mark.parametrize("zone_key, year, daylight", [
    ("Asia/Pyongyang", 2018, []),                      # a permanent move forward (+08:30 to +09:00) is no daylight
    ("America/Sao_Paulo", 2018, [(-3, -2)]),           # its last spring change, then no more
    ("Australia/Sydney", 2026, [(10, 11)]),            # October forward, across the new year
])
def test_daylight_is_the_larger_offset_of_a_year_with_changes_both_ways(zone_key, year, daylight):
    changes = onsets(ZoneInfo(zone_key), datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    hours = [(o.offset_from / timedelta(hours=1), o.offset_to / timedelta(hours=1)) for o in changes if o.daylight]
    assert hours == daylight


@pytest.mark.parametrize("zone_key", sorted(VOBJECT_SEES_UTC))
def test_a_zone_at_utc_in_winter_reads_right_in_its_own_vtimezone(zone_key):
    """vobject's zone built from the file's VTIMEZONE (dateutil's tzical, what vobject reads a file
    with) gives each event's wall-clock time in the file the instant it was written from."""
    zone = ZoneInfo(zone_key)
    events = _two_years(zone)
    calendar = vobject.readOne(ical.feed(events, name="Appointments", zone=zone).decode())
    own = calendar.vtimezone.gettzinfo()
    assert own._tzid == zone_key                         # dateutil's zone from the file, not pytz's
    read = {str(e.uid.value): e.dtstart for e in calendar.vevent_list if "X-VOBJ-ORIGINAL-TZID" in e.dtstart.params}
    assert len(read) > len(events) / 2                   # the rest are in a repeated hour, written in UTC
    wrong = [(e.uid, e.starts_at) for e in events if e.uid in read
             and read[e.uid].value.replace(tzinfo=own).astimezone(UTC) != e.starts_at]
    assert not wrong, f"{len(wrong)} of {len(read)} events read at another instant, e.g. {wrong[:3]}"
