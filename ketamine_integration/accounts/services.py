"""Account operations: authenticate, create and change users. Services flush; views commit."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..audit import services as audit
from ..audit.models import DENIED, FAILURE, AuditEvent
from ..db.types import utcnow
from ..db.errors import DomainError
from ..domain.video_links import BadVideoAddress, check_room_url
from ..extensions import db
from . import passwords, second_step, throttle
from .events import video_room_changed
from .models import ADMIN, LICENCE_TYPES, PATIENT_DATA_ROLES, ROLE_LABELS, User, display_name
from .sessions import CODE_DUE, SIGNED_IN, end_all_sessions, start_session


def fetch_user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username.strip().lower()))


def user_choices(*roles: str) -> list[tuple[int, str, frozenset[str]]]:
    """(id, name as shown, roles) of active users holding any of `roles` (all active users when
    none is named), by name: form selects list every clinician of the clinic, and reading
    columns costs a fraction of building each user."""
    rows = db.session.execute(select(User.id, User.full_name, User.licence_type, User.credentials,
                                     User.role_names)
                              .where(User.active.is_(True)).order_by(User.full_name))
    found = [(r.id, display_name(r.full_name, r.licence_type, r.credentials),
              frozenset((r.role_names or "").split(",")) - {""})
             for r in rows]
    return [row for row in found if not roles or not row[2].isdisjoint(roles)]


def authenticate(username: str, password: str, *, address: str | None, now: datetime) -> str | None:
    """Check the password and start a session, or record why not; never says which of the two
    fields was wrong. Returns the session's stage: signed in, or which second step is due.

    Raises SignInLimited, before any password is checked, while the account or the address
    has too many recent failures (throttle.py); a correct password is refused then too.
    """
    keys = throttle.keys_for(username, address)
    try:
        throttle.admit(keys, now)
    except throttle.SignInLimited as limited:
        user = fetch_user_by_username(username)
        audit.record("login.limited", user_id=user.id if user else None, outcome=DENIED,
                     detail=f"too many failed sign-ins from this {limited.scope}")
        raise
    user = fetch_user_by_username(username)
    problem = _credential_problem(user, password)
    if problem:
        throttle.record_failure(keys, now)
        # The typed name is not stored: people sometimes type a password into this field.
        audit.record("login.failure", user_id=user.id if user else None, outcome=FAILURE, detail=problem)
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    stage = second_step.current().stage_for(user)
    start_session(user, stage)
    if stage == SIGNED_IN:
        # With a second step due the count stays until it is passed: wrong codes add to it
        # (mfa/views.py), so restarting sign-ins buys no fresh guesses.
        throttle.forget_account(keys)
        audit.record("login.success", obj=user, user_id=user.id)
    else:
        # A right password whose code never follows is worth seeing: the password may be known.
        audit.record("login.mfa_due", obj=user, user_id=user.id,
                     detail="authenticator code" if stage == CODE_DUE else "enrolment")
    return stage


def _credential_problem(user: User | None, password: str) -> str | None:
    if user is None:
        passwords.burn_time(password)
        return "unknown username"
    if not passwords.verify_password(user.password_hash, password):
        return "wrong password"
    if not user.active:
        return "account disabled"
    return None


def _check_username_free(username: str, user_id: int | None = None) -> None:
    stmt = select(func.count()).select_from(User).where(User.username == username)
    if user_id is not None:
        stmt = stmt.where(User.id != user_id)
    if db.session.scalar(stmt):
        raise DomainError({"username": "That username is already taken."})


def _check_licence_type(licence_type: str | None) -> None:
    if licence_type and licence_type not in LICENCE_TYPES:
        raise DomainError({"licence_type": "Choose a licence type from the list, or none."})


def _room_url(url: str | None) -> str | None:
    """A clinician's own video room as kept (None: none; telehealth), or DomainError on its field."""
    if not (url or "").strip():
        return None
    try:
        return check_room_url(url)
    except BadVideoAddress as bad:
        raise DomainError({"video_room_url": str(bad)}) from None


def create_user(*, username: str, full_name: str, password: str, roles, credentials=None,
                email=None, active: bool = True, licence_type=None, licence_number=None,
                video_room_url=None, phone=None) -> User:
    username = username.strip().lower()
    _check_username_free(username)
    _check_licence_type(licence_type)
    room_url = _room_url(video_room_url)
    problem = passwords.password_problem(password, username)
    if problem:
        raise DomainError({"password": problem})
    user = User(username=username, full_name=full_name.strip(), credentials=credentials or None,
                licence_type=licence_type or None, licence_number=(licence_number or "").strip() or None,
                email=email or None, phone=(phone or "").strip() or None,
                password_hash=passwords.hash_password(password), active=active, video_room_url=room_url)
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, *, acting_user: User, username: str, full_name: str, roles,
                credentials=None, email=None, active: bool = True, licence_type=None,
                licence_number=None, video_room_url=None, phone=None) -> str | None:
    """Apply an admin's edit; returns the role change as the audit row's detail (None: no change)."""
    username = username.strip().lower()
    before = user.roles
    if user.id == acting_user.id:
        _check_own_account(before, set(roles), active)
    _check_username_free(username, user.id)
    _check_licence_type(licence_type)
    link_before = (user.video_room_url, user.full_name)  # a template's link names the clinician
    user.video_room_url = _room_url(video_room_url)
    user.username, user.full_name = username, full_name.strip()
    user.credentials, user.email = credentials or None, email or None
    user.phone = (phone or "").strip() or None
    user.licence_type, user.licence_number = licence_type or None, (licence_number or "").strip() or None
    user.set_roles(roles)
    if user.active and not active:
        user.disabled_at = utcnow()
        end_all_sessions(user, "disabled")
    elif active:
        user.disabled_at = None
    user.active = active
    db.session.flush()
    if (user.video_room_url, user.full_name) != link_before:
        video_room_changed.send(user.id)  # the waiting reminders of their sessions carry the link as it is
    return role_change_detail(before, user.roles)


def _check_own_account(before: frozenset[str], wanted: set[str], active: bool) -> None:
    if not active or ADMIN not in wanted:
        # An admin locking themselves out could leave the clinic with no admin at all.
        raise DomainError({"roles": "You cannot remove your own admin role or disable yourself."})
    gained = sorted((wanted - before) & set(PATIENT_DATA_ROLES))
    if gained:
        # Admin plus a clinical role would let one person add themselves to a care team and read
        # notes: a second admin decides that.
        names = " and ".join(ROLE_LABELS[r] for r in gained)
        raise DomainError({"roles": f"You cannot give yourself the {names} role: it reads patient records, "
                                    "so another admin must grant it. Nothing was changed."})


#: the detail of a "user.update" audit row that changed roles ("roles admin,staff -> admin,therapist"),
#: and of a "user.create" row ("roles none -> therapist": a new account's roles are granted too)
ROLE_CHANGE = re.compile(r"roles (?P<before>[a-z,]+) -> (?P<after>[a-z,]+)")


def role_change_detail(before, after) -> str | None:
    if set(before) == set(after):
        return None
    return f"roles {','.join(sorted(before)) or 'none'} -> {','.join(sorted(after)) or 'none'}"


@dataclass(frozen=True)
class RoleChange:
    """One change of a user's roles, read back from the audit trail (the Users page lists them)."""

    occurred_at: datetime
    by: User | None
    user_id: int
    before: tuple[str, ...]
    after: tuple[str, ...]
    #: the account was created with these roles
    created: bool = False


def fetch_role_changes(limit: int = 20) -> list[RoleChange]:
    """The newest role changes, new accounts' roles included, newest first: the audit trail is their
    record (one indexed query)."""
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action.in_(("user.create", "user.update")), AuditEvent.detail.like("roles %"))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit))
    changes = []
    for event in events:
        found = ROLE_CHANGE.fullmatch(event.detail)
        if found:
            changes.append(RoleChange(event.occurred_at, event.user, int(event.object_id),
                                      *(tuple(r for r in found[k].split(",") if r != "none")
                                        for k in ("before", "after")),
                                      created=event.action == "user.create"))
    return changes


def set_password(user: User, password: str) -> None:
    problem = passwords.password_problem(password, user.username)
    if problem:
        raise DomainError({"password": problem})
    user.password_hash = passwords.hash_password(password)
    end_all_sessions(user, "password_reset")  # a reset signs the user out everywhere
    db.session.flush()
