"""The clinic's management of a patient's accepted portal account: turn it off, turn it on again,
and reset its access (a new single-use link with which the patient sets a new password and second
step), or cancel a reset still waiting.

Turning off acts at once: open portal sessions end, sign-in is refused with a message of its own,
a waiting reset link dies, and a code email not sent yet is withdrawn. A reset acts when its link is
used (invitations.accept): until then the patient's password and second step work as before, so a
reset sent by mistake, or to an address the patient no longer reads, locks no one out; where the old
credentials may be in someone else's hands (a lost phone), the clinic turns the account off first.
Services flush and audit nothing: the views record one row per action (portal/staff.py).
"""
from __future__ import annotations

from datetime import datetime

from ..accounts.models import User
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain import portal as rules
from ..extensions import db
from ..messaging import services as messaging
from ..messaging.models import CHANNELS
from ..patients.models import Patient
from .factors import CODE_PURPOSE
from .invitations import (RESET_PURPOSE, PortalStatus, portal_status, retire_waiting, send_link,
                          sign_in_address)
from .models import RESET, PortalAccount, PortalInvitation
from .sessions import end_all_portal_sessions

#: the longest reason for turning an account off (shown on the patient page's card)
WHY_MAX = 200


def _status(patient: Patient, now: datetime) -> PortalStatus:
    status = portal_status(patient.id, now)
    if status.account is not None:
        lock_row(status.account)  # two staff acting at once act in turn
    return status


def turn_off(patient: Patient, *, by: User, why: str, now: datetime) -> PortalAccount:
    """The account stops working now: its open sessions end ("turned_off"), sign-in is refused, a
    waiting reset link is revoked and an emailed code not sent yet is withdrawn."""
    why = " ".join((why or "").split())
    if not why:
        raise DomainError({"why": "Say why the account is turned off: the patient page shows it."})
    if len(why) > WHY_MAX:
        raise DomainError({"why": f"Keep it to {WHY_MAX} characters."})
    status = _status(patient, now)
    if not status.active:
        raise DomainError("There is no active portal account to turn off.")
    account = status.account
    account.active = False
    account.turned_off_at, account.turned_off_by_id, account.turned_off_why = now, by.id, why
    retire_waiting(account, by_id=by.id, now=now, why=rules.REVOKED)
    end_all_portal_sessions(account, "turned_off")
    messaging.withdraw_for_patient(patient.id, CHANNELS, purposes=(RESET_PURPOSE, CODE_PURPOSE),
                                   why="the patient's portal account was turned off")
    db.session.flush()
    return account


def turn_on(patient: Patient, *, by: User, now: datetime) -> PortalAccount:
    """The account works again with the patient's password and second step as they were."""
    if patient.is_archived:
        raise DomainError("This patient is archived; restore the record before turning the account on.")
    status = _status(patient, now)
    if not status.turned_off:
        raise DomainError("There is no turned-off portal account to turn on.")
    account = status.account
    account.active = True
    account.turned_off_at, account.turned_off_by_id, account.turned_off_why = None, None, None
    db.session.flush()
    return account


def send_reset(patient: Patient, *, by: User | None, now: datetime) -> PortalInvitation:
    """A reset link (72 hours, once) to the patient's address on record; a waiting one is replaced.
    Nothing else changes until the patient uses it. `by`: the staff member (None: from a script)."""
    if patient.is_archived:
        raise DomainError("This patient is archived; restore the record first.")
    status = _status(patient, now)
    if not status.active:
        raise DomainError("Only an active portal account can be reset; invite the patient, or turn the account "
                          "on again first.")
    email = sign_in_address(patient)
    retire_waiting(status.account, by_id=by.id if by else None, now=now, why=rules.REPLACED)
    return send_link(status.account, by=by, now=now, purpose=RESET, email=email)


def cancel_reset(patient: Patient, *, by: User, now: datetime) -> PortalInvitation:
    """The waiting reset link stops working; the password and second step stay as they are."""
    status = _status(patient, now)
    if not status.reset_waiting:
        raise DomainError("There is no waiting reset link to cancel.")
    retire_waiting(status.account, by_id=by.id, now=now, why=rules.REVOKED)
    messaging.withdraw_for_patient(patient.id, CHANNELS, purposes=(RESET_PURPOSE,),
                                   why="the portal reset link was cancelled")
    db.session.flush()
    return status.latest
