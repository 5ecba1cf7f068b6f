"""Patients' invitations: a session booked, moved or cancelled sends the patient an email carrying
an iTIP invitation (.ics METHOD:REQUEST, or CANCEL), with the clinician's UID and SEQUENCE and the
clinic as organizer, in a reminder's discreet words (issue 22, point 4).

It follows bookings.events.appointments_changed (connected in register_hooks): each announced
appointment's messages are brought in line with its current state, whatever was sent before. The
delivery key names the appointment, the event's SEQUENCE and the method, so a re-announced change
or a retried job finds its row and sends nothing twice; a newer invitation withdraws an older one
still waiting. Reads are a constant number of statements for any number of appointments (the demo
books hundreds in one transaction); only the messages actually queued add their own inserts."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from ..bookings.models import BOOKED, CANCELLED
from ..calendars.services import appointment_rows, event_sequence, patient_event
from ..db.clinic_time import clinic_zone
from ..db.types import utcnow
from ..documents.ical import Person, invitation
from ..domain.reminders import ClinicalWordInMessage, invitation_message
from ..extensions import db
from ..messaging import services as messaging
from ..messaging.mailer import Attachment, sender_of
from ..messaging.models import EMAIL, FAILED, PENDING, SENDING, SENT, WITHDRAWN, Delivery
from ..patients.models import Patient
from ..telehealth import services as telehealth
from .consent import current_consents
from .models import ContactConsent
from .rules import ReminderSettings, reminder_settings

log = logging.getLogger(__name__)

REQUEST, CANCEL = "REQUEST", "CANCEL"
#: a delivery's purpose by the invitation's method (the patient page says "Appointment invitation", "Appointment cancellation")
PURPOSES = {REQUEST: "invitation", CANCEL: "cancellation"}
#: an invitation in one of these may be in the patient's calendar (a send that failed or stopped
#: half-way may have arrived): only such a patient is sent its update or its cancellation
MAY_HOLD = frozenset({SENT, SENDING, FAILED})
#: where an in-person session is when the clinic has set no address
NO_ADDRESS = "the clinic"


def invitation_key(appointment_id: int, sequence: int, method: str) -> str:
    return f"invitation:appointment:{appointment_id}:seq:{sequence}:{method.lower()}"


def send_invitations(appointment_ids, **_signal) -> None:
    """appointments_changed receiver (sender: the changed ids), inside the committing transaction."""
    reconcile_invitations(appointment_ids, now=utcnow())


@dataclass(frozen=True)
class _Clinic:
    """What every invitation of one reconciliation shares, read once."""

    settings: ReminderSettings
    zone: ZoneInfo
    organizer: Person
    template: str | None
    now: datetime


def reconcile_invitations(appointment_ids, *, now: datetime, refresh: bool = False) -> None:
    """Queue, withdraw or record as opted out the invitations of these appointments, each by its
    state now: booked -> REQUEST at its current SEQUENCE; cancelled -> CANCEL to a patient who may
    hold an earlier one; attended, missed, or already begun -> nothing (a past session is invited
    to no calendar); an archived patient -> nothing. This state's invitation withdrawn earlier (the
    patient archived, consent or address withdrawn) is queued again in its row; with `refresh`, a
    waiting one is rebuilt in its row for the patient's address and the session's link as they
    now stand."""
    rows = [row for row in appointment_rows(appointment_ids)
            if row.status in (BOOKED, CANCELLED) and row.starts_at > now]
    if not rows:
        return
    patients = {p.id: p for p in db.session.scalars(select(Patient).where(
        Patient.id.in_({row.patient_id for row in rows})))}
    consenting = _consenting_to_email(patients)
    held = _invitations_of([row.id for row in rows])
    settings = reminder_settings()
    clinic = _Clinic(settings=settings, zone=clinic_zone(), now=now,
                     organizer=Person(settings.sender, sender_of(current_app.config)[0]),
                     template=telehealth.clinic_template() if any(r.modality == telehealth.TELEHEALTH for r in rows)
                     else None)
    for row in rows:
        if not patients[row.patient_id].is_archived:
            _reconcile(row, patients[row.patient_id], row.patient_id in consenting, held[row.id], clinic, refresh)


def _consenting_to_email(patients: dict[int, Patient]) -> set[int]:
    """The ids of the patients whose latest email answer is a grant and who have an address:
    reminders.consent.consents_to for all of them, their consent rows read in one statement."""
    history = defaultdict(list)
    for row in db.session.scalars(select(ContactConsent).where(
            ContactConsent.patient_id.in_(patients), ContactConsent.channel == EMAIL)
            .order_by(ContactConsent.id.desc())):
        history[row.patient_id].append(row)
    return {pid for pid, patient in patients.items()
            if any(c.channel == EMAIL and c.granted and c.address for c in current_consents(patient, history[pid]))}


def _invitations_of(appointment_ids: list[int]) -> dict[int, list[Delivery]]:
    """Every invitation delivery of these appointments, locked: a worker's claim of a pending one
    and our withdrawing it take turns (after its claim we see it `sending`, so held)."""
    found = defaultdict(list)
    for delivery in db.session.scalars(select(Delivery).where(
            Delivery.purpose.in_(PURPOSES.values()), Delivery.appointment_id.in_(appointment_ids))
            .order_by(Delivery.id).with_for_update()):
        found[delivery.appointment_id].append(delivery)
    return found


def _reconcile(row, patient: Patient, consents: bool, held: list[Delivery], clinic: _Clinic,
               refresh: bool = False) -> None:
    method = CANCEL if row.status == CANCELLED else REQUEST
    key = invitation_key(row.id, event_sequence(row), method)
    current = next((d for d in held if d.key == key), None)
    if current is not None and current.status not in ((PENDING, WITHDRAWN) if refresh else (WITHDRAWN,)):
        return  # this state's invitation is queued, sent or recorded already
    others = [d for d in held if d.key != key]
    holds = any(d.status in MAY_HOLD for d in others if d.key.endswith(":request"))
    messaging.withdraw_deliveries(others, why="superseded")
    if method == CANCEL and not holds:
        return  # the patient's calendar has no invitation to take back
    _settle(row, patient, key, current, consents=consents, moved=holds, clinic=clinic)


def _settle(row, patient: Patient, key: str, current: Delivery | None, *, consents: bool, moved: bool,
            clinic: _Clinic) -> None:
    """This state's invitation: queued (or, `current`, rebuilt in its row), or recorded as not sent."""
    method = CANCEL if row.status == CANCELLED else REQUEST
    recipient = dict(channel=EMAIL, purpose=PURPOSES[method], recipient=patient.email or "", patient_id=patient.id,
                     appointment_id=row.id, now=clinic.now)
    if not consents:
        if current is None:
            messaging.record_opted_out(key, **recipient)
        else:
            messaging.withdraw_deliveries([current], why="no consent or address on record")
        return
    try:
        subject, body, attachment = _invitation(row, patient, method, moved=moved, clinic=clinic)
    except ClinicalWordInMessage as refused:
        log.warning("invitation %s not sent: %s", key, refused)
        if current is None:
            messaging.record_not_sent(key, reason=f"Not sent: {refused}", **recipient)
        else:
            messaging.fail_unsent(current, f"Not sent: {refused}")
        return
    if current is not None:
        messaging.reopen(current, to=patient.email, subject=subject, body=body, send_at=current.scheduled_for
                         if current.status == PENDING else clinic.now, attachments=[attachment],
                         sender_name=clinic.settings.sender)
        return
    messaging.queue_email(key, patient.email, subject, body, purpose=PURPOSES[method], patient_id=patient.id,
                          appointment_id=row.id, attachments=[attachment], sender_name=clinic.settings.sender)


def _invitation(row, patient: Patient, method: str, *, moved: bool, clinic: _Clinic) -> tuple[str, str, Attachment]:
    """The email's subject and body and its .ics: what a reminder may say, nothing more."""
    settings = clinic.settings
    online = row.modality == telehealth.TELEHEALTH
    link = telehealth.row_link(row, clinic.template) if online else None
    message = invitation_message(
        starts_at_utc=row.starts_at, zone=clinic.zone, sender=settings.sender,
        wording=settings.rules[row.kind].wording, place=None if online else (settings.clinic_address or NO_ADDRESS),
        room=None if online else row.room, link=link, cancel_phone=settings.clinic_phone,
        cancelled=method == CANCEL, moved=moved)
    event = patient_event(row, summary=message.summary, location=message.location,
                          description=message.description, video_url=link)
    calendar = invitation(event, organizer=clinic.organizer, attendees=[Person(patient.full_name, patient.email)],
                          zone=clinic.zone, now=clinic.now)
    filename = "cancellation.ics" if method == CANCEL else "invitation.ics"
    return message.subject, message.body, Attachment(filename, f"text/calendar; method={method}", calendar)


def calendar_file(row, patient: Patient, *, now: datetime) -> bytes:
    """A patient's own calendar file of one booked session (the patient portal's download): the
    event their emailed invitation carries (same UID, SEQUENCE, discreet words), nothing of any other
    appointment. `row`: an appointment_rows row. Raises ClinicalWordInMessage as the email would."""
    settings = reminder_settings()
    clinic = _Clinic(settings=settings, zone=clinic_zone(), now=now,
                     organizer=Person(settings.sender, sender_of(current_app.config)[0]),
                     template=telehealth.clinic_template() if row.modality == telehealth.TELEHEALTH else None)
    return _invitation(row, patient, REQUEST, moved=False, clinic=clinic)[2].content
