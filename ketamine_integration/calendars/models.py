"""Secret feed addresses and the clinic's feed settings (imported busy time: busy_times.models)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db

#: how much of the patient a feed event names: nothing (the default) or initials. A feed is read by
#: whichever calendar service the subscriber uses (Google, Apple, Microsoft), so initials with a
#: session's date, time and type are PHI on their servers: an admin's explicit choice, made after a
#: warning (issue 25, point 5; migration 0051 says which stored choices count as explicit)
FEED_IDENTITY = {"none": "Session type only", "initials": "Session type and patient initials"}
DEFAULT_FEED_IDENTITY = "none"
#: what a feed event says besides its time and place, by FEED_IDENTITY's key, as a sentence goes on
FEED_EVENT_SAYS = {"initials": "the session type and the patient's initials",
                   "none": "the session type, and nothing about the patient"}
#: the name subscribers' calendar apps show for a feed unless the admin set another: it shows on
#: lock screens and in shared calendars, so by default it names neither the clinic nor a treatment
DEFAULT_CALENDAR_NAME = "Appointments"
CALENDAR_NAME_MAX = 60


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
