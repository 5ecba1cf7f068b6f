"""Feeds and invitations from appointments, and busy time from uploaded calendars."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta, timezone

import recurring_ical_events
from flask import current_app
from icalendar import Calendar, vRecur
from sqlalchemy import func, select, update

from ..accounts.models import ADMIN, STAFF, User, display_name
from ..documents.ical import CalendarEvent, Person
from ..errors import DomainError
from ..extensions import db
from ..experience.models import DosingSession
from ..patients.models import Patient
from ..scheduling.models import CANCELLED, KINDS, Appointment, AppointmentChange, Room
from ..timeutil import clinic_zone
from ..versioning import lock_row, locked_row
from .models import FEED_IDENTITY, CalendarFeed, CalendarImport, ClinicSetting, ImportedBusy

#: what a feed carries: this far back and this far ahead
FEED_PAST = timedelta(days=60)
FEED_AHEAD = timedelta(days=400)
FEED_RATE_WINDOW = timedelta(hours=1)
#: an upload larger than this is refused (a year of a busy calendar is far smaller)
MAX_IMPORT_BYTES = 1024 * 1024
#: more busy times than this in the horizon is not one person's calendar
MAX_IMPORTED_BLOCKS = 5000
#: a single imported event longer than this is not busy time to honour (e.g. "on call" for a month)
MAX_BUSY_LENGTH = timedelta(days=14)


# -- settings ---------------------------------------------------------------------------

def feed_identity() -> str:
    value = db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == "feed_identity"))
    return value if value in FEED_IDENTITY else "initials"


def set_feed_identity(value: str, *, by: User) -> None:
    if value not in FEED_IDENTITY:
        raise DomainError({"identity": "Choose one of the offered options."})
    row = locked_row(ClinicSetting, "feed_identity",
                     lambda: ClinicSetting(key="feed_identity", value=value, updated_by_id=by.id))
    row.value, row.updated_by_id = value, by.id
    db.session.flush()


# -- feeds -------------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(user: User, label: str | None) -> tuple[CalendarFeed, str]:
    """A new secret feed for `user`; returns it with the secret, which is not stored."""
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user.id, token_hash=_hash(token), token_hint=token[-4:],
                        label=(label or "").strip() or None)
    db.session.add(feed)
    db.session.flush()
    return feed, token


def revoke_feed(feed: CalendarFeed, now: datetime) -> None:
    if feed.revoked_at is not None:
        raise DomainError("This feed was revoked already.")
    feed.revoked_at = now
    db.session.flush()


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed with this secret, or None (unknown, revoked, or its user disabled)."""
    if not token or len(token) > 100:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if feed is None or feed.revoked_at is not None or not feed.user.active:
        return None
    return feed


def admit_request(feed: CalendarFeed, now: datetime) -> timedelta | None:
    """Count one request against the feed's hourly allowance (in the database, so every
    server process shares it). None if admitted, else how long until the next is."""
    lock_row(feed)
    limit = current_app.config["FEED_REQUESTS_PER_HOUR"]
    if feed.window_started_at is None or now - feed.window_started_at >= FEED_RATE_WINDOW:
        feed.window_started_at, feed.window_requests = now, 0
    if feed.window_requests >= limit:
        return feed.window_started_at + FEED_RATE_WINDOW - now
    feed.window_requests += 1
    feed.last_used_at = now
    db.session.flush()
    return None


def clinic_wide(user: User) -> bool:
    """Staff and admin subscribe to the clinic's calendar; clinicians to their own sessions."""
    return user.has_role(STAFF, ADMIN)


def _event_rows(*conditions) -> list:
    """What a calendar event is made of, one row per appointment matching `conditions`: the
    appointment's own columns, the patient's names, the dosing session's number, the room and
    clinician, and how many changes it has had and when. Columns only, in one statement: a feed
    reads a thousand of these on every poll, and as objects with their change rows they cost more
    than everything else the feed does. The change figures are correlated subqueries (an index
    lookup each), not a join to an aggregate: without table statistics (a freshly loaded table)
    PostgreSQL joined every appointment to every group, 1,000 x 1,000 rows for one feed."""
    def of_changes(aggregate):
        return (select(aggregate).where(AppointmentChange.appointment_id == Appointment.id)
                .correlate(Appointment).scalar_subquery())
    return db.session.execute(
        select(Appointment.id, Appointment.kind, Appointment.status, Appointment.starts_at, Appointment.ends_at,
               Appointment.created_at, Patient.given_name, Patient.family_name,
               # a feed event names the dosing session's number, never its clinical record
               DosingSession.sequence, Room.name.label("room"), User.full_name.label("clinician"),
               User.credentials.label("clinician_credentials"),
               of_changes(func.count(AppointmentChange.id)).label("changes"),
               of_changes(func.min(AppointmentChange.occurred_at)).label("first_change"),
               of_changes(func.max(AppointmentChange.occurred_at)).label("last_change"))
        .join(Patient, Patient.id == Appointment.patient_id).join(User, User.id == Appointment.clinician_id)
        .outerjoin(DosingSession, DosingSession.id == Appointment.dosing_session_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(*conditions).order_by(Appointment.starts_at, Appointment.id)).all()


def feed_events(user: User, now: datetime, *, identity: str) -> list[CalendarEvent]:
    """The events of `user`'s feed: their own sessions, or the clinic's for staff and admin."""
    conditions = [Appointment.starts_at >= now - FEED_PAST, Appointment.starts_at < now + FEED_AHEAD]
    wide = clinic_wide(user)
    if not wide:
        conditions.append(Appointment.clinician_id == user.id)
    return [calendar_event(row, identity=identity, with_clinician=wide) for row in _event_rows(*conditions)]


def appointment_event(appointment: Appointment, *, identity: str) -> CalendarEvent:
    """The event an invitation for `appointment` carries (the same as its feed event)."""
    return calendar_event(_event_rows(Appointment.id == appointment.id)[0], identity=identity, with_clinician=False)


def initials(given_name: str, family_name: str) -> str:
    return "".join(f"{name.strip()[:1].upper()}." for name in (given_name, family_name) if name.strip())


def calendar_event(row, *, identity: str, with_clinician: bool) -> CalendarEvent:
    """What may leave the clinic about an appointment (a row of _event_rows): type, initials at
    most, place, status."""
    label = KINDS[row.kind]
    if row.sequence is not None:
        label = f"{label} {row.sequence}"
    summary = label + (f" — {initials(row.given_name, row.family_name)}" if identity == "initials" else "")
    if with_clinician:
        summary += f" ({display_name(row.clinician, row.clinician_credentials)})"
    return CalendarEvent(
        uid=f"appointment-{row.id}@{current_app.config['CALENDAR_UID_DOMAIN']}",
        sequence=max((row.changes or 0) - 1, 0),
        status="CANCELLED" if row.status == CANCELLED else "CONFIRMED",
        starts_at=row.starts_at, ends_at=row.ends_at, summary=summary,
        location=row.room or "Telehealth",
        last_modified=row.last_change or row.created_at, created=row.first_change or row.created_at)


def organizer() -> Person:
    return Person(current_app.config["CLINIC_NAME"], current_app.config["CLINIC_EMAIL"])


def attendees(appointment: Appointment) -> list[Person]:
    clinician = appointment.clinician
    return [Person(clinician.full_name, clinician.email)] if clinician.email else []


# -- busy-time import -------------------------------------------------------------------

class ImportRefused(DomainError):
    """An uploaded calendar that cannot be imported; the message names the file and the problem."""

    def __init__(self, filename: str, problem: str):
        super().__init__({"calendar_file": f"{filename}: {problem}"})


def read_busy_times(filename: str, data: bytes, *, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Busy (start, end) pairs in UTC from an .ics file, recurring events expanded over
    [start, end); free (TRANSPARENT) and cancelled events are not busy. Raises ImportRefused."""
    if not filename.lower().endswith(".ics"):
        raise ImportRefused(filename, "is not an iCalendar file; export the calendar as .ics and upload that.")
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused(filename, f"is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB, the limit. "
                                      "Export a shorter period.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(filename, "is not UTF-8 text, so it is not an iCalendar file.") from None
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise ImportRefused(filename, "does not start with BEGIN:VCALENDAR, so it is not an iCalendar file.")
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as err:
        raise ImportRefused(filename, f"could not be read as iCalendar ({_short(err)}).") from None
    events = calendar.walk("VEVENT")
    durations = {}
    for n, event in enumerate(events, 1):
        _check_event(filename, n, event)
        if event.get("duration") is not None:
            durations[str(event.get("uid"))] = event.decoded("duration")
    zone, own = clinic_zone(), "@" + current_app.config["CALENDAR_UID_DOMAIN"]
    busy, seen = [], 0
    try:
        for occurrence in recurring_ical_events.of(calendar).after(start - MAX_BUSY_LENGTH):
            begins, ends = _span(occurrence, zone, durations.get(str(occurrence.get("uid"))))
            if begins >= end:
                break
            seen += 1
            if seen > MAX_IMPORTED_BLOCKS:
                raise ImportRefused(filename, f"has more than {MAX_IMPORTED_BLOCKS} events in the period; "
                                              "export only the calendar that blocks clinic time.")
            if str(occurrence.get("transp", "OPAQUE")).upper() == "TRANSPARENT" \
                    or str(occurrence.get("status", "")).upper() == "CANCELLED" \
                    or str(occurrence.get("uid", "")).endswith(own):  # this clinic's own sessions, exported back
                continue
            if ends - begins > MAX_BUSY_LENGTH:  # judged on the whole event, before clipping
                continue
            begins, ends = max(begins, start), min(ends, end)
            if ends > begins:
                busy.append((begins, ends))
    except ImportRefused:
        raise
    except Exception as err:  # the library raises many types for broken rules; all mean "unreadable"
        raise ImportRefused(filename, f"has a repeating event that cannot be expanded ({_short(err)}).") from None
    return sorted(busy)


def _short(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def _check_event(filename: str, n: int, event) -> None:
    where = f"event {n}" + (f" (UID {str(event.get('uid'))[:60]})" if event.get("uid") else "")
    if event.get("dtstart") is None:
        raise ImportRefused(filename, f"{where} has no DTSTART.")
    for name in ("dtstart", "dtend"):
        prop = event.get(name)
        if prop is None:
            continue
        try:
            value = event.decoded(name)
        except (ValueError, TypeError):
            raise ImportRefused(filename, f"{where}: {name.upper()} is not a valid date or time.") from None
        if not isinstance(value, (date, datetime)):
            raise ImportRefused(filename, f"{where}: {name.upper()} is not a valid date or time.")
    if event.get("dtend") is not None and _as_utc(event.decoded("dtend"), clinic_zone()) \
            < _as_utc(event.decoded("dtstart"), clinic_zone()):
        raise ImportRefused(filename, f"{where} ends before it starts.")
    if event.get("duration") is not None:
        try:
            duration = event.decoded("duration")
        except (ValueError, TypeError):
            duration = None
        if not isinstance(duration, timedelta) or duration < timedelta(0):
            raise ImportRefused(filename, f"{where}: DURATION is not a valid length of time.")
    rules = event.get("rrule")
    for rule in rules if isinstance(rules, list) else [rules]:
        if rule is None:
            continue
        if not isinstance(rule, vRecur):
            raise ImportRefused(filename, f"{where}: RRULE is not a valid repeating rule.")
        freq = str((rule.get("FREQ") or [""])[0]).upper()
        interval = (rule.get("INTERVAL") or [1])[0]
        if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
            raise ImportRefused(filename, f"{where} repeats {freq.lower()}; busy time repeats daily at most often.")
        if not isinstance(interval, int) or interval < 1:
            raise ImportRefused(filename, f"{where} has a repeat INTERVAL that is not a whole number of 1 or more.")


def _as_utc(value, zone) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(timezone.utc)
    return datetime.combine(value, time.min, zone).astimezone(timezone.utc)  # an all-day date: local midnight


def _span(occurrence, zone, duration: timedelta | None) -> tuple[datetime, datetime]:
    """(start, end) in UTC. A DURATION in hours and minutes is exact elapsed time (RFC 5545
    3.3.6), so an hour that starts in the spring-forward gap still lasts an hour."""
    start = occurrence.decoded("dtstart")
    begins = _as_utc(start, zone)
    if duration is not None and isinstance(start, datetime) and duration.days == 0:
        return begins, begins + duration
    if occurrence.get("dtend") is not None:
        end = occurrence.decoded("dtend")
    elif duration is not None:
        end = start + duration
    else:
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start  # RFC 5545 3.6.1
    return begins, _as_utc(end, zone)


def clean_filename(name: str | None) -> str:
    """The uploaded file's own name, fit to show and store: no path, no control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:120] or "upload"


def import_busy(clinician: User, *, filename: str, data: bytes, by: User, now: datetime) -> CalendarImport:
    """Replace the clinician's imported busy time with this file's, or change nothing."""
    horizon = timedelta(days=current_app.config["BUSY_IMPORT_DAYS"])
    busy = read_busy_times(filename, data, start=now, end=now + horizon)
    # Take the clinician's lock first, as a booking does: an import and a booking take turns.
    db.session.execute(select(User.id).where(User.id == clinician.id).with_for_update(key_share=True))
    db.session.execute(update(CalendarImport).where(CalendarImport.clinician_id == clinician.id,
                                                    CalendarImport.superseded_at.is_(None)).values(superseded_at=now))
    record = CalendarImport(clinician_id=clinician.id, filename=filename[:200], uploaded_by_id=by.id,
                            covers_from=now, covers_until=now + horizon, busy_blocks=len(busy))
    db.session.add(record)
    db.session.flush()
    db.session.add_all(ImportedBusy(import_id=record.id, clinician_id=clinician.id, starts_at=s, ends_at=e)
                       for s, e in busy)
    db.session.flush()
    return record


def current_import(clinician_id: int) -> CalendarImport | None:
    return db.session.scalar(select(CalendarImport).where(CalendarImport.clinician_id == clinician_id,
                                                          CalendarImport.superseded_at.is_(None)))
