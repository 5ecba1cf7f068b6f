"""Demo dosing: each course's series planned where nothing clashes, and its held doses recorded and signed.

Through the services (plan_series, save_record, sign), which stay the authority; a timetable
read once per course only spares them the plans it can already see would clash.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import product

from sqlalchemy import select

from ..accounts.models import PRESCRIBER, User
from ..bookings.availability import (available, busy_by_clinician, busy_by_patient, busy_by_room,
                                     extra_by_clinician, weekly_blocks_by_clinician)
from ..bookings.models import Room
from ..courses.services import course_protocol
from ..db.clinic_time import clinic_zone
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain.dosing_plan import AT_HOME, IN_CLINIC
from ..domain.protocols import Span
from ..domain.slots import Interval
from ..domain.vitals import DISCHARGE_CRITERIA
from ..domain.windows import shift
from ..experience.models import VITAL_TIMEPOINTS
from ..experience.services import plan_series, save_record, sign
from ..extensions import db
from ..patients.care_team import add_to_care_team

#: where dosing happens (REMS: a certified healthcare setting, with monitoring); named by number, not
#: by what happens there: a room's name is the LOCATION of every feed event (calendars.services.feed_location)
DOSING_ROOMS = ("Suite 1", "Suite 2")


def plan_clash_free(course, first_start: datetime, segments: list[tuple[int, int, int]], prescriber: User, *,
                    long_past: bool, at_home: bool = False) -> datetime:
    """Plan the series stage by stage (`segments`: (days from the first session, sessions, days
    between) of each stage) in a dosing suite, with the course's prescriber if free, else the
    other one, at the first candidate start where nothing clashes: the demo's dosing timetable is
    one a real clinic could run. Supervised at home (`at_home`), there is no room to book.
    Returns the first start used.

    A series still in its experience phase moves only earlier on the same day (from 8:00), so
    sessions already "held" stay in the past and each shape in EXPERIENCE_SHAPES keeps its
    window status. A series whose sessions all ended at least ten days ago (`long_past`) may
    also move later that day or to one of the three days before: without that freedom, some times of day at
    which the demo is loaded left no clash-free hour.

    Candidates are tried in that order; plan_series (which checks every session) is called only
    for those the timetable does not already show clashing, and its refusal moves on to the next.
    """
    rooms = db.session.scalars(select(Room).where(Room.name.in_(DOSING_ROOMS)).order_by(Room.name)).all()
    others = [u for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
              if u.has_role(PRESCRIBER) and u.id != prescriber.id]
    # long enough for the protocol's monitoring and the demo's longest stay (record_and_sign)
    minutes = course_protocol(course).experience.min_monitoring_minutes + 30
    length = timedelta(minutes=minutes)
    clinicians, places = [prescriber] + others, [None] if at_home else rooms
    candidates = [(start, _series_starts(start, segments)) for start in _candidate_starts(first_start, long_past)]
    timetable = Timetable.read(clinicians, course.patient_id, [r for r in places if r is not None],
                               [s for _start, starts in candidates for s in starts], length)
    for (start, starts), clinician, room in product(candidates, clinicians, places):
        if timetable.clashes(starts, length, clinician.id, room):
            continue
        try:
            _plan(course, start, segments, clinician, room, prescriber, minutes, at_home)
            return start
        except DomainError:
            continue
    raise RuntimeError(f"no clash-free dosing plan for demo course {course.id}")


def _plan(course, start: datetime, segments, clinician: User, room: Room | None, prescriber: User,
          minutes: int, at_home: bool) -> None:
    """The series planned from `start` with this clinician and room, or nothing (DomainError)."""
    zone = clinic_zone()
    with db.session.begin_nested():
        if clinician is not prescriber:
            # A covering prescriber joins the care team explicitly, as staff would add them.
            add_to_care_team(course.patient, clinician, PRESCRIBER, by=None,
                             reason="demo: covering prescriber for the dosing series")
        for offset, count, gap in segments:
            plan_series(course, first_start=shift(start, Span(offset, "d"), zone), days_between=gap,
                        count=count, reason=None, clinician_id=clinician.id, room_id=room.id if room else None,
                        by=prescriber, minutes=minutes,
                        setting=AT_HOME if at_home else IN_CLINIC)


def _series_starts(start: datetime, segments: list[tuple[int, int, int]]) -> list[datetime]:
    """Each session's start in a series from `start`, worked out as plan_series works them out."""
    zone = clinic_zone()
    starts = []
    for offset, count, gap in segments:
        first = shift(start, Span(offset, "d"), zone)
        starts += [shift(first, Span(gap * i, "d"), zone) for i in range(count)]
    return starts


def _overlaps(busy: list[Interval], starts_at: datetime, ends_at: datetime) -> bool:
    return any(b.start < ends_at and b.end > starts_at for b in busy)


@dataclass
class Timetable:
    """What was booked, taken off or worked around the candidate series, read once per course
    (bookings.availability's readers, a handful of queries): the clinicians' bookings, time off
    and imported busy time, their working hours (None: no weekly hours, so not restricted), the
    patient's bookings and the rooms'. It can only tell a plan that clashes: it never stands in
    for plan_series's own checks."""
    busy: dict[int, list[Interval]]
    hours: dict[int, list[Interval] | None]
    patient: list[Interval]
    rooms: dict[int, list[Interval]]

    @classmethod
    def read(cls, clinicians: list[User], patient_id: int, rooms: list[Room], starts: list[datetime],
             length: timedelta) -> Timetable:
        span = Interval(min(starts), max(starts) + length)
        ids = [c.id for c in clinicians]
        blocks, extra = weekly_blocks_by_clinician(ids), extra_by_clinician(ids, span)
        return cls(busy=busy_by_clinician(ids, span),
                   hours={i: available(blocks[i], extra.get(i, []), span) if blocks.get(i) else None for i in ids},
                   patient=busy_by_patient([patient_id], span).get(patient_id, []),
                   rooms=busy_by_room({r.id for r in rooms}, span))

    def clashes(self, starts: list[datetime], length: timedelta, clinician_id: int, room: Room | None) -> bool:
        """True if a session at one of `starts` meets a booking of the clinician, patient or room
        (none at home), the clinician's time off or imported busy time, or falls outside their
        working hours."""
        hours = self.hours[clinician_id]
        room_busy = self.rooms.get(room.id, []) if room is not None else []
        for start in starts:
            end = start + length
            if _overlaps(self.busy.get(clinician_id, []), start, end) or _overlaps(self.patient, start, end) \
                    or _overlaps(room_busy, start, end):
                return True
            if hours is not None and not any(i.start <= start and end <= i.end for i in hours):
                return True
        return False


def _candidate_starts(first_start: datetime, long_past: bool):
    """Office-hour starts to try, nearest first (see plan_clash_free for which are allowed)."""
    zone = clinic_zone()
    local = first_start.astimezone(zone)
    days = (0, -1, -2, -3) if long_past else (0,)
    for day in days:
        hours = range(local.hour, 7, -1) if not long_past else \
            sorted(range(8, 18), key=lambda hour: abs(hour - local.hour))
        for hour in hours:
            moved = shift(local.replace(hour=hour), Span(day, "d"), zone) if day else local.replace(hour=hour)
            yield moved.astimezone(first_start.tzinfo)


#: an adverse event saved with a mistyped severity on each course's third dose, corrected before signing
MISTYPED_EVENT = {"event_type": "headache", "severity": "severe", "action_taken": "paracetamol 1 g"}


def record_and_sign(session, protocol_id: str, prescriber: User, nurse: User, rng: random.Random) -> None:
    """The prescriber the dose was booked with (the course's, or a covering one: plan_clash_free)
    doses and signs the record the same day, once the patient has gone home; the care team's nurse
    monitors (never front-desk staff). Monitoring is what the times give; every discharge criterion
    is answered. The second session of an esketamine course shows a flagged reading with its
    documented response; the third, a mistyped reading and a mistyped adverse event corrected
    before signing."""
    if session.appointment is not None:
        prescriber = session.appointment.clinician
    protocol = course_protocol(session.course)
    esketamine = protocol.medication == "esketamine"
    start = session.planned_start
    end = start + timedelta(minutes=15 if esketamine else 40)
    minutes = protocol.experience.min_monitoring_minutes + rng.choice((0, 10, 20))
    # one patient, one weight (review of issue 19: 64, 95 and 64 kg two days apart), give or take a
    # scale's half kilogram from one session to the next
    weight = random.Random(session.course.patient_id).choice((58.5, 64.0, 71.2, 82.5, 95.0)) \
        + rng.choice((-0.5, 0.0, 0.0, 0.5))
    dose = _demo_dose(protocol, session.sequence, weight)
    values = dict(started_at=start, ended_at=end, route=protocol.route, medication=protocol.medication,
                  dose_mg=dose, weight_kg=None if esketamine else weight, lot_number=f"DEMO-LOT-{rng.randint(100, 999)}",
                  administered_by_id=prescriber.id, monitored_by_id=nurse.id,
                  sedation=rng.choice(("none", "mild", "mild", "moderate")),
                  dissociation=rng.choice(("mild", "moderate", "moderate", "severe")),
                  concomitant_sedating_medications="none" if esketamine else None,
                  discharged_at=start + timedelta(minutes=minutes),
                  ready_to_leave_at=start + timedelta(minutes=minutes - 30) if esketamine else None,
                  vitals_acceptable_before_dosing=True if esketamine else None,
                  vitals_acceptable_before_discharge=True if esketamine else None)
    vitals, responses = _demo_vitals(session, esketamine, prescriber, start, rng)
    events = [{"event_type": "nausea", "severity": "mild", "action_taken": "ondansetron 4 mg"}] \
        if rng.random() < 0.2 else []
    checks = {key: True for key in DISCHARGE_CRITERIA}
    reasons = {}
    if session.sequence == 3:
        # a saved reading and a saved adverse event corrected before signing: the record keeps the
        # mistyped versions ("Earlier readings", "Earlier and withdrawn adverse events")
        typed = dict(vitals, discharge=dict(vitals["discharge"], heart_rate=27))
        save_record(session, values=values, vitals=typed, adverse_events=[MISTYPED_EVENT],
                    expected_version=session.version, by=prescriber, responses=responses, discharge_checks=checks)
        events = [dict(MISTYPED_EVENT, severity="mild", id=session.adverse_events[0].id)]
        reasons = {"vitals": f"Heart rate typed as 27; the monitor showed {vitals['discharge']['heart_rate']}.",
                   "adverse_events": "Severity typed as severe; the nurse's notes say mild, settled after ondansetron."}
    save_record(session, values=values, vitals=vitals, adverse_events=events, expected_version=session.version,
                by=prescriber, responses=responses, discharge_checks=checks, reasons=reasons)
    signed_at = min(values["discharged_at"] + timedelta(minutes=20), utcnow())
    sign(session, by=prescriber, expected_version=session.version, now=signed_at)


def _demo_vitals(session, esketamine: bool, prescriber: User, start: datetime,
                 rng: random.Random) -> tuple[dict, dict]:
    """(readings by timepoint, responses to flagged ones): unremarkable readings, taken in the
    clinic by its staff or, at home, by the patient's own cuff before dosing and their device
    after; the second session of an esketamine course has a flagged pre-dose pressure and its
    documented response."""
    sources = {"baseline": "patient_reported"} if session.setting == AT_HOME else {}
    vitals = {tp: {"systolic": rng.randint(112, 132) + (14 if tp == "post_40" else 0),
                   "diastolic": rng.randint(70, 84), "heart_rate": rng.randint(60, 88), "spo2": rng.randint(96, 99),
                   "respiratory_rate": rng.randint(12, 18),
                   "source": sources.get(tp, "device") if session.setting == AT_HOME else "clinician"}
              for tp in VITAL_TIMEPOINTS}
    responses = {}
    if esketamine and session.sequence == 2:
        vitals["baseline"].update(systolic=148, diastolic=94)
        responses["baseline"] = dict(
            action="Rested 15 minutes in a quiet room and repeated the reading; below the do-not-start limit "
                   "(180/110), so the prescriber gave the dose as planned and asked for a reading every 20 minutes.",
            decided_by_id=prescriber.id, later_at=start - timedelta(minutes=5), later_systolic=136,
            later_diastolic=86, later_heart_rate=76)
    return vitals, responses


def _demo_dose(protocol, sequence: int, weight: float) -> float:
    """A dose inside the protocol's usual doses for the session's stage: esketamine 56 mg on day 1,
    then 56 or 84 mg; IV and IM 0.5 mg/kg; sublingual 100-200 mg."""
    if protocol.medication == "esketamine":
        return 56 if sequence == 1 or sequence % 3 else 84
    if protocol.route == "sublingual":
        return 100 + 50 * (sequence % 3)
    return round(weight * 0.5, 1)
