"""Secret feed addresses, the clinic's feed settings, and busy time imported from .ics files."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db

#: how much of the patient a feed event names: initials (the default) or nothing
FEED_IDENTITY = {"initials": "Session type and patient initials", "none": "Session type only"}


class CalendarFeed(db.Model):
    """A secret address a calendar app polls without a login. Only a hash of the secret is
    kept: the address is shown once, when it is made; revoked feeds stay, marked."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the secret in the address
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the secret's last characters, so the user can tell their feeds apart
    token_hint: Mapped[str] = mapped_column(String(8))
    label: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: rate limit: requests counted since window_started_at
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_requests: Mapped[int] = mapped_column(default=0)

    user: Mapped[User] = relationship(lazy="joined")


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
