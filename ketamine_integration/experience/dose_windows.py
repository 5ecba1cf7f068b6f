"""The window each dose has now (the real one once signed, the provisional one while only planned,
none once cancelled), and the windows of the doses integration sessions were booked for: what the
coverage rule needs to let a session booked for a dose count for that dose's window (issue 20,
point 1) even where only the signed doses' windows are shown."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.protocols import Protocol
from ..domain.windows import IntegrationWindow, provisional_window_for, window_for
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from .models import DRAFT, PLANNED, SIGNED, DosingSession

#: doses whose window is still provisional: planned, or recorded and not yet signed (a draft's
#: times may still change; the real window opens when it is signed)
NOT_YET_SIGNED = (PLANNED, DRAFT)


def minutes_between(starts: datetime, ends: datetime) -> int:
    return int((ends - starts).total_seconds() // 60)


def dose_window(protocol: Protocol, dose_id: int, status: str, ended_at: datetime | None,
                planned_start: datetime | None, minutes: int | None) -> IntegrationWindow | None:
    """The window a dose has now: the real one once signed, the provisional one while only planned
    (or recorded and unsigned), none once cancelled."""
    rule, zone = protocol.integration.window, clinic_zone()
    if status == SIGNED:
        return window_for(dose_id, ended_at, rule, zone)
    if status in NOT_YET_SIGNED and planned_start is not None:
        return provisional_window_for(dose_id, planned_start, minutes, protocol.experience.min_monitoring_minutes,
                                      rule, zone)
    return None


def fetch_pinned_windows(course_ids, *, session=None) -> dict[int, list[IntegrationWindow]]:
    """For each course (by id), the provisional windows its not-yet-signed doses have now that
    integration sessions were booked for; one query. The signed doses' windows are the real ones
    every caller works out already."""
    if not course_ids:
        return {}
    dose_booking = aliased(Appointment)
    pinned = select(Appointment.booked_for_dose_id).where(
        Appointment.course_id.in_(course_ids), Appointment.kind == "integration",
        Appointment.booked_for_dose_id.is_not(None))
    rows = (session or db.session).execute(
        select(DosingSession.id, DosingSession.course_id, DosingSession.status, DosingSession.planned_start,
               dose_booking.starts_at, dose_booking.ends_at, ProtocolVersion)
        .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
        .join(ProtocolVersion, ProtocolVersion.id == TreatmentCourse.protocol_version_id)
        .outerjoin(dose_booking, and_(dose_booking.dosing_session_id == DosingSession.id,
                                      dose_booking.status == BOOKED))
        .where(DosingSession.id.in_(pinned), DosingSession.status.in_(NOT_YET_SIGNED))
        .order_by(DosingSession.course_id, DosingSession.sequence))
    found: dict[int, list[IntegrationWindow]] = {}
    for dose_id, course_id, status, planned_start, starts, ends, version in rows:
        minutes = minutes_between(starts, ends) if starts is not None else None
        window = dose_window(protocol_of(version), dose_id, status, None, planned_start, minutes)
        if window is not None:
            found.setdefault(course_id, []).append(window)
    return found
