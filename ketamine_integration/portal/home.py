"""What the portal's home page shows a patient: their own upcoming sessions (when, where or the
video link, with whom) and their course's phase with what comes next, in plain words. Never a note,
an alert, a coordination message or anything of another patient: every read here is filtered by
the signed-in patient's id."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..bookings.models import BOOKED, KINDS, Appointment
from ..calendars.services import appointment_rows
from ..courses.services import course_protocol, current_course
from ..domain.credentials import display_name
from ..domain.portal import CourseOutline, PhaseWords, phase_words
from ..extensions import db
from ..reminders.invitations import NO_ADDRESS
from ..reminders.rules import reminder_settings
from ..telehealth import services as telehealth

#: sessions listed ahead
UPCOMING_LIMIT = 20


@dataclass(frozen=True)
class UpcomingSession:
    appointment_id: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    clinician: str
    #: in person: the clinic's address (and the room); None for telehealth
    place: str | None
    #: telehealth: where to join (None until the clinic has set a link)
    video_link: str | None

    @property
    def online(self) -> bool:
        return self.place is None


def _own_upcoming_ids(patient_id: int, now: datetime) -> list[int]:
    return list(db.session.scalars(select(Appointment.id).where(
        Appointment.patient_id == patient_id, Appointment.status == BOOKED, Appointment.ends_at > now)
        .order_by(Appointment.starts_at).limit(UPCOMING_LIMIT)))


def own_session_row(patient_id: int, appointment_id: int, now: datetime):
    """The event row of one of the patient's own upcoming booked sessions, or None (another
    patient's, past, cancelled or missing: the caller answers 404 alike)."""
    if appointment_id not in _own_upcoming_ids(patient_id, now):
        return None
    rows = appointment_rows([appointment_id])
    return rows[0] if rows and rows[0].patient_id == patient_id else None


def upcoming_sessions(patient_id: int, now: datetime) -> list[UpcomingSession]:
    """The patient's booked sessions not yet over, soonest first (a constant number of statements)."""
    rows = appointment_rows(_own_upcoming_ids(patient_id, now))
    if not rows:
        return []
    settings = reminder_settings()
    template = telehealth.clinic_template() if any(r.modality == telehealth.TELEHEALTH for r in rows) else None
    address = settings.clinic_address or NO_ADDRESS
    sessions = []
    for row in rows:
        online = row.modality == telehealth.TELEHEALTH
        sessions.append(UpcomingSession(
            appointment_id=row.id, kind=KINDS[row.kind], starts_at=row.starts_at, ends_at=row.ends_at,
            clinician=display_name(row.clinician, row.clinician_licence, row.clinician_credentials),
            place=None if online else (f"{address}, {row.room}" if row.room else address),
            video_link=telehealth.row_link(row, template) if online else None))
    return sessions


def course_phase(patient_id: int) -> PhaseWords | None:
    course = current_course(patient_id)
    if course is None:
        return None
    protocol = course_protocol(course)
    window, after = protocol.integration.window, protocol.integration.after_series
    outline = CourseOutline(
        name=protocol.name,
        dosing_sessions=(protocol.experience.min_series_sessions, protocol.experience.max_series_sessions),
        preparation_sessions=protocol.preparation.min_signed_sessions,
        window_opens=window.opens_after.label, window_optimal=window.optimal_until.label,
        after_series_sessions=after.sessions, after_series_every_days=after.every_days)
    return phase_words(course.phase, outline)
