"""Busy time imported from a clinician's other calendar: the uploads and their when-only blocks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db


class CalendarImport(db.Model):
    """One uploaded .ics export of a clinician's other calendar. A new upload supersedes the
    previous one (kept, marked), whose busy blocks then no longer count."""

    __tablename__ = "calendar_imports"
    __table_args__ = (CheckConstraint("busy_blocks >= 0", name="busy_blocks_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: the span the recurring events were expanded for
    covers_from: Mapped[datetime] = mapped_column(UTCDateTime)
    covers_until: Mapped[datetime] = mapped_column(UTCDateTime)
    busy_blocks: Mapped[int] = mapped_column(default=0)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id], lazy="joined")


class ImportedBusy(db.Model):
    """A busy time from an imported calendar: only when, never what (titles are not kept)."""

    __tablename__ = "imported_busy"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),
                      Index("ix_imported_busy_clinician_time", "clinician_id", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("calendar_imports.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


def in_current_import():
    """The condition on ImportedBusy: its import is the clinician's latest (not superseded)."""
    return ImportedBusy.import_id.in_(select(CalendarImport.id).where(CalendarImport.superseded_at.is_(None)))


def current_import(clinician_id: int) -> CalendarImport | None:
    return db.session.scalar(select(CalendarImport).where(CalendarImport.clinician_id == clinician_id,
                                                          CalendarImport.superseded_at.is_(None)))
