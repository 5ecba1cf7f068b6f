"""Journal entries: what a patient writes after a dose, private until they share it, entry by entry."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.journal import FREE, PROMPTS
from ..experience.models import DosingSession
from ..extensions import db
from ..patients.models import Patient

_KNOWN_PROMPTS = ", ".join(f"'{key}'" for key in PROMPTS)


class JournalEntry(db.Model):
    """One entry of a patient's journal.

    Private by default: no staff page shows an entry whose `shared_at` is empty. Sharing is the
    patient's own act, per entry; withdrawing a share makes it private again. The patient edits an
    entry while it is private; a shared one is kept as the therapist may have read it (withdraw the
    share to change it). What a therapist quoted into a signed note stays in that note whatever
    happens to the entry later: the note is the record of the session. Never deleted (a patient's
    text is never lost); the audit trail records every read and write, never the text.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(f"prompt IN ({_KNOWN_PROMPTS})", name="known_prompt"),
        CheckConstraint(f"prompt = '{FREE}' OR dosing_session_id IS NOT NULL", name="review_names_its_dose"),
        Index("ix_journal_entries_course_shared", "course_id", "shared_at"),
        Index("ix_journal_entries_patient_written", "patient_id", "written_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"))
    #: the dose it reflects on: a review prompt's always; a free entry's, the latest dose when written (if any)
    dosing_session_id: Mapped[int | None] = mapped_column(ForeignKey("dosing_sessions.id"))
    #: the prompt it answers: a key of domain.journal.PROMPTS ("free": the patient's own entry)
    prompt: Mapped[str] = mapped_column(String(20))
    #: the patient's words, at most domain.journal.ENTRY_MAX characters
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the last change of its text (None: as first written)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the patient shared it with their therapist; None: private (never shared, or the share withdrawn)
    shared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the patient first shared it (never cleared): from then on its words stay as the therapist
    #: may have read and quoted them; None: never shared (migration 0042)
    first_shared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    patient: Mapped[Patient] = relationship()
    course: Mapped[TreatmentCourse] = relationship()
    dosing_session: Mapped[DosingSession | None] = relationship()

    @property
    def shared(self) -> bool:
        return self.shared_at is not None
