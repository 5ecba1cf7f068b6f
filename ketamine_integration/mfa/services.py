"""Two-step sign-in operations: the clinic's policy, enrolment, checking codes, recovery codes,
turning off and resetting. Services flush; the request wrapper commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import segno
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update

from ..accounts.models import ROLES, User
from ..accounts.sessions import CODE_DUE, ENROL_DUE, SIGNED_IN, end_all_sessions
from ..clinic_settings.models import ClinicSetting
from ..db.errors import DomainError
from ..extensions import db
from ..db.locking import locked_row
from . import totp
from .models import Authenticator, RecoveryCode
from .sealing import UnreadableSecret, seal, unseal

REQUIRED_ROLES_KEY = "mfa_required_roles"
#: by default every role must use it: each of them reads patient data (HIPAA 164.312(d))
DEFAULT_REQUIRED_ROLES = frozenset(ROLES)


class CodeRefused(DomainError):
    """A code that does not sign in: wrong, already used, or unreadable secret."""

    def __init__(self, message: str, *, why: str):
        super().__init__({"code": message})
        self.why = why  #: wrong / replayed / unreadable (for the audit detail)


#: why a code was refused -> (what the user is told, the audit detail)
_REFUSALS = {
    "wrong": ("That code is not right. Check the time on your phone, then try the newest code.",
              "wrong code"),
    "replayed": ("That code was used already. Wait for your app to show the next one.",
                 "code already used"),
    "unreadable": ("Your authenticator cannot be checked here; ask a clinic admin to reset it.",
                   "stored secret unreadable"),
}


def _refused(why: str) -> CodeRefused:
    message, detail = _REFUSALS[why]
    return CodeRefused(message, why=detail)


# -- policy ------------------------------------------------------------------------------

def required_roles() -> frozenset[str]:
    value = db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == REQUIRED_ROLES_KEY))
    if value is None:
        return DEFAULT_REQUIRED_ROLES
    return frozenset(r for r in value.split(",") if r in ROLES)


def set_required_roles(roles, *, by: User) -> None:
    wanted = set(roles)
    if not wanted <= set(ROLES):
        raise DomainError({"roles": "Choose among the offered roles."})
    value = ",".join(r for r in ROLES if r in wanted)
    row = locked_row(ClinicSetting, REQUIRED_ROLES_KEY,
                     lambda: ClinicSetting(key=REQUIRED_ROLES_KEY, value=value, updated_by_id=by.id))
    row.value, row.updated_by_id = value, by.id
    db.session.flush()


def mfa_required(user: User, roles: frozenset[str] | None = None) -> bool:
    return not user.roles.isdisjoint(required_roles() if roles is None else roles)


# -- enrolment ---------------------------------------------------------------------------

def fetch_authenticator(user_id: int) -> Authenticator | None:
    return db.session.scalar(select(Authenticator).where(Authenticator.user_id == user_id))


def is_enrolled(user_id: int) -> bool:
    auth = fetch_authenticator(user_id)
    return auth is not None and auth.confirmed_at is not None


def enrolled_user_ids() -> set[int]:
    return set(db.session.scalars(select(Authenticator.user_id).where(Authenticator.confirmed_at.is_not(None))))


def sign_in_stage(user: User) -> str:
    """What comes after a right password: the code, enrolment (required but not enrolled), or nothing."""
    if is_enrolled(user.id):
        return CODE_DUE
    return ENROL_DUE if mfa_required(user) else SIGNED_IN


@dataclass(frozen=True)
class EnrolmentOffer:
    """What the enrolment page shows: the secret as text, and as a QR code of its otpauth URI."""

    secret: str
    uri: str

    @property
    def grouped_secret(self) -> str:
        return totp.grouped(self.secret)

    @property
    def qr_svg(self) -> Markup:
        svg = segno.make(self.uri, error="m").svg_inline(scale=5, light="#fff", svgclass="qr-code", omitsize=True,
                                                         lineclass=None)
        # Safe to mark as markup: segno writes the SVG itself from the QR module matrix (only
        # <svg>, <g> and <path> with numeric path data and fixed colours); no text of the URI,
        # username or secret is copied into it. Presentation attributes only, no style=,
        # so the CSP's style-src 'self' holds (tests/integration/test_mfa.py checks both).
        return Markup(svg)


def begin_enrolment(user: User, *, secret: str | None = None) -> EnrolmentOffer:
    """The secret to enrol: the one already offered if the user is mid-way (so reloading the
    page does not invalidate a QR code already scanned), else a new one."""
    auth = fetch_authenticator(user.id)
    if auth is not None and auth.confirmed_at is not None:
        raise DomainError("An authenticator is already set up for this account.")
    if auth is not None and secret is None:
        try:
            secret = unseal(auth.secret_sealed)
        except UnreadableSecret:
            secret = None
    secret = secret or totp.new_secret()
    if auth is None:
        auth = Authenticator(user_id=user.id, secret_sealed=seal(secret))
        db.session.add(auth)
    else:
        auth.secret_sealed = seal(secret)
    db.session.flush()
    return EnrolmentOffer(secret, totp.provisioning_uri(secret, user.username))


def confirm_enrolment(user: User, typed: str, now: datetime) -> list[str]:
    """Enrolment completes only with a valid current code; returns the new recovery codes."""
    auth = fetch_authenticator(user.id)
    if auth is None or auth.confirmed_at is not None:
        raise DomainError("There is no authenticator being set up; reload the page to start again.")
    try:
        step = totp.matching_step(unseal(auth.secret_sealed), typed, now, last_step=None)
    except UnreadableSecret:
        raise _refused("unreadable") from None
    if step is None:
        raise _refused("wrong")
    auth.confirmed_at, auth.last_used_step = now, step
    codes = _replace_recovery_codes(user, now)
    db.session.flush()
    return codes


# -- checking codes ----------------------------------------------------------------------

@dataclass(frozen=True)
class CodeAccepted:
    #: "authenticator code" or "recovery code"
    kind: str
    #: unused recovery codes left (after this one, when one was used)
    recovery_left: int


def check_code(user: User, typed: str, now: datetime, *, recovery_allowed: bool = True) -> CodeAccepted:
    """Accept a current authenticator code not used before, or (where allowed) an unused
    recovery code, and use it up; raise CodeRefused otherwise."""
    auth = fetch_authenticator(user.id)
    if auth is None or auth.confirmed_at is None:
        raise DomainError("No authenticator is set up for this account.")
    if totp.looks_like_totp(typed):
        _use_totp(auth, typed, now)
        return CodeAccepted("authenticator code", recovery_codes_left(user.id))
    if not recovery_allowed:
        raise _refused("wrong")
    code_hash = totp.recovery_code_hash(typed)
    used = code_hash is not None and db.session.execute(
        update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == code_hash,
                                   RecoveryCode.used_at.is_(None)).values(used_at=now)).rowcount == 1
    if not used:
        raise _refused("wrong")
    return CodeAccepted("recovery code", recovery_codes_left(user.id))


def _use_totp(auth: Authenticator, typed: str, now: datetime) -> None:
    try:
        secret = unseal(auth.secret_sealed)
    except UnreadableSecret:
        raise _refused("unreadable") from None
    step = totp.matching_step(secret, typed, now, last_step=auth.last_used_step)
    if step is None:
        replayed = totp.was_replayed(secret, typed, now, last_step=auth.last_used_step)
        raise _refused("replayed" if replayed else "wrong")
    # The step is claimed in one conditional UPDATE: of two requests racing with the same
    # code, exactly one matches the WHERE clause (ASVS 6.5.1: a code works only once).
    claimed = db.session.execute(
        update(Authenticator).where(Authenticator.id == auth.id,
                                    or_(Authenticator.last_used_step.is_(None), Authenticator.last_used_step < step))
        .values(last_used_step=step).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise _refused("replayed")
    db.session.refresh(auth)


# -- recovery codes, turning off, resetting ------------------------------------------------

def recovery_codes_left(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))


def _replace_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.recovery_code_hash(c), created_at=now)
                       for c in codes)
    return codes


def regenerate_recovery_codes(user: User, typed: str, now: datetime) -> list[str]:
    """New codes replace all old ones, after a current authenticator code (not a recovery code:
    someone holding only a stolen recovery code must not mint more)."""
    check_code(user, typed, now, recovery_allowed=False)
    codes = _replace_recovery_codes(user, now)
    db.session.flush()
    return codes


def _remove_enrolment(user: User) -> bool:
    removed = db.session.execute(delete(Authenticator).where(Authenticator.user_id == user.id)).rowcount
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return removed > 0


def turn_off(user: User, typed: str, now: datetime) -> None:
    """A user may turn two-step sign-in off only when none of their roles requires it."""
    if mfa_required(user):
        raise DomainError({"code": "Your role requires two-step sign-in, so it cannot be turned off."})
    check_code(user, typed, now, recovery_allowed=False)
    _remove_enrolment(user)
    db.session.flush()


def reset_authenticator(user: User, *, by: User | None) -> None:
    """The admin's reset for a lost phone (by=None: the server's command line): enrolment is
    cleared and the user's sessions end, so the next sign-in (password first) asks them to
    enrol again if their role requires it."""
    if by is not None and user.id == by.id:
        # Two people for one's own reset: a stolen admin session cannot swap the admin's phone.
        raise DomainError({"reason": "Another admin must reset your own authenticator."})
    if not _remove_enrolment(user):
        raise DomainError({"reason": f"{user.username} has no authenticator to reset."})
    end_all_sessions(user, "mfa_reset")
    db.session.flush()
