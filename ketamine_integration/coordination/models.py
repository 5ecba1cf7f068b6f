"""Releases of information, coordination notes between therapist and prescriber, and the
coordination reports generated for a course (stored exactly as sent)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

#: what a release may permit (process notes are never among them, whatever a release says).
#: The indication is a diagnosis ("depression with suicidal ideation"), and the protocol's name
#: often names one too, so they and the course phase are a category of their own; a report
#: always carries only REPORT_MINIMUM besides what its release permits.
CATEGORIES = {"treatment": "Treatment summary: indication, protocol and course phase",
              # The medication and the instruments can hint at the indication: the labels say what
              # they share, so a patient withholding the treatment summary knows (SECURITY.md).
              "dosing": "Dosing and monitoring (medication, route, dose, vitals)",
              # the therapist's account of a dosing session is narrative of the patient's experience:
              # a category of its own, so a release covering dosing records does not carry it
              "dosing_notes": "Dosing-session notes (what the therapist present at each dose observed, the "
                              "support given, the patient's immediate reflections)",
              "measures": "Measures (the questionnaires, e.g. PHQ-9, and their scores)",
              "attendance": "Attendance and window adherence", "themes": "Themes and insights summary",
              "action_plan": "Action-plan progress", "safety": "Safety alerts"}
#: what every report carries whatever its release permits: whom it is about and since when
REPORT_MINIMUM = "the patient's name, MRN and date of birth, and the date the course started"
PRIORITIES = {"routine": "Routine", "urgent": "Urgent"}
NOTE_CATEGORIES = {"response": "Response", "adverse_effects": "Adverse effects", "safety": "Safety",
                   "scheduling": "Scheduling", "other": "Other"}
#: the release category a coordination note of each kind shares (None: any active release)
NOTE_NEEDS = {"response": "measures", "adverse_effects": "dosing", "safety": "safety", "scheduling": "attendance",
              "other": None}


class ReleaseOfInformation(db.Model):
    """What a patient permits to be shared, with whom, for what and from when. Never edited:
    it can only be revoked, or its revocation brought forward (database triggers, migration 0015)."""

    __tablename__ = "releases_of_information"
    __table_args__ = (
        CheckConstraint("recipient_user_id IS NOT NULL OR recipient_name IS NOT NULL", name="has_recipient"),
        CheckConstraint("expires_on IS NULL OR expires_on >= effective_on", name="expires_after_effective"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: a prescriber of this clinic ...
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: ... or an outside clinic or clinician
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    #: the patient authorises sharing with a recipient outside their care team (another practice):
    #: within the care team, coordination for treatment needs no release (45 CFR 164.506(c));
    #: outside it, only a release saying so allows it. A named outside recipient always is one.
    outside_care_team: Mapped[bool] = mapped_column(default=False, server_default=false())
    categories: Mapped[list] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(300))
    effective_on: Mapped[date]
    expires_on: Mapped[date | None]
    revoked_on: Mapped[date | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 of who may receive what, why and when (not the revocation), stored at creation; `flask signatures verify` recomputes it
    content_digest: Mapped[str | None] = mapped_column(String(64))

    patient: Mapped[Patient] = relationship()
    recipient: Mapped[User | None] = relationship(foreign_keys=[recipient_user_id], lazy="joined")

    @property
    def recipient_label(self) -> str:
        return self.recipient.display_name if self.recipient else self.recipient_name

    @property
    def covers_outside_recipient(self) -> bool:
        """Whether it authorises sharing outside the care team (a named outsider always is outside;
        releases recorded before migration 0023 to one were recorded as such)."""
        return self.outside_care_team or self.recipient_user_id is None

    def active_on(self, day: date) -> bool:
        return (self.effective_on <= day and (self.expires_on is None or day <= self.expires_on)
                and (self.revoked_on is None or day < self.revoked_on))


class CoordinationNote(db.Model):
    """A message between therapist and prescriber about a patient; never edited after sending
    (corrections are follow-ups); the recipient acknowledges it once, with a reply."""

    __tablename__ = "coordination_notes"
    __table_args__ = (
        CheckConstraint("priority IN ('routine', 'urgent')", name="known_priority"),
        CheckConstraint("category IN ('response', 'adverse_effects', 'safety', 'scheduling', 'other')",
                        name="known_category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    priority: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    #: a follow-up to (or correction of) an earlier note
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("coordination_notes.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id], lazy="joined")
    patient: Mapped[Patient] = relationship()


class ReplySeen(db.Model):
    """When a note's author first saw its answer (the acknowledgement, with or without a reply):
    the home page counts the answers their author has not seen yet (migration 0032). Bookkeeping
    of its own table: the note itself never changes but for its acknowledgement."""

    __tablename__ = "coordination_replies_seen"

    note_id: Mapped[int] = mapped_column(ForeignKey("coordination_notes.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoordinationReport(db.Model):
    """A generated report, kept exactly as sent: who, when, for whom, what it may show, the
    PDF and its SHA-256. Never changed (database triggers)."""

    __tablename__ = "coordination_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    release_ids: Mapped[list] = mapped_column(JSON)
    categories: Mapped[list] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: SHA-256 of the PDF
    content_hash: Mapped[str] = mapped_column(String(64))

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id], lazy="joined")
    #: loaded when read (a list naming each report's patient asks for it with joinedload)
    patient: Mapped[Patient] = relationship()
