"""Patients' portal accounts, the clinic's invitations to them, portal sessions and the text a
patient was typing when a session timed out."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

#: PortalAccount.second_factor values
TOTP, EMAIL_CODE = "totp", "email"
#: PortalSession.stage values (as accounts/sessions.py: signed in, or a second step due)
SIGNED_IN, CODE_DUE, ENROL_DUE = "signed_in", "code", "enrol"


class PortalAccount(db.Model):
    """A patient's own account for the portal: one per patient, made when the clinic first invites
    them, usable once they accepted (a password) and enrolled a second factor."""

    __tablename__ = "portal_accounts"
    __table_args__ = (CheckConstraint("second_factor IN ('totp', 'email')", name="known_factor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    #: the address the patient signs in with, lower-case (the invitation's; unique among accounts)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: argon2id hash; None until the patient accepts an invitation
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: totp or email; None until enrolled (the next sign-in then asks to enrol)
    second_factor: Mapped[str | None] = mapped_column(String(10))
    #: the authenticator's base32 secret, Fernet-sealed (mfa/sealing.py); set while enrolling too
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(255))
    #: the last TOTP step accepted: that code and earlier ones never work again
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: False: signing in is refused (the clinic turned the account off: turned_off_*)
    active: Mapped[bool] = mapped_column(default=True)
    #: while the account is off: when, by whom and why the clinic turned it off (cleared when turned on
    #: again; the audit trail keeps each change)
    turned_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    turned_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    turned_off_why: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the patient accepted an invitation (set a password)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()
    turned_off_by: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def activated(self) -> bool:
        return self.password_hash is not None


#: PortalInvitation.purpose values: the first invitation, or a reset of an accepted account's access
INVITE, RESET = "invite", "reset"


class PortalInvitation(db.Model):
    """One emailed link: an invitation, or a reset of an accepted account's access (a new password and
    second step). Only the SHA-256 of its token is kept; it works once, for 72 hours, unless revoked
    or replaced by a newer one (sent again)."""

    __tablename__ = "portal_invitations"
    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset')", name="known_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    #: hex SHA-256 of the link's token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the address it was sent to
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: revoked by staff, or replaced when the invitation was sent again
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: "revoked" or "replaced" (sent again)
    revoked_why: Mapped[str | None] = mapped_column(String(10))
    #: invite, or reset: using a reset link replaces the password and the second step
    purpose: Mapped[str] = mapped_column(String(10), default=INVITE, server_default=INVITE)

    account: Mapped[PortalAccount] = relationship()
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    revoked_by: Mapped["User | None"] = relationship(foreign_keys=[revoked_by_id])  # noqa: F821


class PortalSession(db.Model):
    """One browser's portal session, held on the server (the cookie carries a random token whose
    SHA-256 is kept here), apart from staff login sessions: shorter, and its own cookie key."""

    __tablename__ = "portal_sessions"
    __table_args__ = (CheckConstraint("stage IN ('signed_in', 'code', 'enrol')", name="known_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: sign_out, idle, absolute, inactive, second_step_timeout, code_failures, password_failures,
    #: password_change, replaced (another sign-in in the same browser), archived, turned_off (by the
    #: clinic), access_reset (a reset link was used)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(10))
    #: while enrolling: the factor being set up (totp or email)
    enrolling: Mapped[str | None] = mapped_column(String(10))
    #: wrong codes, and wrong current passwords on the account page, sent in this session (5 end it;
    #: counted again from 0 once the second step is done)
    code_failures: Mapped[int] = mapped_column(default=0)
    #: keyed hash of the emailed 6-digit code (never the code), until used or replaced
    email_code_hash: Mapped[str | None] = mapped_column(String(64))
    email_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: how many codes this session has emailed (a limit stops a mailbox being flooded)
    email_codes_sent: Mapped[int] = mapped_column(default=0)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    account: Mapped[PortalAccount] = relationship()


class PortalKeptText(db.Model):
    """What a patient submitted to a portal page after their session timed out: kept, and offered
    back on that page once they sign in again (a patient's entries are never lost); cleared at
    their next successful save there."""

    __tablename__ = "portal_kept_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    #: the page it was submitted to (its URL path)
    path: Mapped[str] = mapped_column(String(200))
    #: the submitted fields, as lists of values by name (CSRF token left out)
    form: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
