"""Whether the session a note documents has taken place when the note is signed (review of issue
20: at 02:46 an integration note dated today was signed for the session booked at 09:00 that day).
A note carries its date, not its time: the time is its author's booking with the patient that day."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from ..bookings.models import CANCELLED, Appointment
from ..db.clinic_time import clinic_day_span, format_local
from ..extensions import db
from .models import INTEGRATION, PREPARATION, SessionNote


def session_ahead(note: SessionNote, now: datetime) -> Appointment | None:
    """The author's booked session of the note's kind with the patient on the note's date that is
    still ahead at `now`, when none of theirs that day has begun (the note can then be about that
    one only); else None. A session held without a booking leaves nothing to compare: None."""
    if note.kind not in (INTEGRATION, PREPARATION):
        return None
    return booked_ahead(note.course_id, note.author_id, note.kind, note.session_date, now)


def booked_ahead(course_id: int, clinician_id: int, kind: str, day: date, now: datetime) -> Appointment | None:
    """The clinician's first session of `kind` on the course on clinic date `day`, when it and all
    their others that day are still ahead at `now`; else None."""
    start, end = clinic_day_span(day)
    that_day = db.session.scalars(select(Appointment).where(
        Appointment.course_id == course_id, Appointment.clinician_id == clinician_id, Appointment.kind == kind,
        Appointment.status != CANCELLED, Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at)).all()
    if not that_day or any(appointment.starts_at <= now for appointment in that_day):
        return None
    return that_day[0]


def not_yet_held(appointment: Appointment) -> dict[str, str]:
    """The refusal of a signature before the session, on the note's date."""
    return {"session_date": f"Your session with the patient that day is booked for "
                            f"{format_local(appointment.starts_at)}: sign the note once it has taken place "
                            "(the draft is saved)."}
