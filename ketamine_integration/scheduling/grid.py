"""The time grid (issue 21, point 2): days of sessions as blocks in columns (one per day, or in a day
view one per clinician or per room), the free slots a booking can start from, and the now-line.

Built here from the database in a fixed number of queries, laid out by domain.time_grid. Any page
may show one: the calendar shows a week or a day, the home page today and tomorrow (home/sessions.py),
both drawn by templates/scheduling/_time_grid.html's macros.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select

from ..accounts.models import THERAPIST, User
from ..accounts.services import user_choices
from ..bookings.availability import (active_rooms, available, busy_by_clinician, busy_by_room, extra_by_clinician,
                                     weekly_blocks_by_clinician)
from ..bookings.models import KINDS, Room
from ..db.clinic_time import clinic_zone
from ..domain.slots import Interval, subtract
from ..domain.time_grid import (DAY_MINUTES, HourSpan, Placement, free_cells, hour_span, now_row, place_all,
                                readable_lanes, wall_minute)
from ..extensions import db
from .calendar import Entry, entries

#: how often a free slot may start, in minutes: the cell it is drawn in (the session it offers is
#: its session type's length, all of it free)
SLOT_MINUTES = 30
#: hours shown when the clinic has no working hours and no sessions to take them from
EMPTY_CLINIC_HOURS = (8, 18)
TELEHEALTH = "telehealth"
#: a column's tag by its day's distance from today
DAY_TAGS = {0: "Today", 1: "Tomorrow"}


def _times(start: datetime, end: datetime, zone) -> str:
    return f"{start.astimezone(zone):%H:%M}–{end.astimezone(zone):%H:%M}"


def day_words(day: date) -> str:
    return f"{day:%a %b} {day.day}"


@dataclass(frozen=True)
class Block:
    """A session on the grid; its link's text is its full description."""

    entry: Entry
    place: Placement | None
    times: str
    day: str
    free = False
    more = False


@dataclass(frozen=True)
class FreeSlot:
    """A time a session of the grid's slot length can start, all of it free, with whom and where
    (None: chosen on the form); drawn in the SLOT_MINUTES cell it starts in, named by its real
    start and end."""

    starts_at: datetime
    ends_at: datetime
    clinician_id: int | None
    clinician: str | None
    room_id: int | None
    room: str | None
    place: Placement | None
    times: str
    day: str
    free = True
    more = False

    @property
    def label(self) -> str:
        who = f" with {self.clinician}" if self.clinician else ""
        where = f" in {self.room}" if self.room else (" by telehealth (no room free)" if self.clinician else "")
        return f"Book {self.times}{who}{where}, {self.day}"

    @property
    def start(self) -> str:
        """What the slot shows of itself: its start ("10:00")."""
        return self.times.split("–")[0]


@dataclass(frozen=True)
class More:
    """Sessions (and free slots) of a column past its readable lanes, drawn as one "+k more" in its
    last lane: a link to a view wide enough for them (`args`: the calendar address's changes), or,
    where the column is alone already (None), a list that opens in place."""

    place: Placement
    items: tuple[Block | FreeSlot, ...]
    times: str
    day: str
    args: dict[str, str] | None
    free = False
    more = True

    @property
    def sessions(self) -> int:
        return sum(not i.free for i in self.items)

    @property
    def label(self) -> str:
        """Its link's name: how many, when, and where they are shown."""
        slots = len(self.items) - self.sessions
        what = " and ".join(part for part in (
            f"{self.sessions} more session{'s' if self.sessions != 1 else ''}" if self.sessions else "",
            f"{slots} {'more ' if not self.sessions else ''}free slot{'s' if slots != 1 else ''}" if slots else "")
            if part)
        return f"{what}, {self.times}, {self.day}"


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    day: date
    #: "Today" or "Tomorrow" in the clinic's zone, else None
    tag: str | None
    #: what is drawn: sessions, free slots and "+k more", by start (the order a keyboard and a screen
    #: reader meet them)
    items: tuple[Block | FreeSlot | More, ...]
    lanes: int
    now_row: int | None

    @property
    def is_today(self) -> bool:
        return self.tag == "Today"

    @property
    def blocks(self) -> list[Block]:
        """Every session of the column, those folded into a "+k more" too, by start."""
        return sorted((b for b in self._all() if not b.free), key=lambda b: (b.entry.starts_at, b.entry.id))

    @property
    def free(self) -> list[FreeSlot]:
        return sorted((i for i in self._all() if i.free), key=lambda i: i.starts_at)

    def _all(self) -> list[Block | FreeSlot]:
        return [x for i in self.items for x in (i.items if i.more else (i,))]


@dataclass(frozen=True)
class TimeGrid:
    span: HourSpan
    columns: tuple[Column, ...]
    #: "day" (a column per day), "clinician" or "room" (a day's columns)
    by: str
    #: the clinic's wall-clock time the now-line stands for
    now: datetime
    #: why no free slot is offered, when slots were asked for and none could be (e.g. no therapist chosen)
    slot_note: str | None
    legend: tuple[tuple[str, str], ...] = tuple(KINDS.items())

    @property
    def sessions(self) -> int:
        return sum(len(c.blocks) for c in self.columns)

    @property
    def folded(self) -> bool:
        """Some column folded sessions into a "+k more" (the key then says what it is)."""
        return any(i.more for c in self.columns for i in c.items)


@dataclass(frozen=True)
class _Spec:
    """A column to fill: its day, and the clinician or room it is of (None: any)."""

    key: str
    heading: str
    day: date
    clinician_id: int | None
    room_id: int | str | None
    entries: list[Entry]


@dataclass(frozen=True)
class _Free:
    """What free slots are read from: each clinician's free time, each room's bookings, the rooms."""

    clinicians: dict[int, list[Interval]]
    rooms_busy: dict[int, list[Interval]]
    rooms: list[tuple[int, str]]


def time_grid(first: date, last: date, *, now: datetime, by: str = "day", clinician_id: int | None = None,
              room_id: int | None = None, kind: str | None = None, patient_ids: Select | None = None,
              offer_slots: bool = False, slot_minutes: int = SLOT_MINUTES, with_cancelled: bool = True,
              viewer_id: int | None = None) -> TimeGrid:
    """The grid of `first` to `last` (by "day"), or of `first` alone by "clinician" or "room".

    clinician_id, room_id, kind, patient_ids: only those sessions (and, for a clinician, only their
    free time). offer_slots: look for free slots (for a user who may book): a therapist's free time,
    in a free room, for a session of `slot_minutes` (the length of the session type a slot books).
    with_cancelled: show cancelled sessions too. viewer_id: whose own telehealth sessions carry their
    video link (calendar.entries). Where more sessions overlap than a column shows
    readably side by side, the rest are one "+k more". The queries are the same however many
    sessions there are."""
    zone = clinic_zone()
    period = Interval(datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone))
    found = entries(first, last, clinician_id=clinician_id, room_id=room_id, patient_ids=patient_ids, kind=kind,
                    now=now, with_cancelled=with_cancelled, viewer_id=viewer_id)
    therapists = {user_id: name for user_id, name, _roles in user_choices(THERAPIST)}
    rooms = active_rooms()
    # whose hours the grid is about: the clinician asked for, else every therapist of the clinic
    people = [clinician_id] if clinician_id else sorted(therapists)
    hours = _Hours(weekly_blocks_by_clinician(people), extra_by_clinician(people, period))
    specs = _specs(by, first, last, found, therapists, rooms, hours, clinician_id, room_id)
    span = hour_span(_ranges(specs, hours, zone), EMPTY_CLINIC_HOURS)
    free, note = None, None
    if offer_slots:
        free, note = _free_time(specs, by, therapists, rooms, hours, period, clinician_id)
    fit = _Fit(readable_lanes(len(specs)), by, len(specs) == 1, slot_minutes)
    columns = tuple(_column(s, span, zone, now, free, therapists, fit) for s in specs)
    return TimeGrid(span, columns, by, now.astimezone(zone), note)


@dataclass(frozen=True)
class _Fit:
    """How a column's items are laid out: lanes side by side at most, what a "+k more" opens (a
    day's view, one column's, or, for a column alone, nothing wider), a free slot's length."""

    lanes: int
    by: str
    alone: bool
    slot_minutes: int

    def more_args(self, spec: _Spec) -> dict[str, str] | None:
        if self.by == "day":
            return {"view": "day", "date": spec.day.isoformat()}
        if self.alone:
            return None
        if self.by == "clinician":
            return {"view": "day", "date": spec.day.isoformat(), "by": "clinician", "therapist": str(spec.clinician_id)}
        if isinstance(spec.room_id, int):
            return {"view": "day", "date": spec.day.isoformat(), "by": "room", "room": str(spec.room_id)}
        return None  # the telehealth column: no room to show alone


@dataclass(frozen=True)
class _Hours:
    """The weekly hours and extra hours of the clinicians the grid is about, by clinician."""

    blocks: dict
    extra: dict

    def works(self, clinician_id: int, day: date, zone) -> bool:
        """Keeps hours that day: a weekly block on its weekday, or extra hours in it."""
        return (any(b.weekday == day.weekday() for b in self.blocks.get(clinician_id, []))
                or any(i.start.astimezone(zone).date() <= day <= i.end.astimezone(zone).date()
                       for i in self.extra.get(clinician_id, [])))


def _specs(by: str, first: date, last: date, found: list[Entry], therapists: dict[int, str], rooms: list,
           hours: _Hours, clinician_id: int | None, room_id: int | None) -> list[_Spec]:
    if by == "clinician":
        return _clinician_specs(first, found, therapists, hours, clinician_id, room_id)
    if by == "room":
        return _room_specs(first, found, rooms, clinician_id, room_id)
    zone = clinic_zone()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [_Spec(d.isoformat(), day_words(d), d, clinician_id, room_id,
                  [e for e in found if e.starts_at.astimezone(zone).date() == d]) for d in days]


def _clinician_specs(day: date, found: list[Entry], therapists: dict[int, str], hours: _Hours,
                     clinician_id: int | None, room_id: int | None) -> list[_Spec]:
    """A column per clinician: the one asked for, else every therapist working that day and every
    clinician with a session shown (a prescriber's dosing sessions)."""
    zone = clinic_zone()
    names = {e.clinician_id: e.clinician for e in found}
    if clinician_id:
        ids = [clinician_id]
        if clinician_id not in names:
            user = db.session.get(User, clinician_id)
            names[clinician_id] = user.display_name if user else "Unknown clinician"
    else:
        names.update((i, n) for i, n in therapists.items() if hours.works(i, day, zone))
        ids = sorted(names, key=lambda i: (names[i], i))
    return [_Spec(f"clinician-{i}", names[i], day, i, room_id, [e for e in found if e.clinician_id == i])
            for i in ids]


def _room_specs(day: date, found: list[Entry], rooms: list, clinician_id: int | None,
                room_id: int | None) -> list[_Spec]:
    """A column per room: the one asked for, else every active room and any other a session shown is
    in, and Telehealth when a session shown has no room."""
    names = {**dict(rooms), **{e.room_id: e.place for e in found if e.room_id}}
    if room_id:
        if room_id not in names:
            room = db.session.get(Room, room_id)
            names[room_id] = room.name if room else "Unknown room"
        ids: list = [room_id]
    else:
        ids = sorted(names, key=lambda i: (names[i], i))
        if any(e.room_id is None for e in found):
            ids.append(TELEHEALTH)
    return [_Spec(f"room-{i}", names.get(i, "Telehealth"), day, clinician_id, i,
                  [e for e in found if (e.room_id or TELEHEALTH) == i]) for i in ids]


def _ranges(specs: list[_Spec], hours: _Hours, zone) -> list[tuple[int, int]]:
    """Every wall-clock minute range the grid must show: the working hours and extra hours of the
    clinicians it is about, on the days shown, and the sessions shown."""
    days = sorted({s.day for s in specs})
    weekdays = {d.weekday() for d in days}
    found = [(b.starts.hour * 60 + b.starts.minute, b.ends.hour * 60 + b.ends.minute or DAY_MINUTES)
             for rows in hours.blocks.values() for b in rows if b.weekday in weekdays]
    found += [(wall_minute(i.start, d, zone), wall_minute(i.end, d, zone))
              for rows in hours.extra.values() for i in rows for d in days]
    found += [(wall_minute(e.starts_at, s.day, zone), wall_minute(e.ends_at, s.day, zone))
              for s in specs for e in s.entries]
    return found


def _free_time(specs: list[_Spec], by: str, therapists: dict[int, str], rooms: list, hours: _Hours,
               period: Interval, clinician_id: int | None) -> tuple[_Free | None, str | None]:
    """What free slots are read from (a room's columns are free when any therapist is, so all of
    them, or the one asked for, are read), or why none are offered."""
    if clinician_id is not None and clinician_id not in therapists:
        return None, ("Free slots are offered in therapists' calendars: sessions with a prescriber are planned "
                      "from the course's dosing plan.")
    if by == "day" and clinician_id is None:
        return None, "Choose a therapist to see their free slots, or the day view by clinician or by room."
    wanted = sorted({s.clinician_id for s in specs if s.clinician_id in therapists} if by == "clinician"
                    else ({clinician_id} if clinician_id else set(therapists)))
    busy = busy_by_clinician(wanted, period)
    free = {c: subtract(available(hours.blocks.get(c, []), hours.extra.get(c, []), period), busy.get(c, []))
            for c in wanted}
    return _Free(free, busy_by_room({r for r, _ in rooms}, period), rooms), None


def _covers(intervals: list[Interval], start: datetime, end: datetime) -> bool:
    return any(i.start <= start and end <= i.end for i in intervals)


def _room_free(free: _Free, room: int, start: datetime, end: datetime) -> bool:
    return not any(i.start < end and start < i.end for i in free.rooms_busy.get(room, []))


def _slot_at(spec: _Spec, free: _Free, start: datetime, end: datetime) -> tuple[int | None, int | None] | None:
    """(clinician id, room id) of a free slot in this column at [start, end), or None."""
    rooms = dict(free.rooms)
    if isinstance(spec.room_id, int) and spec.room_id not in rooms or spec.room_id == TELEHEALTH:
        return None  # an inactive room or the telehealth column: nothing to book into
    if spec.clinician_id is not None:
        if not _covers(free.clinicians.get(spec.clinician_id, []), start, end):
            return None
        clinician = spec.clinician_id
    elif any(_covers(times, start, end) for times in free.clinicians.values()):
        clinician = None  # a room's column: some therapist is free; who, is chosen on the form
    else:
        return None
    if spec.room_id is not None:
        if not _room_free(free, spec.room_id, start, end):
            return None
        room = spec.room_id
    else:
        room = next((r for r, _ in free.rooms if _room_free(free, r, start, end)), None)
    return clinician, room


def _column(spec: _Spec, span: HourSpan, zone, now: datetime, free: _Free | None, names: dict[int, str],
            fit: _Fit) -> Column:
    """A column's sessions and free slots, placed side by side where they overlap, those past its
    readable lanes folded into a "+k more"."""
    ranges, makers = [], []
    for e in spec.entries:
        start, end = wall_minute(e.starts_at, spec.day, zone), wall_minute(e.ends_at, spec.day, zone)
        ranges.append((start, max(end, start + 1)))
        makers.append(lambda place, e=e: Block(e, place, _times(e.starts_at, e.ends_at, zone), day_words(spec.day)))
    if free is not None:
        for start_min, end_min, start, end, clinician, room in _free_slots(spec, span, zone, now, free,
                                                                           fit.slot_minutes):
            ranges.append((start_min, end_min))
            makers.append(lambda place, s=start, t=end, c=clinician, r=room: FreeSlot(
                s, t, c, names.get(c) if c else None, r, dict(free.rooms).get(r) if r else None, place,
                _times(s, t, zone), day_words(spec.day)))
    places, folds, lanes = place_all(ranges, span, fit.lanes)
    made = [make(place) for make, place in zip(makers, places)]
    mores = [More(f.place, tuple(made[i] for i in f.hidden), f"{f.start // 60:02d}:{f.start % 60:02d}–"
                  f"{f.end // 60 % 24:02d}:{f.end % 60:02d}", day_words(spec.day), fit.more_args(spec))
             for f in folds]
    items = sorted([i for i in made if i.place is not None] + mores,
                   key=lambda i: (i.place.row, i.free, i.place.lane))
    tag = DAY_TAGS.get((spec.day - now.astimezone(zone).date()).days)
    return Column(spec.key, spec.heading, spec.day, tag, tuple(items), lanes, now_row(now, spec.day, zone, span))


def _free_slots(spec: _Spec, span: HourSpan, zone, now: datetime, free: _Free, minutes: int):
    """(start minute, cell end minute, start, end, clinician id, room id) of each free slot of the
    column: a session of `minutes` fits there whole, with its therapist and room free throughout."""
    whole_day = [Interval(datetime.combine(spec.day, time.min, zone),
                          datetime.combine(spec.day + timedelta(days=1), time.min, zone))]
    found = []
    for start_min, end_min, start, end in free_cells(whole_day, spec.day, zone, span, SLOT_MINUTES, now,
                                                     length=minutes):
        parties = _slot_at(spec, free, start, end)
        if parties is not None:
            found.append((start_min, end_min, start, end, *parties))
    return found
