"""A patient's second sign-in step: an authenticator app (mfa/totp.py, its secret sealed as staff
secrets are) or a 6-digit code emailed through the mailer (kept as a keyed hash, 10 minutes, once).
Services flush; the request wrapper commits."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from flask import current_app, session
from sqlalchemy import or_, update

from ..db.errors import DomainError
from ..domain import portal as rules
from ..domain.reminders import ClinicalWordInMessage
from ..extensions import db
from ..messaging import services as messaging
from ..mfa import totp
from ..mfa.sealing import UnreadableSecret, seal, unseal
from ..mfa.services import EnrolmentOffer
from ..reminders.rules import reminder_settings
from .models import EMAIL_CODE, TOTP, PortalAccount, PortalSession
from .sessions import NEW_SECRET_KEY

#: delivery purpose of an emailed code (the patient page's messages: "Portal sign-in code")
CODE_PURPOSE = "portal_code"


class CodeRefused(DomainError):
    """A code that does not open the step: wrong, used, expired or unreadable."""

    def __init__(self, message: str, *, why: str):
        super().__init__({"code": message})
        self.why = why


_REFUSALS = {
    "wrong": "That code is not right. Check it and try again, or ask for a new code.",
    "replayed": "That code was used already. Wait for your app to show the next one.",
    "expired": "That code has expired. Ask for a new code below.",
    "unreadable": "Your authenticator cannot be checked here. Please contact the clinic.",
}


def _refused(why: str) -> CodeRefused:
    return CodeRefused(_REFUSALS[why], why=why)


def factor_of(row: PortalSession, account: PortalAccount) -> str | None:
    """The factor this session's step checks: the one being enrolled, else the account's."""
    return row.enrolling or account.second_factor


# -- the authenticator app -------------------------------------------------------------------

def _replacing(account: PortalAccount) -> bool:
    """Setting up an app for an account that already confirms sign-ins with one (a new phone): the
    new secret waits in the portal session's cookie (sessions.NEW_SECRET_KEY), the account's own
    stays as it is until a code of the new one is accepted."""
    return account.second_factor == TOTP


def _offered_sealed(row: PortalSession, account: PortalAccount) -> str | None:
    if not _replacing(account):
        return account.totp_secret_sealed  # not in use yet: nothing is replaced by keeping it here
    waiting = session.get(NEW_SECRET_KEY)
    if isinstance(waiting, dict) and waiting.get("session") == row.id and isinstance(waiting.get("sealed"), str):
        return waiting["sealed"]
    return None


def _offered_secret(row: PortalSession, account: PortalAccount) -> str | None:
    sealed = _offered_sealed(row, account)
    try:
        return unseal(sealed) if sealed else None
    except UnreadableSecret:
        return None


def offer_authenticator(row: PortalSession, account: PortalAccount) -> EnrolmentOffer:
    """The secret to scan: the one already offered while enrolling (a reload keeps a scanned QR
    code working), else a new one. An account already using an app keeps its secret until a code
    of the new one is accepted (check_step): leaving half-way changes nothing."""
    secret = _offered_secret(row, account)
    if secret is None:
        secret = totp.new_secret()
        if _replacing(account):
            session[NEW_SECRET_KEY] = {"session": row.id, "sealed": seal(secret)}
        else:
            account.totp_secret_sealed = seal(secret)
            db.session.flush()
    return EnrolmentOffer(secret, totp.provisioning_uri(secret, account.email))


def _totp_step(secret: str | None, typed: str, now: datetime, *, last_step: int | None) -> int:
    if secret is None:
        raise _refused("wrong")
    step = totp.matching_step(secret, typed, now, last_step=last_step)
    if step is None:
        raise _refused("replayed" if totp.was_replayed(secret, typed, now, last_step=last_step) else "wrong")
    return step


def _account_secret(account: PortalAccount) -> str | None:
    if not account.totp_secret_sealed:
        return None
    try:
        return unseal(account.totp_secret_sealed)
    except UnreadableSecret:
        raise _refused("unreadable") from None


def _enrol_totp(row: PortalSession, account: PortalAccount, typed: str, now: datetime) -> None:
    """A code of the secret being set up: it becomes the account's (replacing the old app's only now)."""
    secret = _offered_secret(row, account)
    account.totp_last_step = _totp_step(secret, typed, now, last_step=None)
    if _replacing(account):
        account.totp_secret_sealed = seal(secret)
        session.pop(NEW_SECRET_KEY, None)


def _use_totp(account: PortalAccount, typed: str, now: datetime) -> None:
    step = _totp_step(_account_secret(account), typed, now, last_step=account.totp_last_step)
    # one conditional UPDATE: of two requests racing with one code, exactly one matches (ASVS 6.5.1)
    claimed = db.session.execute(
        update(PortalAccount).where(PortalAccount.id == account.id,
                                    or_(PortalAccount.totp_last_step.is_(None), PortalAccount.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise _refused("replayed")
    db.session.refresh(account)


# -- the emailed code -----------------------------------------------------------------------

def _code_hash(row_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"portal-code:{row_id}:{code}".encode(), hashlib.sha256).hexdigest()


def send_email_code(row: PortalSession, account: PortalAccount, now: datetime) -> None:
    """Email a new 6-digit code for this session (the previous one stops working). Refused past
    MAX_EMAIL_CODES per session, or sooner than EMAIL_CODE_SPACING after the last."""
    if row.email_codes_sent >= rules.MAX_EMAIL_CODES:
        raise DomainError("No more codes can be sent in this sign-in. Please start signing in again later.")
    if row.email_code_expires_at is not None and \
            now < row.email_code_expires_at - rules.EMAIL_CODE_LIFETIME + rules.EMAIL_CODE_SPACING:
        raise DomainError("A code was sent a moment ago. Please wait a little before asking for another.")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    sender = reminder_settings().sender
    try:
        email = rules.code_email(sender=sender, code=code)
    except ClinicalWordInMessage:
        raise DomainError("The clinic's sender name cannot be used in an email; please contact the clinic.") \
            from None
    row.email_codes_sent += 1
    row.email_code_hash, row.email_code_expires_at = _code_hash(row.id, code), now + rules.EMAIL_CODE_LIFETIME
    messaging.queue_email(f"portal-code:{row.id}:{row.email_codes_sent}", account.email, email.subject, email.body,
                          purpose=CODE_PURPOSE, patient_id=account.patient_id, sender_name=sender)
    db.session.flush()


def _use_email_code(row: PortalSession, typed: str, now: datetime) -> None:
    code = totp.normalise_code(typed)
    if row.email_code_hash is None:
        raise _refused("wrong")
    if row.email_code_expires_at is None or now >= row.email_code_expires_at:
        raise _refused("expired")
    wanted = _code_hash(row.id, code)
    if not hmac.compare_digest(wanted, row.email_code_hash):
        raise _refused("wrong")
    used = db.session.execute(update(PortalSession).where(PortalSession.id == row.id,
                                                          PortalSession.email_code_hash == wanted)
                              .values(email_code_hash=None).execution_options(synchronize_session=False)).rowcount
    if used != 1:
        raise _refused("replayed")
    db.session.refresh(row)


# -- the step itself ------------------------------------------------------------------------

def check_step(row: PortalSession, account: PortalAccount, typed: str, now: datetime) -> str:
    """Accept this session's second step (a code of the factor being enrolled or the account's);
    enrolling one makes it the account's. Returns the factor. Raises CodeRefused."""
    factor = factor_of(row, account)
    if not totp.looks_like_totp(typed):
        raise _refused("wrong")
    if factor == TOTP and row.enrolling == TOTP:
        _enrol_totp(row, account, typed, now)
    elif factor == TOTP:
        _use_totp(account, typed, now)
    elif factor == EMAIL_CODE:
        _use_email_code(row, typed, now)
    else:
        raise _refused("wrong")
    if row.enrolling:
        account.second_factor = row.enrolling
        if row.enrolling == EMAIL_CODE:
            account.totp_secret_sealed, account.totp_last_step = None, None
    db.session.flush()
    return factor


def count_failure(row: PortalSession) -> int:
    """One wrong code against this session; at the limit it ends. Returns the tries left."""
    row.code_failures += 1
    left = max(0, rules.MAX_CODE_FAILURES - row.code_failures)
    db.session.flush()
    return left
