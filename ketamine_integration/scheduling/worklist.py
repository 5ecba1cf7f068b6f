"""The staff worklist: integration windows that need a booking, most urgent first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..experience.window_store import OpenWindow, open_windows
from ..extensions import db
from ..calendars.models import ImportedBusy, in_current_import
from .models import Appointment, TimeOff

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
    window: OpenWindow | None = None

    @property
    def reason(self) -> str:
        return REASONS[self.kind]


def worklist(now: datetime) -> list[WorkItem]:
    """Every uncovered, not-yet-closed window, said why; a fixed number of queries.

    Windows come from the stored table (experience/window_store.py): only the open ones are
    read, not the thousands of courses in a clinic's history."""
    live = TreatmentCourse.phase.in_([Phase.EXPERIENCE.value, Phase.INTEGRATION.value, Phase.MAINTENANCE.value])
    due = {course_id: [w for w in windows if not w.covered]
           for course_id, windows in open_windows(live, now).items()}
    due = {course_id: windows for course_id, windows in due.items() if windows}
    ids = sorted(due)
    courses = {c.id: c for c in db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.id.in_(ids))
        .options(selectinload(TreatmentCourse.therapist), selectinload(TreatmentCourse.patient)))} if ids else {}
    missed = _missed_by_course(ids)
    items = []
    for course_id, windows in due.items():
        for open_window in windows:
            lost = [a for a in missed.get(course_id, []) if open_window.window.contains(a.starts_at)]
            kind = CLOSING if open_window.status is WindowStatus.CLOSING_SOON else MISSED if lost else UNPLANNED
            detail = f"dose #{open_window.sequence}: {open_window.status.label}" + (
                f", {lost[-1].status.replace('_', '-')}" if kind == MISSED else "")
            items.append(WorkItem(kind, courses[course_id], open_window.window.closes, detail, open_window))
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
