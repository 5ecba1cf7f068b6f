"""The other bookings a dosing session's recorded times overlap, and its booking stretched to them.

At signing, a session's booking takes the times the record gives (start of dosing to discharge,
up to 24 hours: experience.record_times) and says attended. When those times overlap other
bookings of its clinician, of who monitored the dose, of its patient or of its room, the
signature is still given: the record is what happened, and its times are past (a recorded time
in the future is refused when the record is saved), so the overlap is with bookings whose time
has come. Refusing would leave the record unsigned and the booking wrong
without undoing anything. The overlap is made visible instead, never silent: the signature's
audit row names the overlapped bookings (views), the record lists them (a draft's page warns
before signing), and the staff worklist lists those still waiting for an outcome
(scheduling.worklist) until staff record what happened to them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..accounts.models import User
from ..bookings import booking
from ..bookings.models import ATTENDED, BOOKED, Appointment
from ..db.clinic_time import format_local
from .models import DosingSession

#: what the booking's history says when it takes the recorded times
ALIGNED = "Aligned with the signed record"


@dataclass(frozen=True)
class Overlap:
    """Another booking the session's recorded times overlap, and what the two share."""

    appointment: Appointment
    #: who or what both need, in words ("the room Dosing Suite", "Nora Quill (monitored the dose)")
    shared: tuple[str, ...]
    same_patient: bool

    @property
    def words(self) -> str:
        """The booking for the record page: never another patient's name (a dosing record's reader
        may not be on that patient's care team)."""
        a = self.appointment
        whose = "the same patient" if self.same_patient else "another patient"
        outcome = "held" if a.status == ATTENDED else "no outcome recorded yet"
        return (f"{a.label} with {a.clinician.full_name}, {format_local(a.starts_at)} to "
                f"{format_local(a.ends_at, '%H:%M')} ({whose}; {outcome}): both need {', '.join(self.shared)}.")


def held_span(session: DosingSession) -> tuple[datetime, datetime] | None:
    """Start of dosing to discharge (or to the end of dosing), as recorded; None until both are."""
    ends = [t for t in (session.discharged_at, session.ended_at) if t is not None]
    return (session.started_at, max(ends)) if session.started_at is not None and ends else None


def staff_of(session: DosingSession) -> dict[int, str]:
    """Who else the record says was held by the session all along, by id, with what they did: who
    monitored it (start of dosing to discharge). Who administered it gave the dose at its start and
    is not kept for the rest of the time."""
    return {session.monitored_by_id: "monitored the dose"} if session.monitored_by_id is not None else {}


def align_booking(session: DosingSession, by: User) -> list[Appointment]:
    """At signing: the booking takes the recorded times and says attended (a session held earlier
    than planned frees the planned time this way); the other bookings those times overlap are
    returned to be reported, never a reason to refuse (the module's docstring says why)."""
    appointment, span = session.appointment, held_span(session)
    if appointment is None or appointment.status != BOOKED or span is None:
        return []
    return booking.mark_as_held(appointment, *span, by=by, reason=ALIGNED, staff_ids=staff_of(session))


def overlaps(session: DosingSession) -> list[Overlap]:
    """For the record page: the other bookings the session's recorded times overlap (signed: the
    times its booking took; a draft: those signing will give it). One query."""
    appointment = session.appointment
    if appointment is None or appointment.status not in (BOOKED, ATTENDED):
        return []
    span = (appointment.starts_at, appointment.ends_at) if session.signed else held_span(session)
    if span is None:
        return []
    staff = staff_of(session)
    return [Overlap(other, _shared(other, appointment, staff), other.patient_id == appointment.patient_id)
            for other in booking.overlapping(appointment, *span, staff)]


def _shared(other: Appointment, appointment: Appointment, staff: dict[int, str]) -> tuple[str, ...]:
    shared = []
    if other.clinician_id == appointment.clinician_id:
        shared.append(f"{appointment.clinician.full_name} (the session's clinician)")
    elif other.clinician_id in staff:
        shared.append(f"{other.clinician.full_name} ({staff[other.clinician_id]})")
    if other.patient_id == appointment.patient_id:
        shared.append("the patient")
    if appointment.room_id is not None and other.room_id == appointment.room_id:
        shared.append(f"the room {appointment.room.name}")
    return tuple(shared)
