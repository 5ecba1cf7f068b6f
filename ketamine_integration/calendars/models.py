"""Secret feed addresses and the clinic's feed settings (imported busy time: busy_times.models)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db

#: how much of the patient a feed event names: initials (the default) or nothing
FEED_IDENTITY = {"initials": "Session type and patient initials", "none": "Session type only"}
#: what a feed event says besides its time and place, by FEED_IDENTITY's key, as a sentence goes on
FEED_EVENT_SAYS = {"initials": "the session type and the patient's initials",
                   "none": "the session type, and nothing about the patient"}


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
