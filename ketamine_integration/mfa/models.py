"""A user's authenticator (the sealed TOTP secret) and their single-use recovery codes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db.types import UTCDateTime, utcnow
from ..extensions import db


class Authenticator(db.Model):
    """The one authenticator app a user has enrolled (or is enrolling: confirmed_at empty).

    Resetting it deletes the row and the recovery codes; the audit trail keeps the history.
    """

    __tablename__ = "authenticators"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    #: the base32 TOTP secret, Fernet-encrypted (see mfa/sealing.py); never stored in clear
    secret_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the user proved the app works by typing a current code; until then not enrolled
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last TOTP time step (30 s counter) accepted: that code and earlier ones never work again
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(db.Model):
    """One single-use recovery code; only its SHA-256 is kept (the code is shown once)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: hex SHA-256 of the normalised code
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
