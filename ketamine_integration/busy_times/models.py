"""Busy time imported from a clinician's other calendar: the uploads and their when-only blocks."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, select
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


#: how many coming busy times the availability page lists (the rest are counted: "and 14 more")
UPCOMING_SHOWN = 10


@dataclass(frozen=True)
class UpcomingBusy:
    """The next busy times of a clinician's current import, and how many more come after them."""
    shown: list[ImportedBusy]
    more: int


def fetch_upcoming_busy(clinician_id: int, *, now: datetime, limit: int = UPCOMING_SHOWN) -> UpcomingBusy:
    """Busy times of the current import not yet over at `now`, soonest first: the first `limit`, and a
    count of the rest (two statements, whatever the import holds)."""
    coming = (ImportedBusy.clinician_id == clinician_id, in_current_import(), ImportedBusy.ends_at > now)
    shown = list(db.session.scalars(select(ImportedBusy).where(*coming)
                                    .order_by(ImportedBusy.starts_at, ImportedBusy.id).limit(limit)))
    total = db.session.scalar(select(func.count()).select_from(ImportedBusy).where(*coming)) if len(shown) == limit \
        else len(shown)
    return UpcomingBusy(shown=shown, more=total - len(shown))
