"""Therapist sessions on a course: book, move, cancel, mark; integration sessions inside windows."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..db.types import utcnow
from ..domain.coverage import IntegrationSession
from ..domain.phases import Phase
from ..domain.windows import IntegrationWindow, WindowStatus, booked_for, status_at
from ..experience.provisional import fetch_booked_minutes, provisional_windows
from ..experience.services import cancel_planned_for_ended_course, fetch_dosing_sessions
from ..experience.windows import course_windows
from ..patients.care_team import JoinRequest, admit_clinician
from ..patients.models import Patient
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..extensions import db
from ..db.clinic_time import format_local
from ..bookings import booking
from ..bookings.availability import session_minutes
from ..bookings.models import BOOKED, KINDS, Appointment, AppointmentChange


def fetch_integration_sessions(course_id: int) -> list[IntegrationSession]:
    """A course's integration sessions, whatever became of them, as the coverage rule reads them."""
    return booking.integration_sessions_by_course([course_id]).get(course_id, [])


def fetch_course_appointments(course_id: int) -> list[Appointment]:
    """A course's appointments with their histories (a session entered after it was held says why)."""
    return db.session.scalars(select(Appointment).where(Appointment.course_id == course_id)
                              .options(selectinload(Appointment.changes))
                              .order_by(Appointment.starts_at)).all()


def release_ended_course(course: TreatmentCourse, *, by: User) -> None:
    """A course ended: its planned dosing sessions are cancelled with their bookings, then every
    other booking still ahead (connected to courses.services.course_ended in create_app)."""
    cancel_planned_for_ended_course(course, by)
    booking.cancel_future_for_course(course.id, after=utcnow(), reason=f"Course {course.phase}", by=by)


def bookings_ahead(patient: Patient, clinician_ids: set[int], now: datetime | None = None) -> dict[int, list[str]]:
    """Each clinician's bookings with the patient not yet over (sessions and the dosing sessions
    they run), named with their times: what keeps them on the care team
    (patients.care_team.departure_problems, registered in create_app)."""
    rows = db.session.scalars(select(Appointment).where(
        Appointment.patient_id == patient.id, Appointment.clinician_id.in_(sorted(clinician_ids)),
        Appointment.status == BOOKED, Appointment.ends_at > (now or utcnow())).order_by(Appointment.starts_at))
    held: dict[int, list[str]] = {}
    for appointment in rows:
        held.setdefault(appointment.clinician_id, []).append(f"{appointment.label} {format_local(appointment.starts_at)}")
    return held


def bookable_windows(course: TreatmentCourse, now: datetime) -> list[tuple[int, IntegrationWindow]]:
    """(dose sequence, window) of every window of the course not yet closed at `now`: the real ones
    of its signed doses, and the provisional ones of the doses only planned (issue 20, point 1:
    clinics book each dose's integration session with the dose)."""
    sessions = fetch_dosing_sessions(course.id)
    real = [(r.session.sequence, r.window) for r in course_windows(course, sessions, [], now)]
    planned = [(s.sequence, w) for s, w in provisional_windows(course, sessions, fetch_booked_minutes(course.id))]
    return [(sequence, w) for sequence, w in real + planned if status_at(w, now) is not WindowStatus.CLOSED]


def _check_timing(course: TreatmentCourse, starts_at: datetime, now: datetime,
                  windows: list[tuple[int, IntegrationWindow]]) -> None:
    """In the experience phase an integration session belongs inside a dosing window, real or
    provisional (`windows`: bookable_windows).

    After the series (integration, maintenance) sessions follow the protocol's cadence, so
    any future time will do.
    """
    if starts_at <= now:
        raise DomainError({"starts_at": "Book a time in the future; enter a session that was already held "
                                        "under \"Enter a session that was held\"."})
    if course.current_phase is not Phase.EXPERIENCE:
        return
    if not any(w.contains(starts_at) for _sequence, w in windows):
        spans = "; ".join(f"#{sequence}{' (dose planned, provisional)' if w.provisional else ''}: "
                          f"{format_local(w.opens)} to {format_local(w.closes)}"
                          for sequence, w in windows) or "none is open or about to open"
        raise DomainError({"starts_at": f"That time is outside every open integration window ({spans})."})


def _checked_windows(course: TreatmentCourse, kind: str, starts_at: datetime,
                     now: datetime) -> list[tuple[int, IntegrationWindow]]:
    """Refuse a time the kind of session may not take; for an integration session, the course's
    bookable windows (what its link to a planned dose is worked out from)."""
    if kind != "integration":
        if starts_at <= now:
            raise DomainError({"starts_at": "Book a time in the future."})
        return []
    windows = bookable_windows(course, now)
    _check_timing(course, starts_at, now, windows)
    return windows


def _link(appointment: Appointment, windows: list[tuple[int, IntegrationWindow]], prefer: int | None) -> None:
    """Note the planned dose whose provisional window the session depends on (domain.windows.booked_for)."""
    appointment.booked_for_dose_id = booked_for([w for _sequence, w in windows], appointment.starts_at,
                                                prefer=prefer)


#: the course phases in which each kind of session may be booked
BOOKABLE_IN = {"preparation": (Phase.PREPARATION,),
               "integration": (Phase.EXPERIENCE, Phase.INTEGRATION, Phase.MAINTENANCE),
               "follow_up": (Phase.INTEGRATION, Phase.MAINTENANCE)}


def book_session(course: TreatmentCourse, *, kind: str, clinician_id: int, starts_at: datetime,
                 minutes: int | None, modality: str, by: User, now: datetime,
                 room_id: int | None = None, join: JoinRequest | None = None,
                 for_dose: int | None = None) -> Appointment:
    """Book a therapist session on a course; integration sessions go inside a dosing window.

    minutes: None takes the session type's default length. The therapist is on the patient's
    care team, or `join` asks for their membership (granted, audited, before the booking).
    for_dose: the dosing session whose window the booking was made from (a suggestion), if any.
    """
    if kind not in BOOKABLE_IN:
        raise DomainError({"kind": "Unknown kind of session."})
    lock_course(course)  # a phase change (say, the course ending) and this take turns
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.has_role(THERAPIST):
        raise DomainError({"clinician": "Choose an active therapist."})
    if course.current_phase not in BOOKABLE_IN[kind]:
        phases = [p.value for p in BOOKABLE_IN[kind]]
        allowed = " or ".join(filter(None, [", ".join(phases[:-1]), phases[-1]]))
        what = KINDS[kind].lower()
        article = "An" if what[0] in "aeiou" else "A"
        raise DomainError({"kind": f"{article} {what} is booked while the course is in {allowed}; "
                                   f"it is in {course.phase}."})
    windows = _checked_windows(course, kind, starts_at, now)
    if modality == "in_person" and room_id is None:
        raise DomainError({"room": "Choose a room for an in-person session (or book it as telehealth)."})
    if modality == "telehealth":
        room_id = None
    ends_at = starts_at + timedelta(minutes=minutes or session_minutes()[kind])
    booking.lock_parties(clinician_id=clinician_id, patient_id=course.patient_id, room_id=room_id)
    booking.check_free(clinician, course.patient_id, starts_at, ends_at, room_id)
    # A covering therapist joins the care team only when the form asked for it, with a reason:
    # booking alone grants no access to the patient's record.
    admit_clinician(course.patient, clinician, THERAPIST, join=join, by=by)
    appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician_id,
                              kind=kind, starts_at=starts_at, ends_at=ends_at,
                              modality=modality, room_id=room_id, created_by_id=by.id)
    if kind == "integration":
        _link(appointment, windows, for_dose)
    appointment.changes.append(AppointmentChange(change="booked", by_user_id=by.id))
    db.session.add(appointment)
    db.session.flush()
    return appointment


def book_integration_session(course: TreatmentCourse, **kwargs) -> Appointment:
    return book_session(course, kind="integration", **kwargs)


def _refuse_dosing(appointment: Appointment) -> None:
    if appointment.changed_with_dosing_plan:
        raise DomainError("A dosing appointment moves and is cancelled with its dosing session: "
                          "use the dosing plan on the course page.")


def lock_windows(appointment: Appointment) -> None:
    """An integration session's change rewrites its course's stored windows at commit: take the
    course lock first (the lock order's first lock), so a concurrent change on the same course
    waits and its rewrite reads this one's."""
    if appointment.kind == "integration" and appointment.course is not None:
        lock_course(appointment.course)


#: what a booking whose time has come is given instead of a cancellation or a move (issue 20, point 2)
OUTCOME_FIRST = ("Its time has come: record what happened instead (attended, no-show, late-cancelled or "
                 "cancelled by the clinic) under its outcome.")


def _refuse_past(appointment: Appointment, now: datetime, then: str) -> None:
    """A booking whose time has come is given an outcome, never cancelled or moved: "cancelled" says
    it was called off ahead, and a move erases that it was due (and may have been missed)."""
    if appointment.begun(now):
        raise DomainError(f"{OUTCOME_FIRST} {then}")


def cancel_appointment(appointment: Appointment, *, reason: str, by: User, now: datetime) -> None:
    _refuse_dosing(appointment)
    lock_windows(appointment)
    lock_row(appointment)
    _refuse_past(appointment, now, "A late cancellation is one of the outcomes.")
    booking.cancel(appointment, reason=reason, by=by)


def reschedule_appointment(appointment: Appointment, *, starts_at: datetime, by: User, now: datetime,
                           reason: str | None) -> None:
    _refuse_dosing(appointment)
    lock_windows(appointment)
    lock_row(appointment)
    _refuse_past(appointment, now, "Then book a new session.")
    windows = None
    if appointment.course is not None and appointment.kind == "integration":
        windows = bookable_windows(appointment.course, now)
        _check_timing(appointment.course, starts_at, now, windows)
    elif starts_at <= now:
        raise DomainError({"starts_at": "Move it to a time in the future."})
    booking.move(appointment, starts_at, by=by, reason=reason)
    if windows is not None:
        # the dose it was booked for, while that dose's window holds the new time (a move into the
        # real window from the worklist); else whichever provisional window now holds it, if any
        _link(appointment, windows, appointment.booked_for_dose_id)
