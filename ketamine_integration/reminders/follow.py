"""What a waiting message follows besides its appointment (bookings.events) and the reminder
settings (sweep.follow_settings): the patient's address, the patient archived or restored, the
video link of a telehealth session (the clinician's own room, the clinic's template).

Each receiver runs inside the changing transaction (connected in register_hooks) and rewrites
the waiting reminders and invitations in their rows (the same delivery key: recipient, words,
link), withdraws what may no longer go, and queues again in its row what was withdrawn and is due
again; reads are a constant number of statements for any number of appointments."""
from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import User
from ..bookings.models import BOOKED, Appointment
from ..db.types import utcnow
from ..extensions import db
from ..messaging import services as messages
from ..messaging.models import CHANNELS
from ..patients.models import Patient
from ..telehealth.services import TELEHEALTH
from . import invitations, sweep
from .consent import address_for

#: what the clinic sends the patient (a safety alert naming the patient goes to staff: it stays)
TO_PATIENT = (sweep.PURPOSE, *invitations.PURPOSES.values())


def follow_patient(patient_id: int, **_signal) -> None:
    """Receiver of patients.events.contact_changed (the patient's email or phone changed, the
    record archived or restored). Archived: every waiting message to the patient withdrawn (an
    archived patient gets nothing). Otherwise: a channel left with no address, its waiting
    messages withdrawn; the reminders and invitations of the patient's sessions ahead rebuilt for
    the address as it now stands, and the ones withdrawn at the archiving (or for want of an
    address) queued again."""
    patient = db.session.get(Patient, patient_id)
    if patient.is_archived:
        messages.withdraw_for_patient(patient_id, CHANNELS, purposes=TO_PATIENT,
                                      why="the patient's record was archived")
        return
    gone = [channel for channel in CHANNELS if not address_for(patient, channel)]
    if gone:
        messages.withdraw_for_patient(patient_id, gone, purposes=TO_PATIENT, why="no address on record")
    now = utcnow()
    _refresh(list(db.session.scalars(select(Appointment.id).where(
        Appointment.patient_id == patient_id, Appointment.status == BOOKED, Appointment.starts_at > now))), now)


def follow_video_room(user_id: int, **_signal) -> None:
    """Receiver of accounts.events.video_room_changed: the clinician's telehealth sessions ahead."""
    _follow_links(Appointment.clinician_id == user_id)


def follow_video_template(_sender=None, **_signal) -> None:
    """Receiver of telehealth.services.template_changed: the telehealth sessions ahead of the
    clinicians with no room of their own (theirs take their link from the template)."""
    _follow_links(Appointment.clinician_id.in_(select(User.id).where(User.video_room_url.is_(None))))


def _follow_links(*where) -> None:
    now = utcnow()
    _refresh(list(db.session.scalars(select(Appointment.id).where(
        Appointment.modality == TELEHEALTH, Appointment.status == BOOKED, Appointment.starts_at > now, *where))), now)


def _refresh(ids: list[int], now) -> None:
    if ids:
        sweep.refresh_appointments(ids, now)
        invitations.reconcile_invitations(ids, now=now, refresh=True)
