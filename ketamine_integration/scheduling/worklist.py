"""The staff worklist: integration windows that need a booking, most urgent first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..courses.models import TreatmentCourse
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..experience.services import fetch_signed_sessions_by_course
from ..experience.windows import WindowRow, course_windows
from ..extensions import db
from ..patients.models import Patient
from .models import Appointment
from .services import fetch_integration_starts_by_course

CLOSING, MISSED, UNPLANNED = "closing", "missed", "unplanned"
REASONS = {CLOSING: "Window closes within 48 hours and nothing is booked",
           MISSED: "Integration session cancelled or missed; the window is still open",
           UNPLANNED: "Dosing session with no integration session planned"}


@dataclass(frozen=True)
class WorkItem:
    kind: str
    course: TreatmentCourse
    window: WindowRow
    detail: str | None

    @property
    def reason(self) -> str:
        return REASONS[self.kind]


def worklist(now: datetime) -> list[WorkItem]:
    """Every uncovered, not-yet-closed window, said why; a fixed number of queries."""
    courses = db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.phase.in_([Phase.EXPERIENCE.value, Phase.INTEGRATION.value,
                                                                  Phase.MAINTENANCE.value]))
        .options(selectinload(TreatmentCourse.patient).selectinload(Patient.care_team))).all()
    ids = [c.id for c in courses]
    sessions, starts = fetch_signed_sessions_by_course(ids), fetch_integration_starts_by_course(ids)
    missed = _missed_by_course(ids)
    items = []
    for course in courses:
        for row in course_windows(course, sessions.get(course.id, []), starts.get(course.id, []), now):
            if row.covered or row.status is WindowStatus.CLOSED:
                continue
            lost = [a for a in missed.get(course.id, []) if row.window.contains(a.starts_at)]
            if row.status is WindowStatus.CLOSING_SOON:
                items.append(WorkItem(CLOSING, course, row, None))
            elif lost:
                items.append(WorkItem(MISSED, course, row, f"{lost[-1].status.replace('_', '-')}"))
            else:
                items.append(WorkItem(UNPLANNED, course, row, None))
    order = {CLOSING: 0, MISSED: 1, UNPLANNED: 2}
    return sorted(items, key=lambda i: (order[i.kind], i.window.window.closes))


def _missed_by_course(course_ids: list[int]) -> dict[int, list[Appointment]]:
    grouped: dict[int, list[Appointment]] = {}
    if course_ids:
        for a in db.session.scalars(select(Appointment).where(
                Appointment.course_id.in_(course_ids), Appointment.kind == "integration",
                Appointment.status.in_(("cancelled", "no_show"))).order_by(Appointment.starts_at)):
            grouped.setdefault(a.course_id, []).append(a)
    return grouped
