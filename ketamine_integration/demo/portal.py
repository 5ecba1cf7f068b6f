"""Demo patient portal: three patients with accounts (each enrols a second step at their first
sign-in, so no secret is printed), one invitation waiting and one revoked. Fictional throughout."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..accounts.models import User
from ..accounts.passwords import hash_password
from ..bookings.models import BOOKED, Appointment
from ..extensions import db
from ..patients.models import Patient
from ..portal import invitations
from ..portal.models import PortalAccount, PortalInvitation

#: the three demo patients' portal password (printed by `flask demo`, like the staff one)
PORTAL_PASSWORD = "harbor-light-patient-2026"


def _patients_with_sessions_ahead(now: datetime, count: int) -> list[Patient]:
    """The patients whose next booked sessions come soonest: their home page has something to show."""
    found = []
    for patient_id in db.session.scalars(select(Appointment.patient_id).where(
            Appointment.status == BOOKED, Appointment.starts_at > now).order_by(Appointment.starts_at)):
        if patient_id not in found:
            found.append(patient_id)
        if len(found) == count + 2:
            break
    return [db.session.get(Patient, pid) for pid in found]


def load_demo_portal(users: dict[str, User], now: datetime) -> None:
    desk = users["staff1"]
    *with_accounts, waiting, revoked = _patients_with_sessions_ahead(now, 3)
    hashed = hash_password(PORTAL_PASSWORD)
    for patient in with_accounts:
        account = PortalAccount(patient_id=patient.id, email=patient.email.lower(), password_hash=hashed,
                                activated_at=now)
        db.session.add(account)
        db.session.flush()
        # the invitation they accepted (its token long gone: only a hash of a random one is kept)
        db.session.add(PortalInvitation(account_id=account.id, token_hash=invitations.token_hash(
            f"demo-accepted-{patient.id}-{now.isoformat()}"), email=account.email, created_at=now,
            created_by_id=desk.id, expires_at=now + invitations.rules.INVITATION_LIFETIME, used_at=now))
    invitations.invite(waiting, by=desk, now=now)
    invitations.invite(revoked, by=desk, now=now)
    invitations.revoke(revoked, by=users["staff2"], now=now)
    db.session.flush()


def demo_portal_logins() -> list[tuple[str, bool]]:
    """The addresses the demo patients sign in to the portal with, and whether each has enrolled."""
    return [(email, factor is not None) for email, factor in db.session.execute(
        select(PortalAccount.email, PortalAccount.second_factor).where(PortalAccount.password_hash.is_not(None))
        .order_by(PortalAccount.id))]
