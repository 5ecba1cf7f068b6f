"""The clinic's invitations to the patient portal: invite, send again, revoke, accept.

A link carries a random token; only its SHA-256 is kept. It works once, for 72 hours, and not
after it was revoked or replaced (sent again: the new link, the old one dead). Accepting sets
the patient's password under the staff policy (accounts/passwords.py) and opens a portal session
that must enrol a second factor before it shows anything. Services flush and audit nothing: the
views record one audit row per action (the revocations an archiving makes, in follow_patient, record
their own). The invitation email goes through the mailer (messaging.queue_email), after the request
commits. A link of a patient archived, or of an account the clinic turned off, is dead whatever its
row says (invitation_for). A reset link (purpose RESET, sent by portal/manage.py) is one of these
links too: its use replaces the password and the second step (accept).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update

from ..accounts.models import User
from ..audit import services as audit
from ..accounts.passwords import hash_password, password_problem
from ..db.clinic_time import format_local, format_local_day
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain import portal as rules
from ..domain.reminders import ClinicalWordInMessage, clinical_words_in, discreet_token
from ..extensions import db
from ..messaging import services as messaging
from ..messaging.models import CHANNELS
from ..patients.models import Patient
from ..reminders.rules import reminder_settings
from .factors import CODE_PURPOSE
from .models import EMAIL_CODE, INVITE, RESET, TOTP, PortalAccount, PortalInvitation
from .sessions import end_all_portal_sessions

#: delivery purpose of an invitation email (the patient page's messages: "Portal invitation")
INVITATION_PURPOSE = "portal_invitation"
#: delivery purpose of a reset link's email (the patient page's messages: "Portal sign-in reset")
RESET_PURPOSE = "portal_reset"
#: by a link's purpose: its email's delivery purpose and the words it says (domain/portal.py)
EMAILS = {INVITE: (INVITATION_PURPOSE, rules.invitation_email), RESET: (RESET_PURPOSE, rules.reset_email)}
#: the path the link opens (the token follows it); web/access_log.py masks what follows "accept"
ACCEPT_PATH = "/portal/accept/"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PortalStatus:
    """What the patient page shows of a patient's portal access."""

    account: PortalAccount | None
    latest: PortalInvitation | None
    #: the latest invitation's state (domain/portal.py), or None when none was sent
    state: str | None
    #: invitations sent before the latest (sent again, or a new one after one expired or was revoked)
    earlier: int = 0

    @property
    def active(self) -> bool:
        return self.account is not None and self.account.activated and self.account.active

    @property
    def turned_off(self) -> bool:
        """An accepted account the clinic turned off (portal/manage.py): turned on again, not invited."""
        return self.account is not None and self.account.activated and not self.account.active

    @property
    def reset_waiting(self) -> bool:
        return self.latest is not None and self.latest.purpose == RESET and self.state == rules.PENDING

    @property
    def may_invite(self) -> bool:
        return not self.active and self.state in (None, rules.EXPIRED, rules.REVOKED, rules.REPLACED)


def fetch_account(patient_id: int) -> PortalAccount | None:
    return db.session.scalar(select(PortalAccount).where(PortalAccount.patient_id == patient_id))


def portal_status(patient_id: int, now: datetime) -> PortalStatus:
    account = fetch_account(patient_id)
    latest = None if account is None else db.session.scalar(
        select(PortalInvitation).where(PortalInvitation.account_id == account.id)
        .order_by(PortalInvitation.id.desc()).limit(1))
    state = None if latest is None else rules.invitation_state(
        expires_at=latest.expires_at, used_at=latest.used_at, revoked_at=latest.revoked_at,
        revoked_why=latest.revoked_why, now=now)
    earlier = 0 if latest is None else db.session.scalar(
        select(func.count()).select_from(PortalInvitation).where(PortalInvitation.account_id == account.id,
                                                                 PortalInvitation.id < latest.id))
    return PortalStatus(account, latest, state, earlier)


def sign_in_address(patient: Patient) -> str:
    email = (patient.email or "").strip().lower()
    if not email:
        raise DomainError("Record the patient's email address first: the invitation is sent there.")
    taken = db.session.scalar(select(PortalAccount.id).where(PortalAccount.email == email,
                                                             PortalAccount.patient_id != patient.id))
    if taken is not None:
        raise DomainError("Another patient's portal account uses this email address; each patient needs their own.")
    return email


def invite(patient: Patient, *, by: User, now: datetime) -> PortalInvitation:
    """A first invitation (or a new one after an expired or revoked one): the account is made
    if needed, any waiting link is replaced, and the email is queued."""
    if patient.is_archived:
        raise DomainError("This patient is archived; restore the record before inviting them.")
    status = portal_status(patient.id, now)
    if status.active:
        raise DomainError("This patient already has an active portal account.")
    if status.turned_off:
        raise DomainError("This patient's portal account is turned off; turn it on again instead of inviting.")
    email = sign_in_address(patient)
    account = status.account
    if account is None:
        account = PortalAccount(patient_id=patient.id, email=email)
        db.session.add(account)
        db.session.flush()
    account.email = email
    retire_waiting(account, by_id=by.id if by else None, now=now, why=rules.REPLACED)
    return send_link(account, by=by, now=now)


def resend(patient: Patient, *, by: User, now: datetime) -> PortalInvitation:
    """Send again: a new link; the waiting one stops working."""
    status = portal_status(patient.id, now)
    if status.account is None or status.active or status.turned_off:
        raise DomainError("There is no invitation to send again.")
    return invite(patient, by=by, now=now)


def revoke(patient: Patient, *, by: User, now: datetime) -> PortalInvitation:
    status = portal_status(patient.id, now)
    if status.state != rules.PENDING or status.latest.purpose != INVITE:
        raise DomainError("There is no waiting invitation to revoke.")
    retire_waiting(status.account, by_id=by.id, now=now, why=rules.REVOKED)
    db.session.flush()
    return status.latest


def retire_waiting(account: PortalAccount, *, by_id: int | None, now: datetime, why: str) -> list[int]:
    """Every link of the account not used nor retired yet stops working; their ids."""
    waiting = list(db.session.scalars(select(PortalInvitation.id).where(
        PortalInvitation.account_id == account.id, PortalInvitation.used_at.is_(None),
        PortalInvitation.revoked_at.is_(None))))
    if waiting:
        db.session.execute(update(PortalInvitation).where(PortalInvitation.id.in_(waiting))
                           .values(revoked_at=now, revoked_by_id=by_id, revoked_why=why)
                           .execution_options(synchronize_session="fetch"))
    return waiting


def follow_patient(patient_id: int, **_signal) -> None:
    """Receiver of patients.events.contact_changed: a patient archived has no portal access. Their
    waiting links are revoked (by whoever archived the record, audited as portal.invite_revoke), an
    invitation or code email not sent yet is withdrawn, and their open portal sessions end. Restoring
    the record gives nothing back: the clinic invites the patient again (an accepted account signs in
    again as before)."""
    patient = db.session.get(Patient, patient_id)
    account = fetch_account(patient_id) if patient is not None and patient.is_archived else None
    if account is None:
        return
    now = utcnow()
    for invitation_id in retire_waiting(account, by_id=patient.archived_by_id, now=now, why=rules.REVOKED):
        audit.record("portal.invite_revoke", object_type="portalinvitation", object_id=invitation_id,
                     patient_id=patient_id, detail="the patient's record was archived")
    messaging.withdraw_for_patient(patient_id, CHANNELS, purposes=(INVITATION_PURPOSE, RESET_PURPOSE, CODE_PURPOSE),
                                   why="the patient's record was archived")
    end_all_portal_sessions(account, "archived")
    db.session.flush()


def _expires_words(expires: datetime) -> str:
    """When the link stops working, as the patient reads it: "Monday 7 December, 9:05 AM (EST)"."""
    return f"{format_local_day(expires, clock=True)} ({format_local(expires, '%Z')})"


def _refused_link_email(sender: str) -> str:
    """Why a link's email was refused: the sender name, or else the app's address (KI_APP_URL), the
    only other words in it that the clinic chose (the token never spells a term: discreet_token)."""
    if clinical_words_in(sender):
        return ("The reminder sender name carries a clinical word; change it on the Reminders settings page "
                "before sending a link.")
    return ("The app's address (KI_APP_URL) carries a clinical word, and the link would show it; serve the "
            "app at another address before sending a link.")


def send_link(account: PortalAccount, *, by: User | None, now: datetime, purpose: str = INVITE,
              email: str | None = None) -> PortalInvitation:
    """A new link of `purpose` to `email` (the account's address unless given), its email queued."""
    # 256 random bits, never spelling a clinical term: the email is checked word by word, link included
    token = discreet_token(32)
    expires = now + rules.INVITATION_LIFETIME
    sender = reminder_settings().sender
    link = current_app.config["KI_APP_URL"] + ACCEPT_PATH + token
    delivery_purpose, words = EMAILS[purpose]
    try:
        message = words(sender=sender, link=link, expires_text=_expires_words(expires))
    except ClinicalWordInMessage:
        raise DomainError(_refused_link_email(sender)) from None
    invitation = PortalInvitation(account_id=account.id, token_hash=token_hash(token), email=email or account.email,
                                  created_at=now, created_by_id=by.id if by else None, expires_at=expires,
                                  purpose=purpose)
    db.session.add(invitation)
    db.session.flush()
    messaging.queue_email(f"portal-invitation:{invitation.id}", invitation.email, message.subject, message.body,
                          purpose=delivery_purpose, patient_id=account.patient_id, sender_name=sender)
    return invitation


def invitation_for(token: str, *, now: datetime, lock: bool = False) -> tuple[PortalInvitation | None, str | None]:
    """The invitation a link's token names and its state (None, None: no such link)."""
    stmt = select(PortalInvitation).where(PortalInvitation.token_hash == token_hash(token or ""))
    invitation = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if invitation is None:
        return None, None
    state = rules.invitation_state(expires_at=invitation.expires_at, used_at=invitation.used_at,
                                   revoked_at=invitation.revoked_at, revoked_why=invitation.revoked_why, now=now)
    if state == rules.PENDING and (not invitation.account.active or invitation.account.patient.is_archived):
        return invitation, rules.REVOKED  # the clinic ended the access (or archived before links were revoked)
    return invitation, state


class DeadLink(DomainError):
    """The link no longer works (used, expired, revoked, replaced, or never issued)."""

    def __init__(self, state: str | None):
        super().__init__(rules.DEAD_LINK_WORDS[state])
        self.state = state


def accept(token: str, password: str, factor: str, *, now: datetime) -> PortalAccount:
    """Use the link: the password is set and the link spent, at once and once (the row is
    locked, so two tabs cannot both use it). A reset link also drops the old second step and ends
    the account's open sessions (_reset_sign_in). Raises DeadLink, or DomainError on the password."""
    invitation, state = invitation_for(token, now=now, lock=True)
    if state != rules.PENDING:
        raise DeadLink(state)
    account = invitation.account
    problem = password_problem(password or "", account.email)
    if problem:
        raise DomainError({"password": problem})
    if factor not in (TOTP, EMAIL_CODE):
        raise DomainError({"factor": "Choose how you will confirm it is you when signing in."})
    if invitation.purpose == RESET:
        _reset_sign_in(account, invitation.email)
    else:
        account.activated_at = now
    invitation.used_at = now
    account.password_hash = hash_password(password)
    db.session.flush()
    return account


def _reset_sign_in(account: PortalAccount, email: str) -> None:
    """A reset link is used: only now do the old password and second step stop working (so a reset
    sent by mistake, or to a mailbox the patient no longer reads, locks no one out). The sign-in
    address becomes the one the link was sent to; the account's open sessions end; a code emailed
    for one of them is withdrawn. The next step enrols a second factor afresh."""
    taken = db.session.scalar(select(PortalAccount.id).where(PortalAccount.email == email,
                                                             PortalAccount.id != account.id))
    if taken is not None:
        raise DomainError({"password": "This link can no longer be used: please ask the clinic for a new one."})
    account.email = email
    account.second_factor, account.totp_secret_sealed, account.totp_last_step = None, None, None
    end_all_portal_sessions(account, "access_reset")
    messaging.withdraw_for_patient(account.patient_id, CHANNELS, purposes=(CODE_PURPOSE,),
                                   why="the patient's sign-in was reset")
