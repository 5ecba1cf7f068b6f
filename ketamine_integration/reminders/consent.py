"""A patient's consent to reminders per channel: recorded as history rows, the latest one the
answer that holds; one action withdraws every channel."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..accounts.models import User
from ..db.errors import DomainError
from ..domain.reminders import CHANNELS
from ..extensions import db
from ..messaging.services import withdraw_for_patient
from ..patients.models import Patient
from .models import STAFF_METHODS, ContactConsent


@dataclass(frozen=True)
class ChannelConsent:
    """Where a patient stands on one channel: the latest row (None: never asked) and the address."""

    channel: str
    latest: ContactConsent | None
    #: the patient's email or phone for this channel, if recorded
    address: str | None

    @property
    def granted(self) -> bool:
        return self.latest is not None and self.latest.granted


def address_for(patient: Patient, channel: str) -> str | None:
    return patient.email if channel == "email" else patient.phone


def consent_history(patient_id: int) -> list[ContactConsent]:
    """Every consent row of a patient, newest first (a handful per patient: read at once)."""
    return list(db.session.scalars(select(ContactConsent).where(ContactConsent.patient_id == patient_id)
                                   .order_by(ContactConsent.id.desc())))


def current_consents(patient: Patient, history: list[ContactConsent] | None = None) -> list[ChannelConsent]:
    """Each channel's latest answer, in CHANNELS order (from `history` when the caller has it)."""
    rows = consent_history(patient.id) if history is None else history
    latest = {}
    for row in rows:  # newest first: the first row seen per channel holds
        latest.setdefault(row.channel, row)
    return [ChannelConsent(channel, latest.get(channel), address_for(patient, channel)) for channel in CHANNELS]


def consents_to(patient: Patient, channel: str) -> bool:
    """Whether a reminder may go to this patient on `channel` now: consent holds and an address exists."""
    state = next(c for c in current_consents(patient) if c.channel == channel)
    return state.granted and bool(state.address)


def record_consent(patient: Patient, *, channel: str, granted: bool, method: str, by: User) -> ContactConsent:
    """Add the patient's answer for one channel. A grant needs the address it will be used at,
    and a patient in care (an archived record is contacted by no one)."""
    if channel not in CHANNELS:
        raise DomainError({"channel": "Choose email or text message."})
    if method not in STAFF_METHODS:
        raise DomainError({"method": "Choose how the patient told the clinic."})
    if granted:
        if patient.is_archived:
            raise DomainError({"decision": "The patient is archived: restore the record before recording consent."})
        if not address_for(patient, channel):
            what = "email address" if channel == "email" else "phone number"
            raise DomainError({"decision": f"The patient has no {what} on record: add it (Edit) before "
                                           f"recording consent to {CHANNELS[channel].lower()} reminders."})
    row = ContactConsent(patient_id=patient.id, channel=channel, granted=granted, method=method,
                         recorded_by_id=by.id)
    db.session.add(row)
    db.session.flush()
    if not granted:  # nothing more goes that way, from this transaction on
        withdraw_for_patient(patient.id, [channel])
    return row


def opt_out_of_everything(patient: Patient, *, method: str, by: User) -> list[ContactConsent]:
    """Withdraw every channel not already withdrawn, in one action (a channel never asked about
    is withdrawn too, so the refusal is on record). Refused when nothing is left to withdraw."""
    if method not in STAFF_METHODS:
        raise DomainError({"method": "Choose how the patient told the clinic."})
    open_channels = [c.channel for c in current_consents(patient) if c.latest is None or c.latest.granted]
    if not open_channels:
        raise DomainError({"": "The patient is already opted out of every message; nothing changed."})
    rows = [ContactConsent(patient_id=patient.id, channel=channel, granted=False, method=method, recorded_by_id=by.id)
            for channel in open_channels]
    db.session.add_all(rows)
    db.session.flush()
    withdraw_for_patient(patient.id, CHANNELS)  # every channel, even one answered before
    return rows
