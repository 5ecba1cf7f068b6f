"""Busy-time import (issue 25, point 6): each instance has its own length (an override keeps its own
DTEND or DURATION), declined invitations and free events do not block, and a time zone is the file's
own. Real-world shaped exports (busy_exports.py) are compared with recurring-ical-events, a library
the app does not use (it expands with its own dateutil-based code, domain/recurrence.py), plus rows
whose result is written out by hand, so that both readers being wrong the same way shows.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from ketamine_integration.domain.busy_calendar import Window, read_busy
from tests.unit.busy_exports import APPLE, GOOGLE, OUTLOOK, OWN

NY, UTC = ZoneInfo("America/New_York"), timezone.utc
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WINDOW = Window(start=NOW, end=NOW + timedelta(days=60), zone=NY, own_uid_suffix="@clinic.invalid",
                max_length=timedelta(days=14), own_addresses=frozenset({OWN}))


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


# -- the independent reading ------------------------------------------------------------

def _utc(value) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, NY).astimezone(UTC)  # an all-day date: clinic midnight
    return (value if value.tzinfo else value.replace(tzinfo=NY)).astimezone(UTC)


def _declined_by_me(component, addresses: frozenset[str]) -> bool:
    """The README's rule, written again from RFC 5545's terms: an ATTENDEE whose calendar address
    (mailto:), or EMAIL parameter when the address is no mailto: one, is one of the clinician's, with
    PARTSTAT=DECLINED."""
    found = component.get("ATTENDEE")
    for attendee in found if isinstance(found, list) else [found] if found is not None else []:
        address = str(attendee).lower()
        names = {address.replace("mailto:", "") if address.startswith("mailto:")
                 else str(attendee.params.get("EMAIL", "")).lower()}
        if attendee.params.get("PARTSTAT", "").upper() == "DECLINED" and names & addresses:
            return True
    return False


def independently(text: str, window: Window = WINDOW) -> list[tuple[datetime, datetime]]:
    """What recurring-ical-events expands (overrides and EXDATEs applied by it), less what is free,
    cancelled or declined, clipped to the window."""
    out = []
    for occurrence in recurring_ical_events.of(Calendar.from_ical(text)).between(
            window.start - window.max_length, window.end):
        if str(occurrence.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT" \
                or str(occurrence.get("STATUS", "")).upper() == "CANCELLED" \
                or _declined_by_me(occurrence, window.own_addresses):
            continue
        begins, ends = _utc(occurrence.decoded("DTSTART")), _utc(occurrence.decoded("DTEND"))
        begins, ends = max(begins, window.start), min(ends, window.end)
        if ends > begins:
            out.append((begins, ends))
    return sorted(out)


@pytest.mark.parametrize("text", [GOOGLE, OUTLOOK, APPLE], ids=["google", "outlook", "apple"])
def test_an_export_gives_what_an_independent_expansion_gives(text):
    busy = read_busy(text, WINDOW)
    assert busy == independently(text) and len(busy) >= 10


# -- what each export must give, by hand -----------------------------------------------

def test_google_overrides_keep_their_own_end_and_exdates_declines_and_free_days_are_honoured():
    busy = read_busy(GOOGLE, WINDOW)
    supervision = [b for b in busy if b[0].astimezone(NY).time() == time(14) and b[0].weekday() == 0]
    assert supervision[:4] == [
        (ny(2026, 3, 2, 14), ny(2026, 3, 2, 15)),    # the series: an hour (EST)
        (ny(2026, 3, 9, 14), ny(2026, 3, 9, 16)),    # the override's own DTEND: two hours (EDT), not the series' one
        (ny(2026, 3, 30, 14), ny(2026, 3, 30, 15)),  # 16 March moved (below), 23 March excluded
        (ny(2026, 4, 13, 14), ny(2026, 4, 13, 15)),  # 6 April excluded
    ]
    assert (ny(2026, 3, 17, 10), ny(2026, 3, 17, 10, 30)) in busy           # the moved instance, its own half hour
    assert not [b for b in busy if b[0].astimezone(NY).weekday() == 2]      # Wednesday book club: declined
    thursdays = [b[0].astimezone(NY).date() for b in busy if b[0].astimezone(NY).weekday() == 3]
    assert thursdays == [date(2026, 3, 5), date(2026, 3, 12), date(2026, 3, 26), date(2026, 4, 2), date(2026, 4, 9)]
    assert (ny(2026, 3, 27, 0), ny(2026, 3, 28, 0)) in busy                 # an opaque day off blocks the day
    assert not [b for b in busy if b[0].astimezone(NY).date() == date(2026, 3, 13)]  # a free reminder does not


def test_outlook_windows_names_a_custom_zone_and_overrides_with_their_own_duration():
    busy = read_busy(OUTLOOK, WINDOW)
    wednesdays = [b for b in busy if b[0].astimezone(NY).weekday() == 2 and b[0].astimezone(NY).hour == 10]
    assert wednesdays[:4] == [
        (ny(2026, 3, 4, 10, 30), ny(2026, 3, 4, 11, 30)),    # "Eastern Standard Time" as defined in the file
        (ny(2026, 3, 11, 10, 30), ny(2026, 3, 11, 12, 30)),  # the override's own DTEND
        (ny(2026, 3, 25, 10, 30), ny(2026, 3, 25, 10, 45)),  # 18 March excluded; the override's own DURATION
        (ny(2026, 4, 1, 10, 30), ny(2026, 4, 1, 11, 30)),
    ]
    assert len(wednesdays) == 8  # COUNT=30 from 5 November 2025 ends on 27 May 2026: every Wednesday here, less one
    india = timezone(timedelta(hours=5, minutes=30))
    assert (datetime(2026, 3, 20, 9, tzinfo=india), datetime(2026, 3, 20, 11, tzinfo=india)) in busy
    pacific = ZoneInfo("America/Los_Angeles")  # a Windows name the file does not define
    assert [b for b in busy if b[0].astimezone(pacific).time() == time(8, 30)] == [
        (datetime(2026, 4, d, 8, 30, tzinfo=pacific), datetime(2026, 4, d, 10, tzinfo=pacific)) for d in (6, 7, 8)]
    assert not [b for b in busy if b[0].astimezone(NY).time() == time(16)]  # the free inbox hour


def test_apple_declined_by_the_email_parameter_and_london_across_its_own_dst_change():
    busy = read_busy(APPLE, WINDOW)
    assert (ny(2026, 3, 17, 8), ny(2026, 3, 17, 10)) in busy                # the workshop: its own DTEND
    assert (ny(2026, 3, 6, 18), ny(2026, 3, 6, 19)) in busy                 # an RDATE with the series' hour
    assert not [b for b in busy if b[0] == ny(2026, 3, 10, 17)]             # declined (urn:uuid + EMAIL)
    assert (ny(2026, 3, 12, 17), ny(2026, 3, 12, 18)) in busy               # tentative still blocks
    london = ZoneInfo("Europe/London")
    assert [b for b in busy if b[0].astimezone(london).time() == time(15)] == [
        (datetime(2026, 3, 30, 15, tzinfo=london), datetime(2026, 3, 30, 16, tzinfo=london)),  # BST from 29 March
        (datetime(2026, 4, 6, 15, tzinfo=london), datetime(2026, 4, 6, 16, tzinfo=london)),
        (datetime(2026, 4, 13, 15, tzinfo=london), datetime(2026, 4, 13, 16, tzinfo=london))]
    assert (ny(2026, 3, 31, 0), ny(2026, 4, 2, 0)) in busy                  # two all-day dates


# -- the rules, one row each ------------------------------------------------------------

def _ics(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def _event(*lines: str, uid: str = "series") -> str:
    return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" + "".join(
        line + "\r\n" for line in lines) + "END:VEVENT\r\n"


#: a weekly hour on Mondays 14:00 New York, 2, 9 and 16 March 2026 (EST, then EDT)
SERIES = ("DTSTART;TZID=America/New_York:20260302T140000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3")
ON_9 = "RECURRENCE-ID;TZID=America/New_York:20260309T140000"
AT_14 = "DTSTART;TZID=America/New_York:20260309T140000"
ME = f"mailto:{OWN}"


@pytest.mark.parametrize("override, ninth", [
    # the override's own DTEND, same start: 14:00-16:00 (the case; it was dropped altogether)
    ((ON_9, AT_14, "DTEND;TZID=America/New_York:20260309T160000"), [(ny(2026, 3, 9, 14), ny(2026, 3, 9, 16))]),
    # its own DURATION, shorter than the series'
    ((ON_9, AT_14, "DURATION:PT20M"), [(ny(2026, 3, 9, 14), ny(2026, 3, 9, 14, 20))]),
    # moved to the next morning with its own DTEND
    ((ON_9, "DTSTART;TZID=America/New_York:20260310T090000", "DTEND;TZID=America/New_York:20260310T093000"),
     [(ny(2026, 3, 10, 9), ny(2026, 3, 10, 9, 30))]),
    # neither DTEND nor DURATION: the series' hour (a moved meeting keeps its length)
    ((ON_9, "DTSTART;TZID=America/New_York:20260309T170000"), [(ny(2026, 3, 9, 17), ny(2026, 3, 9, 18))]),
    # cancelled: the instance is gone, and the series does not put it back
    ((ON_9, AT_14, "DURATION:PT1H", "STATUS:CANCELLED"), []),
    # marked free for this week only
    ((ON_9, AT_14, "DURATION:PT1H", "TRANSP:TRANSPARENT"), []),
    # declined for this week only: gone; the series' other weeks stay
    ((ON_9, AT_14, "DURATION:PT1H", f"ATTENDEE;PARTSTAT=DECLINED:{ME}"), []),
    # the recurrence-id in UTC names the same instance as the series' zoned time
    (("RECURRENCE-ID:20260309T180000Z", AT_14, "DURATION:PT90M"), [(ny(2026, 3, 9, 14), ny(2026, 3, 9, 15, 30))]),
])
def test_an_override_keeps_its_own_length_and_state(override, ninth):
    busy = read_busy(_ics(_event(*SERIES), _event(*override)), WINDOW)
    assert busy == sorted([(ny(2026, 3, 2, 14), ny(2026, 3, 2, 15)), (ny(2026, 3, 16, 14), ny(2026, 3, 16, 15))]
                          + ninth)


def test_of_two_overrides_of_one_instance_the_higher_sequence_counts_wherever_it_stands():
    later = _event(ON_9, AT_14, "DURATION:PT3H", "SEQUENCE:2")
    earlier = _event(ON_9, AT_14, "DURATION:PT2H", "SEQUENCE:1")
    for order in [(later, earlier), (earlier, later)]:
        busy = read_busy(_ics(_event(*SERIES), *order), WINDOW)
        assert (ny(2026, 3, 9, 14), ny(2026, 3, 9, 17)) in busy and len(busy) == 3


def test_an_override_standing_before_its_series_in_the_file_still_replaces_the_instance():
    busy = read_busy(_ics(_event(ON_9, AT_14, "DTEND;TZID=America/New_York:20260309T160000"), _event(*SERIES)), WINDOW)
    assert busy[1] == (ny(2026, 3, 9, 14), ny(2026, 3, 9, 16)) and len(busy) == 3


def test_a_series_declined_with_one_instance_accepted_blocks_that_instance_only():
    busy = read_busy(_ics(_event(*SERIES, f"ATTENDEE;PARTSTAT=DECLINED:{ME}"),
                          _event(ON_9, AT_14, "DURATION:PT1H", f"ATTENDEE;PARTSTAT=ACCEPTED:{ME}")), WINDOW)
    assert busy == [(ny(2026, 3, 9, 14), ny(2026, 3, 9, 15))]


@pytest.mark.parametrize("attendees, addresses, blocks", [
    # the clinician's own line declined
    ([f"ATTENDEE;PARTSTAT=DECLINED:{ME}"], {OWN}, False),
    # the address compared without regard to case, MAILTO: included
    ([f"ATTENDEE;PARTSTAT=declined:MAILTO:{OWN.upper()}"], {OWN}, False),
    # Apple: a urn:uuid value, the address in the EMAIL parameter
    ([f'ATTENDEE;EMAIL="{OWN}";PARTSTAT=DECLINED:urn:uuid:00000000-0000-0000-0000-000000000001'], {OWN}, False),
    # someone else's address with the clinician's in EMAIL: that person declined (the value is the address)
    ([f'ATTENDEE;EMAIL="{OWN}";PARTSTAT=DECLINED:mailto:someone@example.org'], {OWN}, True),
    # the clinician's address with someone else's in EMAIL: the clinician declined
    ([f'ATTENDEE;EMAIL="someone@example.org";PARTSTAT=DECLINED:{ME}'], {OWN}, False),
    # Apple's urn:uuid with another address in EMAIL: not the clinician
    (['ATTENDEE;EMAIL="someone@example.org";PARTSTAT=DECLINED:urn:uuid:00000000-0000-0000-0000-000000000002'],
     {OWN}, True),
    # another attendee declined: says nothing of the clinician's time
    (["ATTENDEE;PARTSTAT=DECLINED:mailto:someone@example.org"], {OWN}, True),
    # the clinician tentative, or not yet answered: still blocks
    ([f"ATTENDEE;PARTSTAT=TENTATIVE:{ME}"], {OWN}, True),
    ([f"ATTENDEE;PARTSTAT=NEEDS-ACTION:{ME}"], {OWN}, True),
    ([f"ATTENDEE:{ME}"], {OWN}, True),
    # no attendee matches the address on file (another address in that calendar): it blocks
    (["ATTENDEE;PARTSTAT=DECLINED:mailto:hazel.private@example.net"], {OWN}, True),
    # no address on file: nothing counts as declined
    ([f"ATTENDEE;PARTSTAT=DECLINED:{ME}"], set(), True),
    # no attendees at all (one's own event)
    ([], {OWN}, True),
])
def test_a_declined_invitation_is_the_clinicians_own_attendee_line(attendees, addresses, blocks):
    window = Window(start=WINDOW.start, end=WINDOW.end, zone=NY, own_uid_suffix="@clinic.invalid",
                    max_length=WINDOW.max_length, own_addresses=frozenset(addresses))
    text = _ics(_event("DTSTART:20260305T150000Z", "DURATION:PT1H", "ORGANIZER:mailto:someone@example.org",
                       *attendees, uid="invite"))
    assert read_busy(text, window) == ([(datetime(2026, 3, 5, 15, tzinfo=UTC), datetime(2026, 3, 5, 16, tzinfo=UTC))]
                                       if blocks else [])


# -- a zone is the file's own ----------------------------------------------------------

def _custom(offset: str) -> str:
    return ("BEGIN:VTIMEZONE\r\nTZID:Busy Test Private Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
            f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")


NAMED = _event('DTSTART;TZID="Busy Test Private Zone":20260310T090000',
               'DTEND;TZID="Busy Test Private Zone":20260310T100000', uid="z")


def test_a_zone_defined_in_one_upload_is_not_reused_by_a_later_one_that_only_names_it():
    defining = _ics(_custom("+0530"), NAMED)
    india = timezone(timedelta(hours=5, minutes=30))
    assert read_busy(defining, WINDOW) == [(datetime(2026, 3, 10, 9, tzinfo=india),
                                            datetime(2026, 3, 10, 10, tzinfo=india))]
    independently(defining)  # icalendar itself now keeps "Busy Test Private Zone" process-wide, as +05:30
    # named without a definition: the clinic's zone (README), whatever an earlier upload or icalendar holds
    assert read_busy(_ics(NAMED), WINDOW) == [(ny(2026, 3, 10, 9), ny(2026, 3, 10, 10))]
    # defined again differently: this file's definition
    assert read_busy(_ics(_custom("-0300"), NAMED), WINDOW) == [
        (datetime(2026, 3, 10, 12, tzinfo=UTC), datetime(2026, 3, 10, 13, tzinfo=UTC))]


@pytest.mark.parametrize("lines, busy", [
    # a day's date with a DTEND that has a time (mixed value types, as a careless export writes them)
    (("DTSTART;VALUE=DATE:20260305", "DTEND:20260305T170000Z"), [(ny(2026, 3, 5, 0), ny(2026, 3, 5, 12))]),
    # a day's date with a DURATION in hours
    (("DTSTART;VALUE=DATE:20260305", "DURATION:PT10H"), [(ny(2026, 3, 5, 0), ny(2026, 3, 5, 10))]),
    # a day and some hours
    (("DTSTART;VALUE=DATE:20260305", "DURATION:P1DT2H"), [(ny(2026, 3, 5, 0), ny(2026, 3, 6, 2))]),
    # whole days as before
    (("DTSTART;VALUE=DATE:20260305", "DURATION:P1D"), [(ny(2026, 3, 5, 0), ny(2026, 3, 6, 0))]),
])
def test_an_all_day_date_with_a_length_in_hours_blocks_those_hours(lines, busy):
    """Such an event was kept as lasting nothing (a date plus hours is that date): silently not busy."""
    assert read_busy(_ics(_event(*lines, uid="day")), WINDOW) == busy


@pytest.mark.parametrize("lines, message", [
    # a RECURRENCE-ID whose UTC instant would be past year 9999 (it raised OverflowError: a server error)
    (("RECURRENCE-ID;TZID=America/New_York:99991231T230000", "DTSTART:20260305T100000Z"),
     "event 1 (UID edge): RECURRENCE-ID is not a valid date or time."),
    # a zoned DTEND at the very end of time
    (("DTSTART;VALUE=DATE:99991231", "DTEND;TZID=America/New_York:99991231T230000"),
     "event 1 (UID edge): DTEND is not a valid date or time."),
    # an RDATE period ending an hour before it starts (it was dropped silently, the file imported)
    (("DTSTART:20260305T100000Z", "DURATION:PT1H", "RDATE;VALUE=PERIOD:20260306T100000Z/20260306T090000Z"),
     "event 1 (UID edge) has an RDATE period that ends before it starts "
     "(2026-03-06T10:00:00+00:00 to 2026-03-06T09:00:00+00:00)."),
    # zoned, one of two periods
    (("DTSTART;TZID=America/New_York:20260305T100000", "DURATION:PT1H",
      "RDATE;VALUE=PERIOD;TZID=America/New_York:20260306T100000/PT1H,20260307T100000/20260307T093000"),
     "event 1 (UID edge) has an RDATE period that ends before it starts "
     "(2026-03-07T10:00:00-05:00 to 2026-03-07T09:30:00-05:00)."),
    # a negative length
    (("DTSTART:20260305T100000Z", "DURATION:PT1H", "RDATE;VALUE=PERIOD:20260306T100000Z/-PT2H"),
     "event 1 (UID edge) has an RDATE period that ends before it starts (2026-03-06T10:00:00+00:00 to -PT2H)."),
])
def test_a_time_without_a_utc_instant_is_refused_naming_the_event(lines, message):
    from ketamine_integration.domain.busy_calendar import Unreadable
    with pytest.raises(Unreadable, match=re.escape(message)):
        read_busy(_ics(_event(*lines, uid="edge")), WINDOW)


def test_an_rdate_period_with_its_end_or_length_is_busy_for_that_span():
    text = _ics(_event("DTSTART:20260305T100000Z", "DURATION:PT1H",
                       "RDATE;VALUE=PERIOD:20260306T100000Z/PT2H,20260307T100000Z/20260307T103000Z", uid="p"))
    assert read_busy(text, WINDOW) == [
        (datetime(2026, 3, 5, 10, tzinfo=UTC), datetime(2026, 3, 5, 11, tzinfo=UTC)),
        (datetime(2026, 3, 6, 10, tzinfo=UTC), datetime(2026, 3, 6, 12, tzinfo=UTC)),
        (datetime(2026, 3, 7, 10, tzinfo=UTC), datetime(2026, 3, 7, 10, 30, tzinfo=UTC))]
