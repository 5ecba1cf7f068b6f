"""Who is free when: working hours, time off and bookings, and in-window slot suggestions."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts.models import THERAPIST
from ..courses.models import TreatmentCourse
from ..busy_times.models import ImportedBusy, in_current_import
from ..domain.slots import Interval, Suggestion, WeeklyBlock, merge, rank, slot_starts, subtract, working_intervals
from ..extensions import db
from ..web.fields import options
from ..db.clinic_time import clinic_zone
from .models import (ACTIVE_STATUSES, DEFAULT_MINUTES, Appointment, ExtraHours, Room, SessionType, TimeOff,
                     WorkingHours)

#: suggestions start on this grid (minutes past the hour)
SLOT_STEP = timedelta(minutes=30)
SUGGESTION_LIMIT = 6


def session_minutes() -> dict[str, int]:
    """Each kind's default length: the clinic's own setting where the admin made one."""
    minutes = dict(DEFAULT_MINUTES)
    minutes.update((kind, value) for kind, value in db.session.execute(
        select(SessionType.kind, SessionType.default_minutes)))
    return minutes


def weekly_blocks_by_clinician(clinician_ids) -> dict[int, list[WeeklyBlock]]:
    """Each clinician's weekly pattern, for many clinicians in one query."""
    grouped: dict[int, list[WeeklyBlock]] = {}
    rows = db.session.scalars(select(WorkingHours).where(WorkingHours.clinician_id.in_(set(clinician_ids)))
                              .order_by(WorkingHours.weekday, WorkingHours.starts))
    for r in rows:
        grouped.setdefault(r.clinician_id, []).append(WeeklyBlock(r.weekday, r.starts, r.ends))
    return grouped


def weekly_blocks(clinician_id: int) -> list[WeeklyBlock]:
    return weekly_blocks_by_clinician([clinician_id]).get(clinician_id, [])


def extra_by_clinician(clinician_ids, span: Interval) -> dict[int, list[Interval]]:
    """Extra hours of many clinicians within `span`, in one query."""
    grouped: dict[int, list[Interval]] = {}
    rows = db.session.execute(select(ExtraHours.clinician_id, ExtraHours.starts_at, ExtraHours.ends_at).where(
        ExtraHours.clinician_id.in_(set(clinician_ids)), ExtraHours.starts_at < span.end,
        ExtraHours.ends_at > span.start))
    for clinician_id, start, end in rows:
        grouped.setdefault(clinician_id, []).append(Interval(start, end))
    return grouped


def available(blocks: list[WeeklyBlock], extra: list[Interval], span: Interval) -> list[Interval]:
    """When a clinician works within `span`'s clinic days: the weekly pattern plus extra hours."""
    zone = clinic_zone()
    weekly = working_intervals(blocks, span.start.astimezone(zone).date(), span.end.astimezone(zone).date(), zone)
    return merge(weekly + extra)


def busy_by_clinician(clinician_ids, span: Interval) -> dict[int, list[Interval]]:
    """Bookings, time off and imported busy time of many clinicians within `span`, in three queries."""
    ids, grouped = set(clinician_ids), {}
    booked = db.session.execute(select(Appointment.clinician_id, Appointment.starts_at, Appointment.ends_at).where(
        Appointment.clinician_id.in_(ids), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < span.end, Appointment.ends_at > span.start))
    away = db.session.execute(select(TimeOff.clinician_id, TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.clinician_id.in_(ids), TimeOff.starts_at < span.end, TimeOff.ends_at > span.start))
    elsewhere = db.session.execute(select(ImportedBusy.clinician_id, ImportedBusy.starts_at, ImportedBusy.ends_at)
                                   .where(ImportedBusy.clinician_id.in_(ids), in_current_import(),
                                          ImportedBusy.starts_at < span.end, ImportedBusy.ends_at > span.start))
    for clinician_id, start, end in list(booked) + list(away) + list(elsewhere):
        grouped.setdefault(clinician_id, []).append(Interval(start, end))
    return grouped


def busy_by_patient(patient_ids, span: Interval) -> dict[int, list[Interval]]:
    """Active appointments of many patients within `span`, in one query."""
    grouped: dict[int, list[Interval]] = {}
    rows = db.session.execute(select(Appointment.patient_id, Appointment.starts_at, Appointment.ends_at).where(
        Appointment.patient_id.in_(set(patient_ids)), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < span.end, Appointment.ends_at > span.start))
    for patient_id, start, end in rows:
        grouped.setdefault(patient_id, []).append(Interval(start, end))
    return grouped


def busy_intervals(*, clinician_id: int, patient_id: int | None, span: Interval) -> list[Interval]:
    """The clinician's (and the patient's) bookings and the clinician's time off within `span`."""
    busy = busy_by_clinician([clinician_id], span).get(clinician_id, [])
    if patient_id is not None:
        busy += busy_by_patient([patient_id], span).get(patient_id, [])
    return busy


def outside_hours(clinician_id: int, starts_at: datetime, ends_at: datetime) -> bool:
    """True if the clinician keeps regular hours and this session is not inside them (or
    inside extra hours).

    A clinician with no weekly hours entered yet is not restricted (nothing is suggested for
    them either): the clinic may book by hand until their week is set up.
    """
    blocks = weekly_blocks(clinician_id)
    if not blocks:
        return False
    span = Interval(starts_at, ends_at)
    hours = available(blocks, extra_by_clinician([clinician_id], span).get(clinician_id, []), span)
    return not any(i.start <= starts_at and ends_at <= i.end for i in hours)


def imported_busy_during(clinician_id: int, starts_at: datetime, ends_at: datetime) -> ImportedBusy | None:
    """A busy block from the clinician's imported calendar overlapping the time, if any."""
    return db.session.scalar(select(ImportedBusy).where(
        ImportedBusy.clinician_id == clinician_id, in_current_import(),
        ImportedBusy.starts_at < ends_at, ImportedBusy.ends_at > starts_at).order_by(ImportedBusy.starts_at).limit(1))


def time_off_during(clinician_id: int, starts_at: datetime, ends_at: datetime) -> TimeOff | None:
    return db.session.scalar(select(TimeOff).where(TimeOff.clinician_id == clinician_id,
                                                   TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at))


def free_slots(clinician_id: int, patient_id: int | None, within: Interval, length: timedelta) -> list[datetime]:
    # Sessions may run past the window's end; look one day beyond for their free time.
    span = Interval(within.start, within.end + timedelta(days=1))
    free = available(weekly_blocks(clinician_id), extra_by_clinician([clinician_id], span).get(clinician_id, []),
                     span)
    free = subtract(free, busy_intervals(clinician_id=clinician_id, patient_id=patient_id, span=span))
    return slot_starts(free, length, SLOT_STEP, within)


def suggest_for_window(course: TreatmentCourse, window, now: datetime,
                       limit: int | None = SUGGESTION_LIMIT) -> list[Suggestion]:
    """Free slots inside an integration window for the patient's therapists, best first (`limit` of
    them; None: every one)."""
    return suggest_for_windows(course, [window], now, limit)[0]


def suggest_for_windows(course: TreatmentCourse, windows: list, now: datetime,
                        limit: int | None = SUGGESTION_LIMIT) -> list[list[Suggestion]]:
    """suggest_for_window for several windows of one course (real and provisional ones, sessions after
    the series: anything with opens, closes and optimal()), in the order of `windows`: the therapists'
    hours, time off and bookings are read once for all of them, so a course page makes the same
    queries however many windows it offers times for (none included)."""
    therapists = _team_therapists(course)
    # booking refuses a start at or before now (scheduling/services.py), so a `now` on the slot grid is not offered
    earliest = now + timedelta(microseconds=1)
    spans = [Interval(max(w.opens, earliest), w.closes) if max(w.opens, earliest) < w.closes else None
             for w in windows]
    # Read even when no window wants times: a course page then runs the same statements whatever
    # its windows, open or not, real or provisional (tests/integration/test_bench_statement_counts.py)
    open_spans = [span for span in spans if span is not None]
    around = _around(open_spans) if open_spans else Interval(now, now + timedelta(days=1))
    patient_busy = busy_by_patient([course.patient_id], around).get(course.patient_id, [])
    free = _free_by_clinician([t.id for t in therapists], around, patient_busy)
    length = timedelta(minutes=session_minutes()["integration"])
    found = []
    for w, span in zip(windows, spans):
        found.append([] if span is None else rank([
            Suggestion(clinician_id=t.id, starts_at=s, optimal=w.optimal(s), own_therapist=t.id == course.therapist_id)
            for t in therapists for s in slot_starts(free[t.id], length, SLOT_STEP, span)])[:limit])
    return found


def _team_therapists(course: TreatmentCourse) -> list:
    """The patient's care-team therapists who can be booked."""
    return [m.user for m in course.patient.care_team
            if m.role == THERAPIST and m.user.active and m.user.has_role(THERAPIST)]


def _around(spans) -> Interval:
    """From the first span's start to a day past the last one's end: sessions may run past a
    window's end, so their free time is looked for a day beyond."""
    spans = list(spans)
    return Interval(min(i.start for i in spans), max(i.end for i in spans) + timedelta(days=1))


def _free_by_clinician(ids: list[int], around: Interval, also_busy: list[Interval]) -> dict[int, list[Interval]]:
    """When each clinician works and is free within `around` (and `also_busy` is not): four queries."""
    blocks, extra = weekly_blocks_by_clinician(ids), extra_by_clinician(ids, around)
    busy = busy_by_clinician(ids, around)
    return {i: subtract(available(blocks.get(i, []), extra.get(i, []), around), busy.get(i, []) + also_busy)
            for i in ids}


def best_moves(moves: list[tuple[Appointment, object]], now: datetime) -> dict[int, datetime | None]:
    """For each (booking, window): the best time inside the window its clinician, patient and room
    are all free for its length (optimal span first, then earliest), or None; by appointment id.
    The hours, time off and bookings of everyone involved are read once for all the moves."""
    spans = {a.id: Interval(max(w.opens, now), w.closes) for a, w in moves if max(w.opens, now) < w.closes}
    if not spans:
        return {a.id: None for a, _w in moves}
    around = _around(spans.values())
    clinicians = {a.clinician_id for a, _w in moves}
    blocks, extra = weekly_blocks_by_clinician(clinicians), extra_by_clinician(clinicians, around)
    busy, patients = busy_by_clinician(clinicians, around), busy_by_patient({a.patient_id for a, _w in moves}, around)
    rooms = busy_by_room({a.room_id for a, _w in moves} - {None}, around)
    found = {}
    for a, w in moves:
        own = Interval(a.starts_at, a.ends_at)  # the booking being moved frees its own time
        taken = [i for i in busy.get(a.clinician_id, []) + patients.get(a.patient_id, []) + rooms.get(a.room_id, [])
                 if i != own]
        free = subtract(available(blocks.get(a.clinician_id, []), extra.get(a.clinician_id, []), around), taken)
        starts = slot_starts(free, a.ends_at - a.starts_at, SLOT_STEP, spans[a.id]) if a.id in spans else []
        found[a.id] = min(starts, key=lambda s: (not w.optimal(s), s), default=None)
    return found


def busy_by_room(room_ids: set[int], span: Interval) -> dict[int, list[Interval]]:
    """Active appointments of some rooms within `span`, in one query (none asked: none read)."""
    grouped: dict[int, list[Interval]] = {}
    if room_ids:
        for room_id, start, end in db.session.execute(select(Appointment.room_id, Appointment.starts_at,
                                                             Appointment.ends_at).where(
                Appointment.room_id.in_(room_ids), Appointment.status.in_(ACTIVE_STATUSES),
                Appointment.starts_at < span.end, Appointment.ends_at > span.start)):
            grouped.setdefault(room_id, []).append(Interval(start, end))
    return grouped


def first_free_room(starts_at: datetime, ends_at: datetime, among: Sequence[str] | None = None) -> Room | None:
    """The first active room (by name) free over [starts_at, ends_at); `among`: only rooms of these names."""
    taken = select(Appointment.room_id).where(
        Appointment.room_id.is_not(None), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at)
    query = select(Room).where(Room.active.is_(True), Room.id.not_in(taken))
    if among is not None:
        query = query.where(Room.name.in_(among))
    return db.session.scalar(query.order_by(Room.name).limit(1))


def active_rooms() -> list[tuple[int, str]]:
    """(id, name) of the rooms that can be booked, by name."""
    return [(r.id, r.name) for r in db.session.execute(
        select(Room.id, Room.name).where(Room.active.is_(True)).order_by(Room.name))]


def room_choices(*, first_free: bool = True, rooms: list[tuple[int, str]] | None = None):
    """Active rooms for a booking form (`rooms`, when the page read them already); 0 (when
    offered) lets the clinic pick the first free one."""
    return options(([(0, "First free room")] if first_free else []) + (active_rooms() if rooms is None else rooms))
