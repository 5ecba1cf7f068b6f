"""Today's and tomorrow's sessions, the first thing the home page shows (issue 21, point 1): a
clinician's own, the whole clinic's for whoever runs the schedule, and for a nurse the dosing
sessions of their care-team patients; with today's note of each of a therapist's sessions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload, lazyload

from ..accounts.models import User
from ..bookings.models import CANCELLED, Appointment
from ..db.clinic_time import clinic_zone
from ..extensions import db
from ..notes.models import DRAFT, SessionNote
from ..patients.access import caseload
from ..patients.models import Patient

#: sessions the strip lists over its two days (a busy clinic's are in the calendar)
SHOWN = 60
#: the kinds of session a therapist writes a session note for, with the note's kind
NOTE_KINDS = {"integration": "integration", "preparation": "preparation"}
CLINIC, OWN, DOSING = "clinic", "own", "dosing"


@dataclass(frozen=True)
class StripSession:
    appointment: Appointment
    #: the user's note of today's session: None when there is none yet (or none is written for it)
    note: SessionNote | None
    #: whether the user writes a note for it today (their own therapist session of today)
    writes_note: bool

    @property
    def note_kind(self) -> str | None:
        return NOTE_KINDS.get(self.appointment.kind)


@dataclass(frozen=True)
class StripDay:
    day: date
    #: "Today" or "Tomorrow"
    label: str
    sessions: list[StripSession]


@dataclass(frozen=True)
class DayStrip:
    #: whose sessions: the clinic's, the user's own, or the dosing sessions of their patients
    scope: str
    days: list[StripDay]
    #: sessions over both days, listed or not
    total: int

    @property
    def shown(self) -> int:
        return sum(len(d.sessions) for d in self.days)


def strip_scope(user: User) -> str | None:
    """Whose sessions the user's strip shows, or None (a user booked for nothing, seeing no schedule)."""
    if user.can("schedule.manage"):
        return CLINIC
    if user.can("schedule.bookable"):
        return OWN
    if user.can("care_team.member") and user.can("dosing.read"):
        return DOSING
    return None


def day_strip(user: User, now: datetime) -> DayStrip | None:
    """The sessions of today and tomorrow in the clinic's zone (cancelled ones left out), earliest
    first, at most SHOWN: one query, and one more for the notes of a therapist's sessions today."""
    scope = strip_scope(user)
    if scope is None:
        return None
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), zone)
    stmt = (select(Appointment, func.count().over().label("total"))
            .where(Appointment.starts_at >= start, Appointment.starts_at < start + timedelta(days=2),
                   Appointment.status != CANCELLED)
            .options(joinedload(Appointment.patient))
            .order_by(Appointment.starts_at, Appointment.id).limit(SHOWN))
    if scope == OWN:
        stmt = stmt.where(Appointment.clinician_id == user.id)
    elif scope == DOSING:
        stmt = caseload(user, stmt.join(Patient, Patient.id == Appointment.patient_id)
                        .where(Appointment.kind == "dosing"))
    rows = db.session.execute(stmt).all()
    writes = user.can("notes.write")
    mine = [a for a, _ in rows if writes and a.clinician_id == user.id and a.kind in NOTE_KINDS
            and a.course_id is not None and a.starts_at.astimezone(zone).date() == today]
    notes = _notes_of(user, today, mine)
    days = [StripDay(today + timedelta(days=n), label, []) for n, label in enumerate(("Today", "Tomorrow"))]
    for appointment, _total in rows:
        day = days[(appointment.starts_at.astimezone(zone).date() - today).days]
        writes_note = appointment in mine
        note = notes.get((appointment.course_id, NOTE_KINDS[appointment.kind])) if writes_note else None
        day.sessions.append(StripSession(appointment, note, writes_note))
    return DayStrip(scope, days, rows[0].total if rows else 0)


def _notes_of(user: User, day: date, appointments: list[Appointment]) -> dict[tuple[int, str], SessionNote]:
    """The user's notes of `day` on these sessions' courses, by (course, kind): the signed one if
    any, else the latest draft (a discarded draft is no note)."""
    courses = sorted({a.course_id for a in appointments if a.course_id is not None})
    if not courses:
        return {}
    found = {}
    for note in db.session.scalars(select(SessionNote).where(
            SessionNote.author_id == user.id, SessionNote.session_date == day, SessionNote.course_id.in_(courses),
            SessionNote.discarded_at.is_(None)).order_by(SessionNote.id)
            .options(defer(SessionNote.content), lazyload("*"))):
        key = (note.course_id, note.kind)
        if key not in found or found[key].status == DRAFT:
            found[key] = note
    return found
