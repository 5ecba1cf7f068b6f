"""iCalendar documents (RFC 5545 / 5546) built with `icalendar` from plain data.

Nothing here reads the database or knows a model: callers hand in CalendarEvent values,
already stripped to what may leave the clinic (a session type, initials at most, a place).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from .vtimezone import span_years, vtimezone_bytes

#: names no treatment: a patient's invitation carries it too (reminders.invitations)
PRODID = "-//clinic scheduling//calendar//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    #: increases with every change (RFC 5545 SEQUENCE)
    sequence: int
    #: CONFIRMED or CANCELLED
    status: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    #: when the event last changed (UTC)
    last_modified: datetime
    created: datetime
    #: a telehealth session's video link, only where the clinic lets links into calendars
    video_url: str | None = None
    #: what the event's notes say (a patient's invitation: how to join, how to cancel); None: the
    #: video link alone, when there is one
    description: str | None = None


@dataclass(frozen=True)
class Person:
    name: str
    email: str


def _calendar(zone: ZoneInfo, *, name: str | None = None, method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", zone.key)
    return calendar


def _event(item: CalendarEvent, zone: ZoneInfo, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("created", item.created)
    event.add("last-modified", item.last_modified)
    event.add("sequence", item.sequence)
    event.add("status", item.status)
    event.add("dtstart", _local_or_utc(item.starts_at, zone))
    event.add("dtend", _local_or_utc(item.ends_at, zone))
    event.add("summary", item.summary)
    event.add("location", item.location)
    if item.video_url:
        event.add("url", item.video_url)
    description = item.description or (f"Join video: {item.video_url}" if item.video_url else None)
    if description:
        event.add("description", description)
    event.add("transp", "TRANSPARENT" if item.status == "CANCELLED" else "OPAQUE")
    event.add("class", "CONFIDENTIAL")
    return event


def _local_or_utc(instant: datetime, zone: ZoneInfo) -> datetime:
    """The instant in the clinic's zone, unless its wall-clock time there is ambiguous (the
    repeated hour when clocks go back): written with TZID it would lose which of the two is
    meant, so it is written in UTC instead."""
    local = instant.astimezone(zone)
    other = local.replace(fold=1 - local.fold)
    if other.astimezone(timezone.utc) != local.astimezone(timezone.utc):
        return instant.astimezone(timezone.utc)
    return local


def _with_zone(calendar: Calendar, zone: ZoneInfo, events: list[CalendarEvent]) -> bytes:
    """The calendar written with the clinic zone's VTIMEZONE (vtimezone.py) before its events, when
    one of them names the zone."""
    return _insert_zone(calendar.to_ical(), zone, events)


def _insert_zone(written: bytes, zone: ZoneInfo, events: list[CalendarEvent]) -> bytes:
    if b";TZID=" not in written:
        return written
    at = written.index(b"BEGIN:VEVENT\r\n")
    return written[:at] + _zone_component(zone.key, events) + written[at:]


def _zone_component(zone_key: str, events: list[CalendarEvent]) -> bytes:
    """The VTIMEZONE over the whole years of all events, with a year's margin either side
    (even an event written in UTC: the zone still spans it)."""
    first, last = span_years(min(e.starts_at for e in events).date(), max(e.ends_at for e in events).date())
    return vtimezone_bytes(zone_key, first, last)


def feed(events: list[CalendarEvent], *, name: str, zone: ZoneInfo) -> bytes:
    """A subscription feed: no METHOD; each event's DTSTAMP is its last change (RFC 5545 3.8.7.2).

    Calendar apps poll a feed every few minutes and between two polls hardly an event changes,
    while icalendar takes about a millisecond to build and write one: each VEVENT is kept, as
    icalendar wrote it, under the event it was written from (a frozen value, so a changed
    appointment is a new key), and so is the VTIMEZONE for the span the events need. The feed is those
    components, in order, inside the VCALENDAR icalendar writes."""
    calendar = _calendar(zone, name=name).to_ical()
    end = b"END:VCALENDAR\r\n"
    if not calendar.endswith(end):
        raise ValueError("icalendar wrote a calendar that does not end with END:VCALENDAR")
    parts = [calendar[:-len(end)]]
    written = [_feed_event(item, zone.key) for item in events]
    # A VTIMEZONE exactly when an event names the zone (icalendar writes a zone without offsets,
    # such as UTC, as "Z"), over the span of all events.
    if any(b";TZID=" in component for component in written):
        parts.append(_zone_component(zone.key, events))
    parts += written
    parts.append(end)
    return b"".join(parts)


#: events kept as written: a clinic-wide feed's year and more of sessions, several times over
FEED_EVENTS_KEPT = 50_000


@lru_cache(maxsize=FEED_EVENTS_KEPT)
def _feed_event(item: CalendarEvent, zone_key: str) -> bytes:
    return _event(item, ZoneInfo(zone_key), item.last_modified).to_ical()


def invitation(item: CalendarEvent, *, organizer: Person, attendees: list[Person], zone: ZoneInfo,
               now: datetime) -> bytes:
    """An iTIP invitation: METHOD:REQUEST, or METHOD:CANCEL for a cancelled event (same UID)."""
    method = "CANCEL" if item.status == "CANCELLED" else "REQUEST"
    calendar = _calendar(zone, method=method)
    event = _event(item, zone, now)
    event.add("organizer", _address(organizer, role=None))
    for person in attendees:
        event.add("attendee", _address(person, role="REQ-PARTICIPANT"))
    calendar.add_component(event)
    return _with_zone(calendar, zone, [item])


def _address(person: Person, *, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = person.name
    if role:
        address.params["role"] = role
        address.params["partstat"] = "NEEDS-ACTION"
    return address
