"""What became of therapist sessions (issue 20, points 2 and 4): outcomes recorded and corrected
with the earlier one kept, attendance derived from a signed integration note, sessions entered
after they were held, and the appointments over with no outcome ("unconfirmed")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import BindParameter, Select, func, select
from sqlalchemy.orm import joinedload

from ..accounts.models import THERAPIST, User
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..db.clinic_time import clinic_zone, format_local
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain.coverage import ATTENDED, CLINIC_CANCELLED, LATE_CANCELLED, NO_SHOW, OUTCOMES
from ..domain.text import written_length
from ..experience.models import SIGNED
from ..experience.services import fetch_dosing_sessions
from ..extensions import db
from ..patients.access import seen_by, team_roles
from ..bookings import booking
from ..bookings.availability import session_minutes
from ..bookings.models import BOOKED, Appointment
from .services import lock_windows

#: characters (whitespace aside) a correction or a late entry must give as its reason
REASON_MINIMUM = 10
#: unconfirmed appointments a worklist lists (the count says how many there are in all)
SHOWN = 50


def record_outcome(appointment: Appointment, *, outcome: str, by: User, now: datetime,
                   reason: str | None = None) -> bool:
    """Say what became of an appointment whose time has come, or correct what was said (with a
    reason; the earlier outcome stays in its history). True when it was a correction."""
    if outcome not in OUTCOMES:
        raise DomainError({"outcome": "Choose what happened."})
    if appointment.changed_with_dosing_plan:
        raise DomainError("A dosing appointment is marked attended when its record is signed.")
    lock_windows(appointment)
    lock_row(appointment)
    if appointment.starts_at > now:
        raise DomainError("An appointment is given an outcome once its time has come.")
    reason = (reason or "").strip() or None
    if appointment.outcome is None:
        if appointment.status != BOOKED:
            raise DomainError("It was cancelled before its time: there is no outcome to record.")
        booking.settle(appointment, outcome, by=by, reason=reason)
        db.session.flush()
        return False
    _check_correction(appointment, outcome, reason)
    booking.settle(appointment, outcome, by=by, reason=reason)
    db.session.flush()
    return True


def _check_correction(appointment: Appointment, outcome: str, reason: str | None) -> None:
    if outcome == appointment.outcome:
        raise DomainError({"outcome": f"It is recorded as {OUTCOMES[outcome].lower()} already."})
    notes = documented_by(appointment)
    if appointment.outcome == ATTENDED and notes:
        # the signed note stays what it says: the record cannot say both
        raise DomainError({"outcome": f"Signed integration note #{notes[-1]} says this session was held, so it "
                                      "stays attended. If the note is wrong, its author adds an addendum saying "
                                      "so; contact the clinic's records lead to settle the record."})
    if written_length(reason) < REASON_MINIMUM:
        raise DomainError({"reason": f"Say why the outcome was {OUTCOMES[appointment.outcome].lower()} and is "
                                     f"corrected (at least {REASON_MINIMUM} characters); the earlier one is kept."})
    if outcome == ATTENDED and appointment.status != ATTENDED:
        # held after all: its time is taken again, which a booking made since may hold
        clashes = [a for a in booking.conflicts(
            clinician_id=appointment.clinician_id, patient_id=appointment.patient_id, starts_at=appointment.starts_at,
            ends_at=appointment.ends_at, room_id=appointment.room_id) if a is not appointment]
        if clashes:
            raise DomainError({"outcome": booking.describe_conflicts(clashes, appointment.patient_id,
                                                                     appointment.room_id)})


def _clinic_day(day: date) -> tuple[datetime, datetime]:
    zone = clinic_zone()
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


#: outcomes that say the session was not held
MISSED = (NO_SHOW, LATE_CANCELLED, CLINIC_CANCELLED)


def attended_by_note(note, *, by: User) -> Appointment | None:
    """A signed integration note proves its session was held: the author's one integration
    appointment with the patient that day, still without an outcome, is marked attended, the
    note named in its history and the outcome audited as the attendance page audits it. One
    already marked attended gets the note named in its history too (what keeps its outcome from
    being corrected away: _check_correction). None when no single appointment matches (nothing is
    guessed).

    Refused when that day's sessions of the author are recorded as not held (no-show, late or
    clinic cancellation) and none as held or booked: the note would say it was held, the record
    that it was not. Its outcome is corrected first (with a reason), or the note dated for the
    session it documents."""
    if note.kind != "integration":
        return None
    that_day = _sessions_of_the_note(note)
    booked = [a for a in that_day if a.status == BOOKED]
    held = [a for a in that_day if a.outcome == ATTENDED]
    if not booked and not held:
        _refuse_if_missed(that_day)
    found = booked if len(booked) == 1 else held if not booked and len(held) == 1 else []
    if not found:
        return None
    [appointment] = found
    lock_windows(appointment)
    marked = appointment.status == BOOKED
    booking.settle(appointment, ATTENDED, by=by, reason=f"Signed integration note #{note.id} documents it",
                   note_id=note.id)
    db.session.flush()
    audit.record("appointment.update", obj=appointment, patient_id=appointment.patient_id,
                 detail=f"outcome attended: signed integration note #{note.id}" if marked
                 else f"attended, documented by signed integration note #{note.id}")
    return appointment


def _sessions_of_the_note(note) -> list[Appointment]:
    """The note author's integration sessions with the patient on the note's day, begun by its signing."""
    start, end = _clinic_day(note.session_date)
    return db.session.scalars(select(Appointment).where(
        Appointment.course_id == note.course_id, Appointment.kind == "integration",
        Appointment.clinician_id == note.author_id,
        Appointment.starts_at >= start, Appointment.starts_at < end, Appointment.starts_at <= note.signed_at)
        .order_by(Appointment.starts_at)).all()


def _refuse_if_missed(that_day: list[Appointment]) -> None:
    missed = [a for a in that_day if a.outcome in MISSED]
    if missed:
        said = OUTCOMES[missed[-1].outcome].lower()
        raise DomainError({"session_date": f"Your integration session with this patient that day is recorded as "
                                           f"{said}: a signed note would say it was held. If it was held, have "
                                           "its outcome corrected first (with a reason); otherwise date the note "
                                           "for the session it documents."})


def documented_by(appointment: Appointment) -> list[int]:
    """The signed integration notes named in the appointment's history as documenting it."""
    return sorted({c.note_id for c in appointment.changes if c.note_id is not None})


def record_held_session(course: TreatmentCourse, *, by: User, starts_at: datetime, minutes: int | None,
                        modality: str, reason: str, now: datetime) -> Appointment:
    """Enter an integration session that was held without a booking (a walk-in, telehealth set
    up outside the app), as the therapist who held it, with the reason. It counts for coverage
    like any attended session. What happened is a fact: hours and time off do not refuse it, but
    a session cannot overlap another of the patient's or the therapist's."""
    lock_course(course)
    if not by.active or THERAPIST not in team_roles(by, course.patient):
        # the session is entered in their name as its therapist: a therapist of the patient's care
        # team (seeing every patient as staff, or being on the team as prescriber, is not that)
        raise DomainError("Integration sessions are entered by the therapist who held them, "
                          "a therapist on the patient's care team.")
    if written_length(reason) < REASON_MINIMUM:
        raise DomainError({"reason": f"Say why it is entered afterwards (at least {REASON_MINIMUM} characters): "
                                     "a walk-in, telehealth set up outside the app…"})
    ends_at = starts_at + timedelta(minutes=minutes or session_minutes()["integration"])
    if ends_at > now:
        raise DomainError({"starts_at": "Enter a session once it has ended; book one that is still ahead."})
    doses = [s.ended_at for s in fetch_dosing_sessions(course.id) if s.status == SIGNED]
    if not any(ended <= starts_at for ended in doses):
        first = f"its first signed dosing session ended {format_local(min(doses))}" if doses else \
            "no dosing session of this course is signed yet"
        raise DomainError({"starts_at": f"An integration session follows a dose: {first}."})
    booking.lock_parties(clinician_id=by.id, patient_id=course.patient_id, room_id=None)
    clashes = booking.conflicts(clinician_id=by.id, patient_id=course.patient_id, starts_at=starts_at,
                                ends_at=ends_at)
    if clashes:
        raise DomainError({"starts_at": booking.describe_conflicts(clashes, course.patient_id, None)
                           + " Record what became of that appointment instead."})
    appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=by.id,
                              kind="integration", starts_at=starts_at, ends_at=ends_at, modality=modality,
                              room_id=None, status=ATTENDED, outcome=ATTENDED, created_by_id=by.id)
    booking.record_change(appointment, ATTENDED, by, reason=reason.strip(), outcome=ATTENDED)
    db.session.add(appointment)
    db.session.flush()
    return appointment


@dataclass(frozen=True)
class Unconfirmed:
    """Appointments over with no outcome: the oldest SHOWN, and how many in all."""

    appointments: list[Appointment]
    total: int


def _unconfirmed(now: datetime | BindParameter, clinician_id: int | None) -> list:
    """Therapist sessions over with nobody saying what happened (Appointment.unconfirmed, the one
    rule), of one clinician or the whole clinic.

    A clinician's list (their home page, their badge) holds only the patients they may still see:
    one who has left a care team no longer reads that patient's name or sessions, and those
    sessions stay on the staff worklist (the whole clinic's list) for the desk to settle."""
    where = [Appointment.unconfirmed(now)]
    if clinician_id is not None:
        clinician = db.session.get(User, clinician_id)
        where += [Appointment.clinician_id == clinician_id, seen_by(clinician, Appointment.patient_id)]
    return where


def count_unconfirmed(now: datetime | BindParameter, *, clinician_id: int | None = None) -> Select:
    """A SELECT of how many sessions `unconfirmed` finds (the home page's count, the menu's badge); `now`:
    an instant, or a parameter bound to it when the SELECT is run (home.waiting builds it once)."""
    return select(func.count(Appointment.id)).where(*_unconfirmed(now, clinician_id))


def unconfirmed(now: datetime, *, clinician_id: int | None = None) -> Unconfirmed:
    """The sessions over with no outcome (_unconfirmed), the oldest SHOWN and how many: one query."""
    rows = db.session.execute(select(Appointment, func.count().over().label("total"))
                              .where(*_unconfirmed(now, clinician_id))
                              .options(joinedload(Appointment.patient))
                              .order_by(Appointment.starts_at, Appointment.id).limit(SHOWN)).all()
    return Unconfirmed([appointment for appointment, _ in rows], rows[0].total if rows else 0)
