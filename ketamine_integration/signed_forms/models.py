"""Signed forms: the packet a course's protocol asks for, each signature as the document the patient
signed, its countersignature, a prescriber's review of its flagged answers, a withdrawal, and the
clinic tablet's signing sessions.

All of it is append-only (migration 0056_signed_forms: triggers on both engines): a signed form never
changes; a new version is a new signature, a withdrawal a new row. A tablet's session is only ended, once
(migration 0058_forms_integrity).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.form_definitions import form_noun
from ..extensions import db
from ..patients.models import Patient

PORTAL, IN_CLINIC = "portal", "in_clinic"
#: how a tablet signing session ended
COMPLETED, ENDED_BY_STAFF, EXPIRED = "completed", "ended by staff", "expired"


class FormPacket(db.Model):
    """The forms a course's protocol asked for when the patient was enrolled (one packet per course)."""

    __tablename__ = "form_packets"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    course: Mapped[TreatmentCourse] = relationship()
    forms: Mapped[list[PacketForm]] = relationship(back_populates="packet", order_by="PacketForm.id")


class PacketForm(db.Model):
    """One form of a packet, by id: the patient signs its current version."""

    __tablename__ = "packet_forms"
    __table_args__ = (UniqueConstraint("packet_id", "form_id", name="once_per_packet"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    packet_id: Mapped[int] = mapped_column(ForeignKey("form_packets.id"), index=True)
    #: a form id of forms/ (domain.form_definitions.MAX_ID)
    form_id: Mapped[str] = mapped_column(String(60))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    packet: Mapped[FormPacket] = relationship(back_populates="forms")


class SignedForm(db.Model):
    """A form as the patient signed it: the exact text, the answers, the version and its content hash,
    who signed when and how (domain.form_answers.build_document), and the SHA-256 of that document."""

    __tablename__ = "signed_forms"
    __table_args__ = (
        CheckConstraint("method IN ('portal', 'in_clinic')", name="known_method"),
        CheckConstraint("kind IN ('consent', 'intake')", name="known_kind"),
        # in the portal: the patient's own account, nobody witnessing; in the clinic: the staff member
        # who handed over the tablet witnesses, no portal account
        CheckConstraint("(method = 'portal' AND portal_account_id IS NOT NULL AND witness_id IS NULL) OR "
                        "(method = 'in_clinic' AND witness_id IS NOT NULL AND portal_account_id IS NULL)",
                        name="signer_matches_method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(60))
    form_version: Mapped[int]
    #: SHA-256 of the form file's content (domain.form_definitions.content_hash) at signing
    form_content_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(120))
    #: the signed document as canonical JSON, exactly as digested (domain.form_answers.document_json)
    document: Mapped[str] = mapped_column(Text)
    #: SHA-256 of `document`: `flask signatures verify` recomputes it
    digest: Mapped[str] = mapped_column(String(64))
    #: how many answers the document flags (its questions with a flag_reason), written at signing so the
    #: prescriber's waiting list finds them without reading the documents; `signatures verify` recounts it
    flagged_count: Mapped[int] = mapped_column(default=0, server_default="0")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(10))
    #: the name the patient typed (matched against the record's given and family name)
    typed_name: Mapped[str] = mapped_column(String(200))
    portal_account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id"))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship()
    course: Mapped[TreatmentCourse] = relationship()
    witness: Mapped[User | None] = relationship()
    countersignature: Mapped[FormCountersignature | None] = relationship(back_populates="signed_form")
    flag_review: Mapped[FormFlagReview | None] = relationship(back_populates="signed_form")
    withdrawal: Mapped[ConsentWithdrawal | None] = relationship(back_populates="signed_form")

    @property
    def noun(self) -> str:
        """What a reader calls it: "consent", "agreement", "intake form" (domain.form_definitions.form_noun)."""
        return form_noun(self.form_id, self.kind)


class FormCountersignature(db.Model):
    """A clinician's countersignature of a signed form, in the role the form file names."""

    __tablename__ = "form_countersignatures"
    __table_args__ = (CheckConstraint("role IN ('prescriber', 'therapist', 'staff')", name="known_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signed_form_id: Mapped[int] = mapped_column(ForeignKey("signed_forms.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: SHA-256 over the signed form's digest, the user, the role and the time (services.countersignature_digest)
    digest: Mapped[str] = mapped_column(String(64))

    signed_form: Mapped[SignedForm] = relationship(back_populates="countersignature")
    user: Mapped[User] = relationship()


class FormFlagReview(db.Model):
    """A prescriber's note on a signed form's flagged answers: one note covers all of them."""

    __tablename__ = "form_flag_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    signed_form_id: Mapped[int] = mapped_column(ForeignKey("signed_forms.id"), unique=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    signed_form: Mapped[SignedForm] = relationship(back_populates="flag_review")
    prescriber: Mapped[User] = relationship()


class ConsentWithdrawal(db.Model):
    """The patient withdrew a signed consent: in the portal, or by telling the clinic (a staff member
    records it). A later signature of the same form restores the consent."""

    __tablename__ = "consent_withdrawals"
    __table_args__ = (CheckConstraint("(recorded_by_id IS NULL) <> (portal_account_id IS NULL)", name="one_way_in"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signed_form_id: Mapped[int] = mapped_column(ForeignKey("signed_forms.id"), unique=True)
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    #: the staff member who recorded what the patient said (None: the patient withdrew in the portal)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    portal_account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id"))

    signed_form: Mapped[SignedForm] = relationship(back_populates="withdrawal")
    recorded_by: Mapped[User | None] = relationship()


class TabletSigning(db.Model):
    """A clinic tablet handed to the patient to sign their packet, for 30 minutes at most. Only the
    token's SHA-256 is kept: the token itself lives in the tablet's session."""

    __tablename__ = "tablet_signings"
    __table_args__ = (CheckConstraint("ended_reason IS NULL OR ended_reason IN ('completed', 'ended by staff', "
                                      "'expired')", name="known_end"),
                      CheckConstraint("(ended_at IS NULL) = (ended_reason IS NULL)", name="ended_with_reason"))

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))

    patient: Mapped[Patient] = relationship()
    course: Mapped[TreatmentCourse] = relationship()
    started_by: Mapped[User] = relationship()
