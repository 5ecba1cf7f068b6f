"""User accounts, their roles and their server-side login sessions."""
from __future__ import annotations

from datetime import date, datetime, time

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from ..db.types import UTCDateTime, utcnow
from ..domain.credentials import LICENCE_TYPES, display_name  # noqa: F401 (re-exported)
from ..domain.permissions import permissions_of, roles_with
from ..domain.roles import ADMIN, NURSE, PRESCRIBER, ROLE_LABELS, ROLES, STAFF, THERAPIST  # noqa: F401 (re-exported)
from ..extensions import db

#: Roles that may be on a care team; they see only patients on their care team.
CLINICAL_ROLES = roles_with("care_team.member")
#: Roles that read patient records (clinical content, or every patient's details and schedule).
#: An admin never grants one to themselves: another admin must (issue 17, point 6).
PATIENT_DATA_ROLES = tuple(role for role in ROLES if role != ADMIN and "patients.read" in permissions_of([role]))


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-case; unique case-insensitively
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    #: the clinical licence held, a key of domain/credentials.LICENCE_TYPES ("RN"); None for none
    licence_type: Mapped[str | None] = mapped_column(String(10))
    #: the licence's number as the licensing board issued it (optional)
    licence_number: Mapped[str | None] = mapped_column(String(40))
    #: further credentials shown after the licence type, e.g. "PMHNP-BC"
    credentials: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    #: the clinician's work phone (a direct line or the clinic's number with an extension), given on the
    #: documents they write (coordination reports, discharge summaries; migration 0054)
    phone: Mapped[str | None] = mapped_column(String(40))
    #: the clinician's own video room (https), the link of all their telehealth sessions; None: the
    #: clinic's address template gives each session its own (telehealth, migration 0034)
    video_room_url: Mapped[str | None] = mapped_column(String(200))
    #: clinic time of the user's daily summary email; None: off (their own choice, migration 0037)
    digest_at: Mapped[time | None]
    #: the clinic date whose summary was last looked at (sent, or nothing to report): one a day
    digest_last_day: Mapped[date | None]
    #: argon2id encoded hash (parameters and salt included)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: False locks the account out at once, open sessions included
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    #: loaded only when roles are changed; reading them uses role_names (see below)
    role_rows: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def roles(self) -> frozenset[str]:
        if "role_rows" in self.__dict__:  # loaded because they are being changed: they are the truth
            return frozenset(r.role for r in self.role_rows)
        return frozenset(self.role_names.split(",")) if self.role_names else frozenset()

    def has_role(self, *names: str) -> bool:
        return not self.roles.isdisjoint(names)

    @property
    def permissions(self) -> frozenset[str]:
        return permissions_of(self.roles)

    def can(self, permission: str) -> bool:
        """Whether one of the user's roles grants `permission` (domain/permissions.py)."""
        return permission in self.permissions

    def set_roles(self, names) -> None:
        wanted = set(names)
        self.role_rows = [r for r in self.role_rows if r.role in wanted]
        for name in sorted(wanted - {r.role for r in self.role_rows}):
            self.role_rows.append(UserRole(role=name))

    @property
    def display_name(self) -> str:
        return display_name(self.full_name, self.licence_type, self.credentials)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (
        UniqueConstraint("user_id", "role"),
        CheckConstraint("role IN ('admin', 'staff', 'therapist', 'prescriber', 'nurse')", name="known_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="role_rows")


class LoginSession(db.Model):
    """One signed-in browser session, held on the server so it can be ended from here.

    The cookie carries only a random token; we store its SHA-256, so a database dump alone
    cannot be replayed as a login (HIPAA 164.312(a)(2)(iii) automatic logoff, (d) authentication).
    """

    __tablename__ = "login_sessions"
    __table_args__ = (CheckConstraint("stage IN ('signed_in', 'code', 'enrol')", name="known_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: hex SHA-256 of the cookie token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: last request that counted as activity (written at most every 30 seconds)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: logout, idle, absolute, disabled, password_reset, second_step_timeout, code_failures, mfa_reset
    end_reason: Mapped[str | None] = mapped_column(String(20))
    #: signed_in; or code / enrol while the second sign-in step is due (see accounts/sessions.py)
    stage: Mapped[str] = mapped_column(String(10), default="signed_in", server_default="signed_in")
    #: wrong authenticator or recovery codes sent in this session (5 end it)
    code_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """One failed sign-in, counted against one key (see accounts/throttle.py): an account
    (a keyed hash of the typed username, whether or not such an account exists) or a client
    address. Rows older than the counting window are pruned."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_time", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "account:<hex HMAC of the normalised username>" or "address:<client IP>"
    key: Mapped[str] = mapped_column(String(80))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


#: The user's roles, comma-separated, read in the same SELECT as the user. Roles were a
#: selectin-loaded collection, which cost one more statement each time a query brought users
#: the session had not seen yet: how many a page ran then depended on the data (measured by
#: `make bench`). Views read roles on nearly every user they load.
User.role_names = column_property(
    select(func.aggregate_strings(UserRole.role, ",")).where(UserRole.user_id == User.id)
    .correlate_except(UserRole).scalar_subquery())
