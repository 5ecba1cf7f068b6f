"""Dosing sessions with their vitals, adverse events and addenda."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from ..accounts.models import User
from ..bookings.models import Appointment
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.dosing_plan import AT_HOME, IN_CLINIC
from ..extensions import db
from ..db.append_only import AppendOnlyViolation
from ..db.signed_records import changed_attributes, was_signed
from ..domain.vitals import READINGS, TIMEPOINTS

PLANNED, DRAFT, SIGNED, CANCELLED = "planned", "draft", "signed", "cancelled"
STATUSES = (PLANNED, DRAFT, SIGNED, CANCELLED)
SEVERITIES = ("none", "mild", "moderate", "severe")
#: where a dosing session happens (domain.dosing_plan: a protocol lists the settings it allows)
SETTING_LABELS = {IN_CLINIC: "In the clinic", AT_HOME: "Supervised at home (telehealth)"}
#: how a set of vital signs was taken: by the clinic's staff, told by the patient, or read from their device
VITAL_SOURCES = {"clinician": "Measured by the clinician", "patient_reported": "Reported by the patient",
                 "device": "Read from the patient's device"}
VITAL_TIMEPOINTS = TIMEPOINTS
READING_NAMES = tuple(READINGS)


class DosingSession(db.Model):
    """One dosing session of a course: planned, then recorded, then signed and locked.

    After signing nothing here changes (the service refuses it and the content digest would
    show it); corrections are addenda.
    """

    __tablename__ = "dosing_sessions"
    __table_args__ = (
        UniqueConstraint("course_id", "sequence"),
        CheckConstraint("status IN ('planned', 'draft', 'signed', 'cancelled')", name="known_status"),
        CheckConstraint("ended_at IS NULL OR started_at IS NULL OR ended_at > started_at",
                        name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: 1 for the first dosing session of the course
    sequence: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default=PLANNED)
    #: when it is planned to start (UTC)
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: why a plan that breaks the protocol's spacing rules was accepted (clinician's words)
    spacing_override_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: the integration window is counted from here
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    route: Mapped[str | None] = mapped_column(String(20))
    medication: Mapped[str | None] = mapped_column(String(20))
    #: mg
    dose_mg: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    #: mg/kg, from the weight at the time of dosing (weight-based routes)
    dose_mg_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 3))
    #: why a dose outside the protocol's usual doses was given (the prescriber's words)
    dose_confirmation_reason: Mapped[str | None] = mapped_column(Text)
    #: in_clinic, or supervised_at_home (telehealth, no room) where the protocol allows it
    setting: Mapped[str] = mapped_column(String(20), default=IN_CLINIC, server_default=IN_CLINIC)
    #: kg, measured or reported at the time of dosing
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    lot_number: Mapped[str | None] = mapped_column(String(40))
    administered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    monitored_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sedation: Mapped[str | None] = mapped_column(String(10))
    dissociation: Mapped[str | None] = mapped_column(String(10))
    concomitant_sedating_medications: Mapped[str | None] = mapped_column(String(500))
    #: minutes from the start of dosing to discharge, computed from those two times when the
    #: record is saved (records signed before issue 19 keep the number typed then)
    monitoring_minutes: Mapped[int | None]
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: every discharge criterion met; derived from `discharge_checks` and the discharge readings
    discharge_ready: Mapped[bool | None]
    #: the clinician's answer to each observed discharge criterion, by key (domain.vitals.DISCHARGE_CRITERIA)
    discharge_checks: Mapped[dict | None] = mapped_column(JSON)
    #: REMS: when the patient would have been ready to leave without the 2-hour rule
    ready_to_leave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: REMS: vital signs acceptable before dosing / before discharge
    vitals_acceptable_before_dosing: Mapped[bool | None]
    vitals_acceptable_before_discharge: Mapped[bool | None]
    #: REMS Patient Monitoring Form submitted to the programme (clinic date)
    rems_submitted_on: Mapped[date | None]
    rems_submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: SHA-256 of the signed content; `flask verify-signatures` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: optimistic lock for concurrent edits of a draft
    version: Mapped[int] = mapped_column(default=1)

    course: Mapped[TreatmentCourse] = relationship()
    administered_by: Mapped[User | None] = relationship(foreign_keys=[administered_by_id])
    monitored_by: Mapped[User | None] = relationship(foreign_keys=[monitored_by_id])
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])
    vitals: Mapped[list[VitalSigns]] = relationship(
        back_populates="dosing_session", cascade="all, delete-orphan", lazy="selectin",
        order_by="VitalSigns.id")
    #: every adverse event recorded, withdrawn ones too: a saved fact is never deleted (the
    #: record reads `adverse_events`, the ones standing)
    adverse_event_rows: Mapped[list[AdverseEvent]] = relationship(
        back_populates="dosing_session", cascade="save-update, merge", lazy="selectin",
        order_by="AdverseEvent.id")
    #: every clinical response recorded, withdrawn ones too (the record reads `vital_responses`)
    vital_response_rows: Mapped[list[VitalSignResponse]] = relationship(
        back_populates="dosing_session", cascade="save-update, merge", lazy="selectin",
        order_by="VitalSignResponse.id")
    addenda: Mapped[list[DosingAddendum]] = relationship(
        back_populates="dosing_session", lazy="selectin", order_by="DosingAddendum.id")
    #: readings as saved before someone changed them (append-only, like addenda)
    vital_corrections: Mapped[list[VitalSignCorrection]] = relationship(
        back_populates="dosing_session", lazy="selectin", order_by="VitalSignCorrection.id")
    #: clinical responses and adverse events as saved before someone changed or withdrew them
    #: (append-only; read by the record page and its signature only, so loaded when asked for)
    response_revisions: Mapped[list[VitalResponseRevision]] = relationship(
        back_populates="dosing_session", order_by="VitalResponseRevision.id")
    adverse_event_revisions: Mapped[list[AdverseEventRevision]] = relationship(
        back_populates="dosing_session", order_by="AdverseEventRevision.id")
    #: the room-and-staff booking of a planned session (kind "dosing"); declared on this side, as
    #: dosing sessions sit above bookings, with `Appointment.dosing_session` as its backref
    appointment: Mapped[Appointment | None] = relationship(backref="dosing_session",
                                                          foreign_keys=[Appointment.dosing_session_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def patient(self):
        return self.course.patient

    @property
    def signed(self) -> bool:
        return self.status == SIGNED

    @property
    def adverse_events(self) -> list[AdverseEvent]:
        """The adverse events the record states: those not withdrawn."""
        return [e for e in self.adverse_event_rows if e.withdrawn_at is None]

    @property
    def vital_responses(self) -> list[VitalSignResponse]:
        """The clinical responses the record states: those not withdrawn."""
        return [r for r in self.vital_response_rows if r.withdrawn_at is None]


class VitalSigns(db.Model):
    __tablename__ = "vital_signs"
    __table_args__ = (UniqueConstraint("dosing_session_id", "timepoint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    #: baseline, post_40 or discharge
    timepoint: Mapped[str] = mapped_column(String(12))
    #: mmHg
    systolic: Mapped[int | None]
    #: mmHg
    diastolic: Mapped[int | None]
    #: beats per minute
    heart_rate: Mapped[int | None]
    #: percent
    spo2: Mapped[int | None]
    #: who took these readings (VITAL_SOURCES): at home they are the patient's or their device's
    source: Mapped[str] = mapped_column(String(20), default="clinician", server_default="clinician")
    #: breaths per minute
    respiratory_rate: Mapped[int | None]
    #: who entered these readings as they stand (a correction keeps who entered the earlier ones)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    dosing_session: Mapped[DosingSession] = relationship(back_populates="vitals")
    entered_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def recorded(self) -> bool:
        """Whether any reading was entered (a timepoint saved with every number blank says nothing)."""
        return any(value is not None for value in (self.systolic, self.diastolic, self.heart_rate, self.spo2,
                                                   self.respiratory_rate))


class VitalSignCorrection(db.Model):
    """A set of readings as it was saved before someone changed it, with who changed it, when and
    why. A saved reading is a fact: changing it keeps this row, never edited or deleted, signed
    with the record and shown on it ("Earlier readings")."""

    __tablename__ = "vital_sign_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    #: baseline, post_40 or discharge
    timepoint: Mapped[str] = mapped_column(String(12))
    #: the earlier readings: mmHg, mmHg, /min, %, /min
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    heart_rate: Mapped[int | None]
    spo2: Mapped[int | None]
    respiratory_rate: Mapped[int | None]
    #: who took the earlier readings (VITAL_SOURCES)
    source: Mapped[str | None] = mapped_column(String(20))
    #: who had entered the earlier readings (unknown for readings saved before migration 0024)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: why the saved reading was changed (the clinician's words)
    reason: Mapped[str] = mapped_column(Text)

    dosing_session: Mapped[DosingSession] = relationship(back_populates="vital_corrections")
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id], lazy="joined")
    corrected_by: Mapped[User] = relationship(foreign_keys=[corrected_by_id], lazy="joined")

    @property
    def readings(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in READING_NAMES}


class VitalSignResponse(db.Model):
    """The clinical response to the flagged readings of one timepoint: what was done, who decided,
    and the later reading. Part of the record: signed with it, and frozen with it."""

    __tablename__ = "vital_sign_responses"
    __table_args__ = (UniqueConstraint("dosing_session_id", "timepoint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    #: the timepoint whose flagged reading this answers: baseline, post_40 or discharge
    timepoint: Mapped[str] = mapped_column(String(12))
    #: what was done (clinician's words)
    action: Mapped[str] = mapped_column(Text)
    #: the clinician who decided it
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when the later reading was taken (UTC)
    later_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the later reading: mmHg, mmHg, /min, %, /min
    later_systolic: Mapped[int | None]
    later_diastolic: Mapped[int | None]
    later_heart_rate: Mapped[int | None]
    later_spo2: Mapped[int | None]
    later_respiratory_rate: Mapped[int | None]
    #: who entered this response as it stands
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when "what was done" was cleared: the row stays, its content kept in `response_revisions`
    #: with who withdrew it and why; a new response at this timepoint later reuses the row
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    dosing_session: Mapped[DosingSession] = relationship(back_populates="vital_response_rows")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id], lazy="joined")

    @property
    def later(self) -> dict[str, int | None]:
        return {name: getattr(self, f"later_{name}") for name in READING_NAMES}


class AdverseEvent(db.Model):
    __tablename__ = "adverse_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    #: e.g. nausea, vomiting, hypertension, anxiety, headache
    event_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    action_taken: Mapped[str | None] = mapped_column(String(300))
    #: who entered this event as it stands (unknown for events saved before migration 0025)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when it was withdrawn from the record (removed from the form): the row is kept, never
    #: deleted, and its content is in `adverse_event_revisions` with who withdrew it and why
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    dosing_session: Mapped[DosingSession] = relationship(back_populates="adverse_event_rows")
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id], lazy="joined")

    @property
    def content(self) -> dict:
        return {"event_type": self.event_type, "severity": self.severity, "action_taken": self.action_taken}


#: what a revision says happened to the earlier version (domain.revisions)
REVISION_CHANGES = "change IN ('added_to', 'changed', 'withdrawn')"
#: a saved value replaced or removed, or a fact withdrawn, says why
REVISION_REASON = "change = 'added_to' OR reason IS NOT NULL"


class Revision:
    """What every earlier version of a saved fact says besides the fact itself: who had entered it,
    what happened to it (added_to, changed or withdrawn: domain.revisions), who did that, when and
    why (the clinician's words: a saved value replaced or removed, or a fact withdrawn)."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        # made per table: a constraint belongs to one table
        return (CheckConstraint(REVISION_CHANGES, name="known_change"),
                CheckConstraint(REVISION_REASON, name="reason_given"))

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    #: who had entered the earlier version (unknown for facts saved before migrations 0024 and 0025)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    change: Mapped[str] = mapped_column(String(12))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)

    @declared_attr
    def entered_by(cls) -> Mapped[User | None]:
        return relationship(foreign_keys=lambda: [cls.entered_by_id], lazy="joined")

    @declared_attr
    def changed_by(cls) -> Mapped[User]:
        return relationship(foreign_keys=lambda: [cls.changed_by_id], lazy="joined")


class VitalResponseRevision(Revision, db.Model):
    """A clinical response as it was saved before someone added to it, changed it or withdrew it,
    with who did so, when and why. Never edited or deleted, none added once the record is
    signed; signed with the record and shown on it ("Earlier clinical responses")."""

    __tablename__ = "vital_response_revisions"

    #: the response this was an earlier version of
    response_id: Mapped[int] = mapped_column(ForeignKey("vital_sign_responses.id"))
    #: baseline, post_40 or discharge
    timepoint: Mapped[str] = mapped_column(String(12))
    #: the earlier version: what was done, who decided, the later reading's time (UTC) and values
    #: (mmHg, mmHg, /min, %, /min)
    action: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    later_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    later_systolic: Mapped[int | None]
    later_diastolic: Mapped[int | None]
    later_heart_rate: Mapped[int | None]
    later_spo2: Mapped[int | None]
    later_respiratory_rate: Mapped[int | None]

    dosing_session: Mapped[DosingSession] = relationship(back_populates="response_revisions")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")

    @property
    def later(self) -> dict[str, int | None]:
        return {name: getattr(self, f"later_{name}") for name in READING_NAMES}


class AdverseEventRevision(Revision, db.Model):
    """An adverse event as it was saved before someone added to it, changed it or withdrew it,
    with who did so, when and why. Never edited or deleted, none added once the record is
    signed; signed with the record and shown on it ("Earlier and withdrawn adverse events")."""

    __tablename__ = "adverse_event_revisions"

    #: the event this was an earlier version of
    adverse_event_id: Mapped[int] = mapped_column(ForeignKey("adverse_events.id"))
    #: the earlier version
    event_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    action_taken: Mapped[str | None] = mapped_column(String(300))

    dosing_session: Mapped[DosingSession] = relationship(back_populates="adverse_event_revisions")


class DosingAddendum(db.Model):
    """A correction or later observation added to a signed dosing session; never edited."""

    __tablename__ = "dosing_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    #: SHA-256 of what it says, stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    dosing_session: Mapped[DosingSession] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship(lazy="joined")


#: what may still change on a signed dosing session: the REMS submission and bookkeeping
MUTABLE_AFTER_SIGNING = frozenset({"rems_submitted_on", "rems_submitted_by_id", "updated_at", "version", "addenda"})


class SignedRecordChanged(RuntimeError):
    """Code tried to change a signed dosing session (corrections are addenda)."""


def refuse_changes_to_signed_sessions(db_session: Session, flush_context, instances) -> None:
    # The migration adds database triggers too; this stops the ORM path early and loudly.
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, DosingSession) and was_signed(obj):
            if obj in db_session.deleted or changed_attributes(obj) - MUTABLE_AFTER_SIGNING:
                raise SignedRecordChanged(f"dosing session {obj.id} is signed; add an addendum instead")
    for obj in db_session.deleted:
        if isinstance(obj, (AdverseEvent, VitalSignResponse)):
            raise AppendOnlyViolation("a saved adverse event or clinical response is withdrawn, never deleted")
    for obj in list(db_session.new) + list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, (VitalSigns, AdverseEvent, VitalSignResponse, VitalSignCorrection, VitalResponseRevision,
                            AdverseEventRevision)) \
                and obj.dosing_session is not None \
                and obj.dosing_session.status == SIGNED and was_signed(obj.dosing_session):
            raise SignedRecordChanged("the vitals, responses and adverse events of a signed session never change")
