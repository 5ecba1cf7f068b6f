"""The staff worklist: integration windows that need a booking, most urgent first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..experience.models import SIGNED, DosingSession
from ..experience.services import fetch_signed_sessions_by_course
from ..experience.windows import WindowRow, course_windows
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from ..calendars.models import ImportedBusy, in_current_import
from .models import Appointment, TimeOff
from .services import fetch_integration_starts_by_course

CLOSING, AWAY, MISSED, UNPLANNED = "closing", "away", "missed", "unplanned"
REASONS = {CLOSING: "Window closes within 48 hours and nothing is booked",
           AWAY: "Booked while the therapist is away: move or reassign",
           MISSED: "Integration session cancelled or missed; the window is still open",
           UNPLANNED: "Dosing session with no integration session planned"}
ORDER = {CLOSING: 0, AWAY: 1, MISSED: 2, UNPLANNED: 3}


@dataclass(frozen=True)
class WorkItem:
    kind: str
    course: TreatmentCourse
    #: when it must be solved by: the window's close, or the clashing session's start
    due: datetime
    detail: str
    window: WindowRow | None = None

    @property
    def reason(self) -> str:
        return REASONS[self.kind]


def _longest_window() -> timedelta:
    """The longest any protocol version in use keeps a window open (plus a day for clock changes)."""
    spans = [protocol_of(v).integration.window.closes_after.approximate
             for v in db.session.scalars(select(ProtocolVersion))]
    return max(spans, default=timedelta(0)) + timedelta(days=1)


def worklist(now: datetime) -> list[WorkItem]:
    """Every uncovered, not-yet-closed window, said why; a fixed number of queries.

    Only courses with a dosing session recent enough for its window to be open are read: the
    others can have nothing to do here, and there are thousands of them in a clinic's history."""
    recent = select(DosingSession.course_id).where(DosingSession.status == SIGNED,
                                                   DosingSession.ended_at >= now - _longest_window())
    courses = db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.phase.in_([Phase.EXPERIENCE.value, Phase.INTEGRATION.value,
                                                                  Phase.MAINTENANCE.value]),
                                      TreatmentCourse.id.in_(recent))
        .options(selectinload(TreatmentCourse.therapist), selectinload(TreatmentCourse.patient))).all()
    ids = [c.id for c in courses]
    sessions, starts = fetch_signed_sessions_by_course(ids), fetch_integration_starts_by_course(ids)
    missed = _missed_by_course(ids)
    items = []
    for course in courses:
        for row in course_windows(course, sessions.get(course.id, []), starts.get(course.id, []), now):
            if row.covered or row.status is WindowStatus.CLOSED:
                continue
            lost = [a for a in missed.get(course.id, []) if row.window.contains(a.starts_at)]
            kind = CLOSING if row.status is WindowStatus.CLOSING_SOON else MISSED if lost else UNPLANNED
            detail = f"dose #{row.session.sequence}: {row.status.label}" + (
                f", {lost[-1].status.replace('_', '-')}" if kind == MISSED else "")
            items.append(WorkItem(kind, course, row.window.closes, detail, row))
    items += _booked_while_away(now)
    return sorted(items, key=lambda i: (ORDER[i.kind], i.due))


def _booked_while_away(now: datetime) -> list[WorkItem]:
    """Future bookings that fall in their clinician's time off (leave entered after booking)."""
    rows = db.session.execute(
        select(Appointment, TimeOff).join(TimeOff, (TimeOff.clinician_id == Appointment.clinician_id)
                                          & (TimeOff.starts_at < Appointment.ends_at)
                                          & (TimeOff.ends_at > Appointment.starts_at))
        .where(Appointment.status == "booked", Appointment.starts_at >= now, Appointment.course_id.is_not(None))
        .options(selectinload(Appointment.course).selectinload(TreatmentCourse.patient))).all()
    items = [WorkItem(AWAY, a.course, a.starts_at, f"{a.label} with {a.clinician.full_name}"
                      + (f" ({t.reason})" if t.reason else "")) for a, t in rows]
    # ... or in busy time imported from their own calendar after the booking was made
    clashes = db.session.scalars(
        select(Appointment).where(Appointment.status == "booked", Appointment.starts_at >= now,
                                  Appointment.course_id.is_not(None),
                                  select(ImportedBusy.id).where(
                                      ImportedBusy.clinician_id == Appointment.clinician_id,
                                      in_current_import(), ImportedBusy.starts_at < Appointment.ends_at,
                                      ImportedBusy.ends_at > Appointment.starts_at).exists())
        .options(selectinload(Appointment.course).selectinload(TreatmentCourse.patient))).all()
    listed = {a.id for a, _t in rows}  # one row per booking, even if leave and busy time both cover it
    items += [WorkItem(AWAY, a.course, a.starts_at, f"{a.label} with {a.clinician.full_name} "
                       "(busy in their own calendar)") for a in clashes if a.id not in listed]
    return items


def _missed_by_course(course_ids: list[int]) -> dict[int, list[Appointment]]:
    grouped: dict[int, list[Appointment]] = {}
    if course_ids:
        for a in db.session.scalars(select(Appointment).where(
                Appointment.course_id.in_(course_ids), Appointment.kind == "integration",
                Appointment.status.in_(("cancelled", "no_show"))).order_by(Appointment.starts_at)):
            grouped.setdefault(a.course_id, []).append(a)
    return grouped
