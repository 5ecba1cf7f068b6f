"""Techniques used at an integration note, from the clinic's technique vocabulary, each with its
rationale; and at a later note, how the patient responded to each (issue 24, point 2).

Frozen with their note once it is signed, like its themes (notes.signed_guard; database triggers,
migration 0046). A use stores the technique's key and its name at the time, so the record reads
the same whatever the vocabulary files later say.
"""
from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

#: how a patient responded to a technique, as the next note records it
RESPONSES = {"helpful": "Helpful", "mixed": "Mixed", "not_helpful": "Not helpful",
             "too_early": "Too early to tell"}
KNOWN_RESPONSES = ", ".join(f"'{key}'" for key in RESPONSES)


class NoteTechnique(db.Model):
    """A technique used in the session an integration note documents, and why."""

    __tablename__ = "note_techniques"
    __table_args__ = (CheckConstraint("rationale <> ''", name="with_rationale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    #: the vocabulary's key (domain.techniques, vocabularies/*.yaml)
    technique_key: Mapped[str] = mapped_column(String(60))
    #: the technique's name when the note was written
    technique_name: Mapped[str] = mapped_column(String(120))
    #: why this technique, for this patient, now (required)
    rationale: Mapped[str] = mapped_column(String(500))

    note: Mapped["SessionNote"] = relationship(back_populates="techniques")  # noqa: F821
    responses: Mapped[list[TechniqueResponse]] = relationship(back_populates="use", lazy="selectin",
                                                              order_by="TechniqueResponse.id")


class TechniqueResponse(db.Model):
    """How the patient responded to a technique used at an earlier signed note, as a later note records it."""

    __tablename__ = "technique_responses"
    __table_args__ = (
        UniqueConstraint("note_id", "note_technique_id"),
        CheckConstraint(f"response IN ({KNOWN_RESPONSES})", name="known_response"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the note that records the response
    note_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id"), index=True)
    #: the earlier use it responds to
    note_technique_id: Mapped[int] = mapped_column(ForeignKey("note_techniques.id"), index=True)
    #: a key of RESPONSES
    response: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(500))

    note: Mapped["SessionNote"] = relationship(back_populates="technique_responses")  # noqa: F821
    use: Mapped[NoteTechnique] = relationship(back_populates="responses", lazy="joined")

    @property
    def response_label(self) -> str:
        return RESPONSES[self.response]
