"""Feeds and invitations from appointments, and busy time from uploaded calendars."""
from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ..accounts.models import User, display_name
from ..documents.ical import CalendarEvent, Person
from ..domain.busy_calendar import ReadLimits, Unreadable, Window, read_busy
from ..domain.reminders import clinical_words_in, discreet_name
from ..db.errors import DomainError
from ..extensions import db
from ..experience.models import DosingSession
from ..patients.models import Patient
from ..bookings.models import CANCELLED, KINDS, Appointment, AppointmentChange, Room
from ..busy_times.models import CalendarImport, ImportedBusy
from ..db.clinic_time import clinic_zone
from ..db.locking import lock_row, locked_row
from ..clinic_settings.models import ClinicSetting
from ..telehealth import services as telehealth
from .models import (CALENDAR_NAME_MAX, DEFAULT_CALENDAR_NAME, DEFAULT_FEED_IDENTITY, FEED_IDENTITY,
                     CalendarFeed)

#: what a feed carries: this far back and this far ahead
FEED_PAST = timedelta(days=60)
FEED_AHEAD = timedelta(days=400)
FEED_RATE_WINDOW = timedelta(hours=1)
#: an upload larger than this is refused (a year of a busy calendar is far smaller)
MAX_IMPORT_BYTES = 1024 * 1024
#: what the page refusing an upload over the server's limit says of calendar exports
UPLOAD_HINT = (f"Calendar exports may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB: "
               "export a shorter period and upload that.")
#: more busy times than this in the horizon is not one person's calendar
MAX_IMPORTED_BLOCKS = 5000
#: what reading one upload may cost (domain/busy_calendar.py, ics_structure.py, recurrence.py)
READ_LIMITS = ReadLimits(max_blocks=MAX_IMPORTED_BLOCKS)
#: a single imported event longer than this is not busy time to honour (e.g. "on call" for a month)
MAX_BUSY_LENGTH = timedelta(days=14)


# -- settings ---------------------------------------------------------------------------

def _setting(key: str) -> str | None:
    return db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == key))


def feed_identity() -> str:
    value = _setting("feed_identity")
    return value if value in FEED_IDENTITY else DEFAULT_FEED_IDENTITY


def calendar_name() -> str:
    """The name subscribers' calendar apps show for the clinic's feeds."""
    return _setting("feed_calendar_name") or DEFAULT_CALENDAR_NAME


def feed_settings_problems(identity: str, *, initials_understood: bool, name: str) -> dict[str, str]:
    """What is wrong with these feed settings, by form field (none: they may be saved)."""
    problems = {}
    if identity not in FEED_IDENTITY:
        problems["identity"] = "Choose one of the offered options."
    elif identity == "initials" and not initials_understood:
        problems["initials_understood"] = ("To put patients' initials in feeds, tick this box: they leave the clinic "
                                           "with every feed read.")
    if not name:
        problems["calendar_name"] = f"Give the calendar a name, such as \"{DEFAULT_CALENDAR_NAME}\"."
    elif len(name) > CALENDAR_NAME_MAX:
        problems["calendar_name"] = f"At most {CALENDAR_NAME_MAX} characters (this one has {len(name)})."
    elif not name.isprintable():
        problems["calendar_name"] = "Use letters, digits, spaces and punctuation only."
    elif words := clinical_words_in(name):
        problems["calendar_name"] = (f"A calendar name is seen by anyone who sees the calendar: leave out "
                                     f"\"{words[0]}\".")
    return problems


def save_feed_settings(identity: str, *, initials_understood: bool, name: str, by: User) -> bool:
    """Keep the clinic's feed settings; True when the calendar name changed. DomainError by field."""
    name = " ".join((name or "").split())
    problems = feed_settings_problems(identity, initials_understood=initials_understood, name=name)
    if problems:
        raise DomainError(problems)
    renamed = name != calendar_name()
    for key, value in (("feed_identity", identity), ("feed_calendar_name", name)):
        row = locked_row(ClinicSetting, key, lambda k=key, v=value: ClinicSetting(key=k, value=v, updated_by_id=by.id))
        row.value, row.updated_by_id = value, by.id
    db.session.flush()
    return renamed


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
    return user.can("schedule.manage")


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
        select(Appointment.id, Appointment.patient_id, Appointment.kind, Appointment.status, Appointment.starts_at,
               Appointment.ends_at, Appointment.created_at, Appointment.modality, Appointment.video_token,
               Appointment.clinician_id,
               User.video_room_url, Patient.given_name, Patient.family_name,
               # a feed event names the dosing session's number, never its clinical record
               DosingSession.sequence, Room.name.label("room"), User.full_name.label("clinician"),
               User.licence_type.label("clinician_licence"),
               User.credentials.label("clinician_credentials"),
               of_changes(func.count(AppointmentChange.id)).label("changes"),
               of_changes(func.min(AppointmentChange.occurred_at)).label("first_change"),
               of_changes(func.max(AppointmentChange.occurred_at)).label("last_change"))
        .join(Patient, Patient.id == Appointment.patient_id).join(User, User.id == Appointment.clinician_id)
        .outerjoin(DosingSession, DosingSession.id == Appointment.dosing_session_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(*conditions).order_by(Appointment.starts_at, Appointment.id)).all()


def feed_events(user: User, now: datetime, *, identity: str) -> list[CalendarEvent]:
    """The events of `user`'s feed: their own sessions, or the clinic's for staff and admin; with the
    video links of `user`'s own telehealth sessions only where the admin put links into feeds (off
    by default; a link is its clinician's, on pages as in feeds)."""
    conditions = [Appointment.starts_at >= now - FEED_PAST, Appointment.starts_at < now + FEED_AHEAD]
    wide = clinic_wide(user)
    if not wide:
        conditions.append(Appointment.clinician_id == user.id)
    links = _link_maker()
    return [calendar_event(row, identity=identity, with_clinician=wide,
                           video_url=links(row) if row.clinician_id == user.id else None)
            for row in _event_rows(*conditions)]


def appointment_event(appointment: Appointment, *, identity: str) -> CalendarEvent:
    """The event an invitation for `appointment` carries (the same as its feed event, its video link
    under the same setting)."""
    row = _event_rows(Appointment.id == appointment.id)[0]
    return calendar_event(row, identity=identity, with_clinician=False, video_url=_link_maker()(row))


def appointment_rows(appointment_ids) -> list:
    """The event rows (_event_rows) of these appointments, in one statement however many: what
    the patient's invitations are built from, so that they carry the clinician's UID and SEQUENCE."""
    return _event_rows(Appointment.id.in_(sorted(set(appointment_ids)))) if appointment_ids else []


def _link_maker():
    """What gives an event row its video link: nothing unless the clinic lets links into calendars
    (telehealth: a feed is read without a login wherever its address went)."""
    if not telehealth.links_in_feeds():
        return lambda row: None
    template = telehealth.clinic_template()
    return lambda row: telehealth.row_link(row, template)


def initials(given_name: str, family_name: str) -> str:
    return "".join(f"{name.strip()[:1].upper()}." for name in (given_name, family_name) if name.strip())


def calendar_event(row, *, identity: str, with_clinician: bool, video_url: str | None = None) -> CalendarEvent:
    """What may leave the clinic about an appointment (a row of _event_rows): type, initials at
    most, place, status."""
    label = KINDS[row.kind]
    if row.sequence is not None:
        label = f"{label} {row.sequence}"
    summary = label + (f" — {initials(row.given_name, row.family_name)}" if identity == "initials" else "")
    if with_clinician:
        summary += f" ({display_name(row.clinician, row.clinician_licence, row.clinician_credentials)})"
    return _event_of(row, summary=summary, location=feed_location(row.room), video_url=video_url)


@lru_cache(maxsize=256)
def feed_location(room: str | None) -> str:
    """An event's LOCATION in feeds and invitations: the room, "In person" for a room whose name
    carries a clinical word (one named before room names were checked: scheduling's rooms page
    refuses them now), "Telehealth" without a room. A feed's words are kept by the subscriber's
    calendar service, so the place says where, never what is done there."""
    if room is None:
        return "Telehealth"
    return "In person" if clinical_words_in(room) else room


def patient_event(row, *, summary: str, location: str, description: str, video_url: str | None) -> CalendarEvent:
    """The event of a row (_event_rows) as the patient's own invitation shows it: the same UID,
    SEQUENCE, status and times as the clinician's feed and invitation (a calendar that holds both
    sees one event), in the discreet words the caller chose (reminders.invitations)."""
    return _event_of(row, summary=summary, location=location, video_url=video_url, description=description)


def event_sequence(row) -> int:
    """RFC 5545 SEQUENCE of an appointment's event: 0 when booked, one more with each change since
    (a move, a cancellation, an outcome), counted from its AppointmentChange rows."""
    return max((row.changes or 0) - 1, 0)


def _event_of(row, *, summary: str, location: str, video_url: str | None,
              description: str | None = None) -> CalendarEvent:
    return CalendarEvent(
        uid=f"appointment-{row.id}@{current_app.config['CALENDAR_UID_DOMAIN']}",
        sequence=event_sequence(row),
        status="CANCELLED" if row.status == CANCELLED else "CONFIRMED",
        starts_at=row.starts_at, ends_at=row.ends_at, summary=summary, location=location,
        last_modified=row.last_change or row.created_at, created=row.first_change or row.created_at,
        video_url=video_url, description=description)


def organizer() -> Person:
    """The clinic as an invitation's organizer, by a name without clinical words: the clinician's
    calendar service keeps it with the event ("Harbor Light Clinic", not "... Ketamine Clinic")."""
    return Person(discreet_name(current_app.config["CLINIC_NAME"]), current_app.config["CLINIC_EMAIL"])


def attendees(appointment: Appointment) -> list[Person]:
    clinician = appointment.clinician
    return [Person(clinician.full_name, clinician.email)] if clinician.email else []


# -- busy-time import -------------------------------------------------------------------

class ImportRefused(DomainError):
    """An uploaded calendar that cannot be imported; the message names the file and the problem."""

    def __init__(self, filename: str, problem: str):
        super().__init__({"calendar_file": f"{filename}: {problem}"})


@dataclass(frozen=True)
class ReadUpload:
    """An uploaded calendar read before the request's transaction began: its busy times over the
    window from `now`, or the refusal to apply once the request may write."""

    filename: str
    now: datetime
    busy: tuple[tuple[datetime, datetime], ...] = ()
    refusal: ImportRefused | None = None
    #: refused because the same user's previous upload was still being read
    concurrent: bool = False


#: users with an upload being read in this server process, and the lock guarding the set. Each
#: process has its own: with N processes one user can keep at most N of them reading, each for at
#: most READ_LIMITS.max_seconds, instead of every process for as long as they keep uploading.
_READING: set[int] = set()
_READING_LOCK = threading.Lock()


def read_upload_once(user_id: int, filename: str, data: bytes, *, now: datetime,
                     addresses: frozenset[str] = frozenset()) -> ReadUpload:
    """read_upload, one at a time per user: a second upload while the first is read is refused."""
    with _READING_LOCK:
        if user_id in _READING:
            return ReadUpload(filename, now, concurrent=True, refusal=ImportRefused(
                filename, "not read: your previous upload is still being read. Wait for it to finish, "
                          "then upload again."))
        _READING.add(user_id)
    try:
        return read_upload(filename, data, now=now, addresses=addresses)
    finally:
        with _READING_LOCK:
            _READING.discard(user_id)


def read_upload(filename: str, data: bytes, *, now: datetime, addresses: frozenset[str] = frozenset()) -> ReadUpload:
    """Read an upload without touching the database (lifecycle.before_transaction runs this).
    `addresses`: the clinician's email addresses (own_addresses below), whose declined invitations
    are not busy time."""
    horizon = timedelta(days=current_app.config["BUSY_IMPORT_DAYS"])
    try:
        busy = read_busy_times(filename, data, start=now, end=now + horizon, addresses=addresses)
    except ImportRefused as refusal:
        return ReadUpload(filename, now, refusal=refusal)
    return ReadUpload(filename, now, busy=tuple(busy))


def own_addresses(clinician: User) -> frozenset[str]:
    """The addresses an ATTENDEE line is matched with to find the clinician's own answer: the
    email on file (lower case)."""
    return frozenset({clinician.email.strip().lower()}) if clinician.email and clinician.email.strip() else frozenset()


def read_busy_times(filename: str, data: bytes, *, start: datetime, end: datetime,
                    addresses: frozenset[str] = frozenset()) -> list[tuple[datetime, datetime]]:
    """Busy (start, end) pairs in UTC from an .ics file, recurring events expanded over
    [start, end) within the limits of domain.busy_calendar. Raises ImportRefused."""
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
    window = Window(start=start, end=end, zone=clinic_zone(), max_length=MAX_BUSY_LENGTH,
                    own_uid_suffix="@" + current_app.config["CALENDAR_UID_DOMAIN"], own_addresses=addresses)
    try:
        return read_busy(text, window, READ_LIMITS)
    except Unreadable as err:
        raise ImportRefused(filename, str(err)) from None


def import_busy(clinician: User, upload: ReadUpload | None, *, by: User) -> CalendarImport:
    """Replace the clinician's imported busy time with the upload's, or change nothing."""
    if upload is None:
        raise DomainError({"calendar_file": "Choose an .ics file to upload."})
    if upload.refusal is not None:
        raise upload.refusal
    now, horizon = upload.now, timedelta(days=current_app.config["BUSY_IMPORT_DAYS"])
    # Take the clinician's lock first, as a booking does: an import and a booking take turns.
    db.session.execute(select(User.id).where(User.id == clinician.id).with_for_update(key_share=True))
    db.session.execute(update(CalendarImport).where(CalendarImport.clinician_id == clinician.id,
                                                    CalendarImport.superseded_at.is_(None)).values(superseded_at=now))
    record = CalendarImport(clinician_id=clinician.id, filename=upload.filename[:200], uploaded_by_id=by.id,
                            covers_from=now, covers_until=now + horizon, busy_blocks=len(upload.busy))
    db.session.add(record)
    db.session.flush()
    db.session.add_all(ImportedBusy(import_id=record.id, clinician_id=clinician.id, starts_at=s, ends_at=e)
                       for s, e in upload.busy)
    db.session.flush()
    return record
