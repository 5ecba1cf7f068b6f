"""Signing a patient in to the portal (the password step), asking a signed-in patient for their
current password again (before a change of password or second step), and changing the password.

The same brute-force limits as staff sign-in (accounts/throttle.py), counted under a key of the
portal's own ("portal:" + the typed address), so a patient's failures never pause a staff account
and the reverse; the per-address count is shared (one attacker, one address). A wrong current
password on the account page counts there too (a session left open on a shared computer must not
become a way to guess the password), and against the session: MAX_CODE_FAILURES of them end it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..accounts import passwords, throttle
from ..audit import services as audit
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain import portal as rules
from ..extensions import db
from .models import CODE_DUE, ENROL_DUE, PortalAccount, PortalSession
from .sessions import end_all_portal_sessions, start_portal_session


class AccountNotActive(DomainError):
    """The password was right, but the clinic turned the account off (or archived the patient's record):
    the patient is told so, since only the account's own password gets this far."""

    def __init__(self):
        super().__init__("This portal account is turned off. Please call the clinic.")


def throttle_keys(email: str, address: str | None) -> dict[str, str]:
    return throttle.keys_for("portal:" + (email or "").strip().lower(), address)


def fetch_account_by_email(email: str) -> PortalAccount | None:
    return db.session.scalar(select(PortalAccount).where(PortalAccount.email == (email or "").strip().lower()))


def _problem(account: PortalAccount | None, password: str) -> str | None:
    if account is None or account.password_hash is None:
        passwords.burn_time(password)  # an unknown address takes as long as a wrong password
        return "unknown address or not accepted yet"
    if not passwords.verify_password(account.password_hash, password):
        return "wrong password"
    return None


def authenticate(email: str, password: str, *, address: str | None, now: datetime) -> str | None:
    """Check the password and open a pending portal session (the second step is always due for a
    patient: a code, or enrolling a factor first). None when refused: never says which field was
    wrong. Raises SignInLimited, before the password is checked, while over the limits; AccountNotActive
    when the password is right but the account is off (not counted as a failure: it was no guess)."""
    keys = throttle_keys(email, address)
    try:
        throttle.admit(keys, now)
    except throttle.SignInLimited as limited:
        account = fetch_account_by_email(email)
        audit.record("portal.sign_in_failure", outcome=audit.DENIED,
                     portal_account_id=account.id if account else None,
                     patient_id=account.patient_id if account else None,
                     detail=f"too many failed sign-ins from this {limited.scope}")
        raise
    account = fetch_account_by_email(email)
    problem = _problem(account, password)
    if problem:
        throttle.record_failure(keys, now)
        known = account is not None and problem != "unknown address or not accepted yet"
        audit.record("portal.sign_in_failure", outcome=audit.FAILURE, detail=problem,
                     portal_account_id=account.id if known else None, patient_id=account.patient_id if known else None)
        return None
    if not account.active or account.patient.is_archived:
        audit.record("portal.sign_in_failure", outcome=audit.DENIED, detail="account turned off",
                     portal_account_id=account.id, patient_id=account.patient_id)
        raise AccountNotActive()
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    stage = CODE_DUE if account.second_factor else ENROL_DUE
    # enrolling: the factor chosen when the invitation was accepted is offered first (views)
    start_portal_session(account, stage)
    return stage


def check_current_password(row: PortalSession, account: PortalAccount, typed: str, *, address: str | None,
                           now: datetime) -> int | None:
    """The signed-in patient's current password, asked again. None when it is right; otherwise
    the tries this session has left (0: the caller ends it), the failure counted as a failed
    sign-in of the account and address and against the session. Raises SignInLimited, before the
    password is checked, while the account or address is over the sign-in limits. The caller
    audits, and commits a refusal (lifecycle.commit_refusal) so the next attempt sees its count."""
    keys = throttle_keys(account.email, address)
    throttle.admit(keys, now)
    lock_row(row)  # two requests of one session count their failures in turn
    if passwords.verify_password(account.password_hash or "", typed or ""):
        return None
    throttle.record_failure(keys, now)
    row.code_failures += 1
    db.session.flush()
    return max(0, rules.MAX_CODE_FAILURES - row.code_failures)


def change_password(account: PortalAccount, new: str) -> None:
    """The patient's own change (the view checked the current password first: check_current_password),
    the new one under the policy. Every other portal session of the account ends (the caller's is
    restarted by the view)."""
    problem = passwords.password_problem(new or "", account.email)
    if problem:
        raise DomainError({"password": problem})
    account.password_hash = passwords.hash_password(new)
    end_all_portal_sessions(account, "password_change")
    db.session.flush()
