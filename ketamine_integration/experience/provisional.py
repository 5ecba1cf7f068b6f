"""Provisional windows (issue 20, point 1): the integration window a dose only planned is expected to
open, worked out from its planned time, and the bookings made for one that its dose's signing, move
or cancellation left outside the window the dose has now.

Worked out on every read, never stored: a planned dose moves, and the course page and the booking
check read its dosing sessions and bookings anyway. The stored windows (window_store) keep the
signed sessions' windows only. Coverage is decided by the one rule (domain/coverage.py): a session
booked for a planned dose counts for that dose's window while the window holds it; the others go
to the real windows first, exactly as everywhere else, so a provisional window takes nothing else
a real window needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased, joinedload

from ..courses.models import TreatmentCourse
from ..domain.coverage import IntegrationSession, assign, decide
from ..domain.windows import IntegrationWindow, expected_end, status_at
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from ..bookings.models import BOOKED, Appointment
from .dose_windows import NOT_YET_SIGNED, dose_window, minutes_between
from .models import DRAFT, PLANNED, DosingSession
from .windows import WindowRow


def booked_minutes(appointments: list[Appointment]) -> dict[int, int]:
    """How long each planned dose's booking holds its room and clinician, by dosing session id, from
    a course's appointments already read."""
    return {a.dosing_session_id: minutes_between(a.starts_at, a.ends_at) for a in appointments
            if a.kind == "dosing" and a.status == BOOKED}


def fetch_booked_minutes(course_id: int) -> dict[int, int]:
    """booked_minutes of one course, in one query."""
    rows = db.session.execute(select(Appointment.dosing_session_id, Appointment.starts_at, Appointment.ends_at)
                              .where(Appointment.course_id == course_id, Appointment.kind == "dosing",
                                     Appointment.status == BOOKED))
    return {dose_id: minutes_between(starts, ends) for dose_id, starts, ends in rows}


def provisional_windows(course: TreatmentCourse, sessions: list[DosingSession],
                        minutes: dict[int, int]) -> list[tuple[DosingSession, IntegrationWindow]]:
    """Each not yet signed dose of the course with its provisional window, in sequence order."""
    protocol = protocol_of(course.protocol_version)
    return [(s, dose_window(protocol, s.id, s.status, None, s.planned_start, minutes.get(s.id)))
            for s in sessions if s.status in NOT_YET_SIGNED and s.planned_start is not None]


def provisional_rows(course: TreatmentCourse, planned: list[tuple[DosingSession, IntegrationWindow]],
                     integration: list[IntegrationSession], real: list[WindowRow], minutes: dict[int, int],
                     now: datetime) -> list[WindowRow]:
    """The provisional windows of the course's planned doses (`planned`: provisional_windows) with
    their coverage at `now`, for the course page. `real`: the course's real windows
    (experience.windows.course_windows, given the same provisional windows): the sessions are
    assigned to all of them at once, as they were for the real ones, so a session booked for a
    planned dose counts for its window and the others go to the real windows first."""
    protocol = protocol_of(course.protocol_version)
    rule = protocol.integration
    assigned = assign([r.window for r in real] + [w for _s, w in planned], integration,
                      per_window=rule.min_sessions_per_dosing, shared=rule.one_session_covers_overlapping_windows)
    monitoring = protocol.experience.min_monitoring_minutes
    return [WindowRow(session=s, window=w, status=status_at(w, now),
                      coverage=decide(w, assigned[w.key], per_window=rule.min_sessions_per_dosing, now=now),
                      anchor=expected_end(s.planned_start, minutes.get(s.id), monitoring))
            for s, w in planned]


@dataclass(frozen=True)
class Stranded:
    """A booking made for a dose's provisional window that the window the dose has now leaves out."""

    appointment: Appointment
    #: the dose it was booked for: its sequence and status (signed, planned - a draft counts as planned
    #: until signed - or cancelled)
    sequence: int
    dose_status: str
    #: the dose's window now (the real one once signed), or None once the dose is cancelled
    window: IntegrationWindow | None

    @property
    def course(self) -> TreatmentCourse:
        return self.appointment.course


def left_out(appointment: Appointment, window: IntegrationWindow | None, now: datetime) -> bool:
    """A booking still ahead that the window its dose has now (None: cancelled) does not hold."""
    return appointment.status == BOOKED and appointment.starts_at >= now and \
        (window is None or not window.contains(appointment.starts_at))


def booked_for_doses(appointments: list[Appointment], sessions: list[DosingSession], rows: list[WindowRow],
                     now: datetime) -> dict[int, tuple[int, bool]]:
    """For each of a course's bookings made for a provisional window, by appointment id: the
    sequence of the dose it was booked for, and whether that dose's window now leaves it out.
    `rows`: the course's windows, real and provisional (cancelled doses have none)."""
    sequences = {s.id: s.sequence for s in sessions}
    windows = {r.session.id: r.window for r in rows}
    return {a.id: (sequences[a.booked_for_dose_id], left_out(a, windows.get(a.booked_for_dose_id), now))
            for a in appointments if a.booked_for_dose_id in sequences}


def stranded_bookings(now: datetime, *, dose_id: int | None = None) -> list[Stranded]:
    """Bookings still ahead, made for a provisional window, that their dose's window now leaves out
    (it was signed and the real window differs, it moved, or it was cancelled), soonest first; one
    query. `dose_id`: only those booked for that dose."""
    dose_booking = aliased(Appointment)
    query = (select(Appointment, DosingSession.sequence, DosingSession.status, DosingSession.ended_at,
                    DosingSession.planned_start, dose_booking.starts_at, dose_booking.ends_at, ProtocolVersion)
             .join(DosingSession, DosingSession.id == Appointment.booked_for_dose_id)
             .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
             .join(ProtocolVersion, ProtocolVersion.id == TreatmentCourse.protocol_version_id)
             .outerjoin(dose_booking, and_(dose_booking.dosing_session_id == DosingSession.id,
                                           dose_booking.status == BOOKED))
             .where(Appointment.status == BOOKED, Appointment.starts_at >= now,
                    Appointment.booked_for_dose_id.is_not(None))
             .order_by(Appointment.starts_at, Appointment.id)
             .options(joinedload(Appointment.course).joinedload(TreatmentCourse.patient),
                      joinedload(Appointment.course).joinedload(TreatmentCourse.therapist)))
    if dose_id is not None:
        query = query.where(Appointment.booked_for_dose_id == dose_id)
    found = []
    for a, sequence, status, ended_at, planned_start, starts, ends, version in db.session.execute(query):
        minutes = minutes_between(starts, ends) if starts is not None else None
        window = dose_window(protocol_of(version), a.booked_for_dose_id, status, ended_at, planned_start, minutes)
        if left_out(a, window, now):
            found.append(Stranded(a, sequence, status if status != DRAFT else PLANNED, window))
    return found


def stranded_words(stranded: list[Stranded]) -> str:
    """What a dose's signing, move or cancellation left out, for the message to the user who did it
    (empty when nothing)."""
    if not stranded:
        return ""
    sessions = "1 integration session" if len(stranded) == 1 else f"{len(stranded)} integration sessions"
    where = "has no window now" if stranded[0].window is None else "is outside the dose's window now"
    return (f"{sessions} booked for its provisional window {where}; the staff worklist lists "
            f"{'it' if len(stranded) == 1 else 'them'} to move.")
