"""Calendar data: the sessions of a day or a week (per therapist, per room or clinic-wide) in one
query, whose sessions a user may see, and the calendar page's filters read from its address."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, lazyload

from ..bookings.models import CANCELLED, KINDS, Appointment
from ..db.clinic_time import clinic_today, clinic_zone
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import Patient
from ..telehealth.services import video_links_of
from ..web.forms import parse_id

VIEWS = {"week": "Week", "day": "Day"}
#: the day view's columns: one per clinician or one per room
GROUPS = {"clinician": "Clinician", "room": "Room"}
#: the dates the calendar moves between (a date typed outside them is brought inside)
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 1, 1)


@dataclass(frozen=True)
class Entry:
    id: int
    starts_at: datetime
    ends_at: datetime
    kind: str
    label: str
    patient: str
    clinician_id: int
    clinician: str
    room_id: int | None
    place: str
    course_id: int | None
    #: what became of it at the time of asking, in the words every page uses (Appointment.state):
    #: "booked", "under way", "unconfirmed", "not recorded", "no-show", "cancelled"...
    state: str
    #: the dosing session it is the appointment of (its record), or None
    dosing_session_id: int | None = None
    #: a telehealth session's video link, on the viewer's own sessions only (telehealth.services)
    video_url: str | None = None

    @property
    def state_words(self) -> str:
        """Its state as it starts a line ("No-show", "Under way", "Cancelled by the clinic")."""
        return self.state[:1].upper() + self.state[1:]

    @property
    def state_key(self) -> str:
        """Its state as one word, for a class name ("under-way", "cancelled-by-the-clinic")."""
        return self.state.replace(" ", "-")


@dataclass(frozen=True)
class Scope:
    """Whose sessions the user may see on the calendar (patients.access: staff every schedule)."""

    sees_all: bool
    #: a clinician sees their own sessions; None: not limited to one clinician
    clinician_id: int | None
    #: the patients whose sessions the user may read (a subquery of ids): a clinician's and a nurse's
    #: care-team patients; None: every patient
    patient_ids: Select | None
    words: str


def calendar_scope(user, asked: int | None) -> Scope:
    """Staff see any therapist or the whole clinic; a clinician sees their own sessions (whatever
    was asked) with the patients still on their care team: one who has left a team no longer reads
    that patient's name or sessions (only sessions already over remain: leaving is refused while a
    booking ahead stays); a nurse sees the sessions of their care-team patients."""
    if user.can("schedule.manage"):
        return Scope(True, asked, None, "")
    if user.can("schedule.bookable"):
        return Scope(False, user.id, caseload(user, select(Patient.id)), "Your own sessions and free time.")
    return Scope(False, None, caseload(user, select(Patient.id)), "The sessions of your care-team patients.")


def period(day: date, view: str) -> tuple[date, date]:
    """First and last clinic date shown: the day, or Monday to Sunday of its week."""
    if view == "day":
        return day, day
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def entries(first: date, last: date, *, clinician_id: int | None = None, room_id: int | None = None,
            patient_ids: Select | None = None, kind: str | None = None, now: datetime,
            with_cancelled: bool = True, viewer_id: int | None = None) -> list[Entry]:
    """The appointments of the period, of one clinician, room, kind or set of patients (a subquery
    of ids), each in its state at `now`, the cancelled ones (ahead of time or late, by either side)
    unless with_cancelled is False: one query, however many (and one for the clinic's video address
    template when a session of `viewer_id`'s needs it: a link is shown to the session's clinician)."""
    zone = clinic_zone()
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    stmt = (select(Appointment).where(Appointment.starts_at < end, Appointment.ends_at > start)
            # only the dosing session's number and status are read: not its vitals, adverse events or addenda
            .options(joinedload(Appointment.patient), joinedload(Appointment.dosing_session).options(lazyload("*")))
            .order_by(Appointment.starts_at, Appointment.id))
    if clinician_id is not None:
        stmt = stmt.where(Appointment.clinician_id == clinician_id)
    if room_id is not None:
        stmt = stmt.where(Appointment.room_id == room_id)
    if kind is not None:
        stmt = stmt.where(Appointment.kind == kind)
    if patient_ids is not None:
        stmt = stmt.where(Appointment.patient_id.in_(patient_ids))
    if not with_cancelled:
        stmt = stmt.where(Appointment.status != CANCELLED)
    found = db.session.scalars(stmt).unique().all()
    links = video_links_of(found, viewer_id=viewer_id) if viewer_id is not None else {}
    return [Entry(a.id, a.starts_at, a.ends_at, a.kind, _label(a), a.patient.display_name, a.clinician_id,
                  a.clinician.display_name, a.room_id, a.room.name if a.room else "Telehealth", a.course_id,
                  a.state(now), a.dosing_session_id, links.get(a.id))
            for a in found]


def _label(appointment: Appointment) -> str:
    if appointment.dosing_session is not None:
        return f"{appointment.label} {appointment.dosing_session.sequence}"
    return appointment.label


@dataclass(frozen=True)
class Filters:
    """What the calendar shows, from its address: anything unreadable falls back to the default
    (a filter is a view, not a record: nothing to refuse)."""

    view: str
    day: date
    #: the day view's columns (GROUPS)
    by: str
    therapist_id: int | None
    room_id: int | None
    kind: str | None

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, today: date | None = None) -> Filters:
        try:
            day = date.fromisoformat(args.get("date", "")) if args.get("date") else None
        except ValueError:
            day = None
        day = min(max(day or today or clinic_today(), EARLIEST), LATEST)
        return cls(view=args.get("view") if args.get("view") in VIEWS else "week", day=day,
                   by=args.get("by") if args.get("by") in GROUPS else "clinician",
                   therapist_id=parse_id(args.get("therapist")), room_id=parse_id(args.get("room")),
                   kind=args.get("kind") if args.get("kind") in KINDS else None)

    @classmethod
    def from_query(cls, query: str) -> Filters | None:
        """The filters a query string names (what the calendar's address carried into a booking
        form, so that the booking comes back to the same view), or None when it names none."""
        args = dict(parse_qsl((query or "")[:500]))
        return cls.from_args(args) if args else None

    @property
    def period(self) -> tuple[date, date]:
        return period(self.day, self.view)

    @property
    def step(self) -> timedelta:
        return timedelta(days=1 if self.view == "day" else 7)

    def args(self, **changes) -> dict[str, str]:
        """The address's arguments for these filters with `changes` (None: left out)."""
        values = {"view": self.view, "date": self.day.isoformat(), "by": self.by,
                  "therapist": self.therapist_id, "room": self.room_id, "kind": self.kind, **changes}
        return {k: str(v) for k, v in values.items() if v is not None and v != ""}
