"""Appointments: a clinician, a patient, a time, a room; the clinic's rooms, session lengths and
clinicians' hours. Dosing plans (experience) and integration sessions (scheduling) both book here."""
from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.coverage import OUTCOMES
from ..domain.reminders import discreet_token
from ..extensions import db
from ..patients.models import Patient

KINDS = {"preparation": "Preparation session", "dosing": "Dosing session",
         "integration": "Integration session", "follow_up": "Follow-up"}
#: each kind's length until the admin sets the clinic's own (SessionType); a booking may choose another
DEFAULT_MINUTES = {"preparation": 60, "dosing": 120, "integration": 50, "follow_up": 30}
#: the bounds of a session type's default length, in minutes
MINUTES_RANGE = (10, 480)
CHANGES = ("booked", "rescheduled", "cancelled", "attended", "no_show")
BOOKED, ATTENDED, NO_SHOW, CANCELLED = "booked", "attended", "no_show", "cancelled"
#: appointments that hold their time (a cancelled one frees it)
ACTIVE_STATUSES = (BOOKED, ATTENDED)
#: the status each outcome leaves an appointment in: held, missed, or called off (freeing its time)
STATUS_OF_OUTCOME = {"attended": ATTENDED, "no_show": NO_SHOW, "late_cancelled": CANCELLED,
                     "clinic_cancelled": CANCELLED}
#: an appointment's state in words beyond its outcome or status (Appointment.state): every page says these
UNDER_WAY, UNCONFIRMED = "under way", "unconfirmed"
#: a dosing appointment over with no signed record: none begun (the prescriber's worklist's "not
#: recorded"), or one begun and not signed
NOT_RECORDED, RECORD_NOT_SIGNED = "not recorded", "record not signed"
_OUTCOME_LIST = ", ".join(f"'{o}'" for o in OUTCOMES)
#: an outcome agrees with the status it leaves (rows from before migration 0028 were filled in by it)
OUTCOME_MATCHES_STATUS = ("outcome IS NULL OR (outcome = status AND status IN ('attended', 'no_show')) "
                          "OR (outcome IN ('late_cancelled', 'clinic_cancelled') AND status = 'cancelled')")


def new_video_token() -> str:
    """128 random bits, URL-safe (22 characters), never spelling a clinical term: the link it fills
    goes into patients' reminders."""
    return discreet_token(16)


class Appointment(db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('booked', 'attended', 'no_show', 'cancelled')", name="known_status"),
        CheckConstraint("kind IN ('preparation', 'dosing', 'integration', 'follow_up')", name="known_kind"),
        # a dosing appointment is the room-and-staff booking of exactly one dosing session
        CheckConstraint("(kind = 'dosing' AND dosing_session_id IS NOT NULL) "
                        "OR (kind <> 'dosing' AND dosing_session_id IS NULL)", name="dosing_has_session"),
        CheckConstraint(OUTCOME_MATCHES_STATUS, name="known_outcome"),
        Index("ix_appointments_clinician_time", "clinician_id", "starts_at"),
        Index("ix_appointments_patient_time", "patient_id", "starts_at"),
        # upcoming bookings (status = 'booked' AND starts_at >= now) without reading the history;
        # partial, so no query over other statuses is drawn to it (migration 0012)
        Index("ix_appointments_booked_time", "starts_at", sqlite_where=text("status = 'booked'"),
              postgresql_where=text("status = 'booked'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    #: for kind "dosing": the dosing session this books a room and a monitoring clinician for
    dosing_session_id: Mapped[int | None] = mapped_column(ForeignKey("dosing_sessions.id"), unique=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: in_person or telehealth
    modality: Mapped[str] = mapped_column(String(12), default="in_person")
    #: None for telehealth (a room-less modality)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    status: Mapped[str] = mapped_column(String(12), default=BOOKED)
    #: what became of it once its time came (domain.coverage.OUTCOMES); None: not recorded (yet).
    #: A correction changes it and adds a change row; the earlier outcome stays in the history
    outcome: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    #: an integration session booked (or moved) into the provisional window of a dose only planned
    #: (issue 20, point 1): that dosing session. Once the dose is signed, moved or cancelled, the
    #: booking is checked against the window the dose then has (experience.provisional); kept after
    #: signing, as what the booking was made for (migration 0029)
    booked_for_dose_id: Mapped[int | None] = mapped_column(ForeignKey("dosing_sessions.id"))
    #: the random code of a telehealth session's video room ({appointment} in the clinic's address
    #: template): unguessable, unlike the id, and kept when the session moves. Given to every new
    #: appointment; those from before migration 0034 have one if they were telehealth then
    video_token: Mapped[str | None] = mapped_column(String(32), index=True, unique=True,
                                                     default=new_video_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    patient: Mapped[Patient] = relationship()
    course: Mapped[TreatmentCourse | None] = relationship()
    clinician: Mapped[User] = relationship(foreign_keys=[clinician_id], lazy="joined")
    room: Mapped[Room | None] = relationship(lazy="joined")
    changes: Mapped[list[AppointmentChange]] = relationship(
        back_populates="appointment", order_by="AppointmentChange.id", cascade="all, delete-orphan")
    # `dosing_session` (kind "dosing"): the backref of experience.models.DosingSession.appointment,
    # declared there because dosing sessions sit above bookings

    __mapper_args__ = {"version_id_col": version}

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def attendance(self) -> str:
        """Its outcome, else "booked" (none recorded yet) or "cancelled" (called off ahead)."""
        return self.outcome or self.status

    def begun(self, now: datetime) -> bool:
        """Booked and its start has come: from then on it is given an outcome (a no-show is known
        at its start), never moved or cancelled (issue 20, point 2)."""
        return self.status == BOOKED and self.starts_at <= now

    def under_way(self, now: datetime) -> bool:
        """Begun and not yet over: nothing is missing yet."""
        return self.begun(now) and now < self.ends_at

    @hybrid_method
    def unconfirmed(self, now: datetime):
        """A therapist session (not dosing: signing its record says a dose happened) that has ended
        with nobody saying what happened: the one rule of "to confirm" for the calendar, the
        appointment page, the worklists, the home counts and the menu's badge. A session under way
        is not to confirm yet. Written with `&` so that it is both a bool on an appointment and a
        SQL condition on the class (attendance.count_unconfirmed)."""
        return (self.status == BOOKED) & (self.ends_at <= now) & (self.kind != "dosing")

    def state(self, now: datetime) -> str:
        """What became of it at `now`, in the words every page uses: its outcome, "cancelled",
        "booked" ahead, "under way", and once over with nothing recorded "unconfirmed" (a therapist
        session) or, for a dosing appointment, "not recorded" / "record not signed"."""
        if self.outcome:
            return OUTCOMES[self.outcome].lower()
        if self.status != BOOKED:
            return self.status.replace("_", "-")
        if now < self.starts_at:
            return BOOKED
        if now < self.ends_at:
            return UNDER_WAY
        if self.changed_with_dosing_plan:
            # the dosing session's record says whether the dose was given (experience's "draft": begun)
            begun = self.dosing_session is not None and self.dosing_session.status == "draft"
            return RECORD_NOT_SIGNED if begun else NOT_RECORDED
        return UNCONFIRMED

    @property
    def recorded_afterwards(self) -> AppointmentChange | None:
        """The change that entered a session only after it was held (it was never booked), with its reason."""
        first = self.changes[0] if self.changes else None
        return first if first is not None and first.change == ATTENDED else None

    @property
    def changed_with_dosing_plan(self) -> bool:
        """A dosing appointment moves and is cancelled with its dosing session, not on its own."""
        return self.kind == "dosing"


class SessionType(db.Model):
    """The clinic's own default length of a kind of session (absent: DEFAULT_MINUTES)."""

    __tablename__ = "session_types"
    __table_args__ = (
        CheckConstraint("kind IN ('preparation', 'dosing', 'integration', 'follow_up')", name="known_kind"),
        CheckConstraint(f"default_minutes BETWEEN {MINUTES_RANGE[0]} AND {MINUTES_RANGE[1]}",
                        name="minutes_in_range"),
    )

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    default_minutes: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Room(db.Model):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    #: an inactive room is kept for history but offered for no new booking
    active: Mapped[bool] = mapped_column(default=True)


class WorkingHours(db.Model):
    """One block of a clinician's regular week, in the clinic's wall-clock time."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("ends > starts", name="ends_after_start"),
        UniqueConstraint("clinician_id", "weekday", "starts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: 0 = Monday
    weekday: Mapped[int]
    #: clinic wall-clock time
    starts: Mapped[time]
    ends: Mapped[time]


class TimeOff(db.Model):
    """An exception to the weekly pattern: the clinician is away (leave, training, a meeting)."""

    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: short and non-clinical, e.g. "annual leave"
    reason: Mapped[str | None] = mapped_column(String(120))


class ExtraHours(db.Model):
    """An exception the other way: the clinician works outside their weekly pattern (an extra
    Saturday morning, a late evening). Bookable and offered like regular hours."""

    __tablename__ = "extra_hours"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: short and non-clinical, e.g. "covering the Saturday clinic"
    reason: Mapped[str | None] = mapped_column(String(120))


class AppointmentChange(db.Model):
    """The history of an appointment: booked, moved, cancelled, and its outcome, set and corrected.
    Each change is a new row; none is ever edited or deleted (database triggers, migration 0016), so
    a corrected outcome keeps the earlier one."""

    __tablename__ = "appointment_changes"
    __table_args__ = (CheckConstraint(
        "change IN ('booked', 'rescheduled', 'cancelled', 'attended', 'no_show')", name="known_change"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_OUTCOME_LIST})", name="known_outcome"))

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    change: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: for a move: where it was before
    previous_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(300))
    #: the outcome this change records (a late cancellation's change is "cancelled"); None for
    #: bookings and moves, and for outcomes recorded before migration 0028 (their change says it)
    outcome: Mapped[str | None] = mapped_column(String(20))
    #: the signed integration note that proves the session was held (attendance derived from it)
    note_id: Mapped[int | None] = mapped_column(ForeignKey("session_notes.id"))

    appointment: Mapped[Appointment] = relationship(back_populates="changes")
    by_user: Mapped[User] = relationship(lazy="joined")
