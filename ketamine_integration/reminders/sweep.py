"""The reminder sweep: every booked appointment's reminders queued once per moment and channel,
in line with the clinic's rules and the patient's consent; a moved or cancelled appointment's
pending reminders withdrawn (and the moved one's new ones queued) in the transaction that changed it.

One planning code for both (`_reconcile`): the periodic sweep passes the appointments starting
within its horizon, the appointments_changed receiver the ones a transaction changed. Each reads
its appointments (with patient, clinician and room), the patients' consents and the reminders
already recorded in a constant number of statements, however many appointments there are.

A delivery key names the appointment, its start (UTC), the offset and the channel
(`reminder:17:20261204T1500Z:48h:email`): queueing is idempotent by key (a sweep run twice, or
two at once, queues once), and a moved appointment's reminders are new keys while the old ones,
still pending, are withdrawn. A reminder the patient does not consent to, or whose text would
carry a clinical word, is recorded when its moment comes (opted out; failed with the reason), so
the patient page and the Messages page say why it was not sent; before then a consent given, or a
setting corrected, still counts.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import Flask
from huey import crontab
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..bookings.models import BOOKED, Appointment
from ..db.clinic_time import clinic_zone
from ..db.types import utcnow
from ..domain.reminders import ClinicalWordInMessage, ReminderMessage, format_offsets, reminder_message, \
    reminder_times
from ..domain.messages import TextTooLong
from ..extensions import db
from ..messaging import services as messages
from ..messaging.models import EMAIL, PENDING, WITHDRAWN, Delivery
from ..telehealth.services import TELEHEALTH, video_links_of
from .consent import address_for, current_consents
from .models import ContactConsent
from .rules import MAX_QUIET, ReminderSettings, reminder_settings

PURPOSE = "reminder"
#: how long after its moment a reminder still goes: the sweep runs every five minutes, so a moment
#: that fell between two runs (or during a short outage of the worker) is sent late, not dropped
GRACE = timedelta(minutes=15)
#: beyond the longest offset, how far ahead the sweep looks: a moment in quiet hours may move back
#: to the evening before (MAX_QUIET), plus an hour so a run never just misses one
MARGIN = MAX_QUIET + timedelta(hours=1)
_STAMP = "%Y%m%dT%H%MZ"


def reminder_key(appointment_id: int, starts_at: datetime, offset: timedelta, channel: str) -> str:
    return f"{PURPOSE}:{appointment_id}:{_start_stamp(starts_at)}:{format_offsets([offset])}:{channel}"


def _start_stamp(starts_at: datetime) -> str:
    return starts_at.astimezone(timezone.utc).strftime(_STAMP)


def _key_start(key: str) -> str | None:
    parts = key.split(":")
    return parts[2] if len(parts) == 5 else None


@dataclass(frozen=True)
class Planned:
    """One reminder of one appointment on one channel, at `send_at`."""

    key: str
    appointment: Appointment
    offset: timedelta
    channel: str
    send_at: datetime


@dataclass
class SweepResult:
    queued: int = 0
    opted_out: int = 0
    refused: int = 0
    withdrawn: int = 0
    #: the appointments looked at
    appointments: int = 0
    keys: list[str] = field(default_factory=list)


def plan(appointment: Appointment, settings: ReminderSettings, zone, now: datetime) -> list[Planned]:
    """The reminders of `appointment` not yet past (GRACE before `now` counts as not past), one
    per moment and channel. Two offsets landing on one moment (quiet hours) send once, under the
    larger offset's key."""
    rule = settings.rules.get(appointment.kind)
    if rule is None or not rule.channels or appointment.starts_at <= now:
        return []
    moments: dict[datetime, timedelta] = {}
    for offset in rule.offsets:  # largest first
        for moment in reminder_times(appointment.starts_at, [offset], settings.quiet_hours, zone, now - GRACE):
            moments.setdefault(moment, offset)
    return [Planned(reminder_key(appointment.id, appointment.starts_at, offset, channel), appointment, offset,
                    channel, moment)
            for moment, offset in sorted(moments.items()) for channel in rule.channels]


def horizon(settings: ReminderSettings) -> timedelta | None:
    """How far ahead of now an appointment may start and have a reminder due soon; None: no kind
    has reminders."""
    offsets = [max(rule.offsets) for rule in settings.rules.values() if rule.channels and rule.offsets]
    return max(offsets) + MARGIN if offsets else None


def _appointments(*where) -> list[Appointment]:
    """Appointments with their patient (clinician and room are joined by the model)."""
    return list(db.session.scalars(select(Appointment).where(*where)
                                   .options(joinedload(Appointment.patient))).unique())


def _consents(appointments: list[Appointment]) -> dict[tuple[int, str], bool]:
    """(patient id, channel) -> the latest answer, for the patients of `appointments`: one query."""
    patient_ids = sorted({a.patient_id for a in appointments})
    rows = db.session.execute(select(ContactConsent.patient_id, ContactConsent.channel, ContactConsent.granted)
                              .where(ContactConsent.patient_id.in_(patient_ids))
                              .order_by(ContactConsent.id.desc()))
    latest: dict[tuple[int, str], bool] = {}
    for patient_id, channel, granted in rows:  # newest first: the first row seen holds
        latest.setdefault((patient_id, channel), granted)
    return latest


def _recorded_keys(appointment_ids: list[int]) -> dict[str, str]:
    """Key -> status of the reminders recorded for these appointments."""
    return dict(db.session.execute(select(Delivery.key, Delivery.status).where(
        Delivery.purpose == PURPOSE, Delivery.appointment_id.in_(appointment_ids))).all())


class _Messages:
    """Each appointment's reminder built once (both channels say the same), links read once."""

    def __init__(self, settings: ReminderSettings, zone, appointments: list[Appointment]):
        self.settings, self.zone = settings, zone
        self._links = None
        self._appointments = appointments
        self._built: dict[int, ReminderMessage | ClinicalWordInMessage] = {}

    def of(self, appointment: Appointment) -> ReminderMessage | ClinicalWordInMessage:
        if appointment.id not in self._built:
            self._built[appointment.id] = self._build(appointment)
        return self._built[appointment.id]

    def _build(self, appointment: Appointment) -> ReminderMessage | ClinicalWordInMessage:
        settings = self.settings
        online = appointment.modality == TELEHEALTH
        if online and self._links is None:
            self._links = video_links_of([a for a in self._appointments if a.modality == TELEHEALTH])
        try:
            return reminder_message(
                starts_at_utc=appointment.starts_at, zone=self.zone, sender=settings.sender,
                wording=settings.rules[appointment.kind].wording,
                place=None if online else (settings.clinic_address or "the clinic"),
                link=self._links.get(appointment.id) if online else None, cancel_phone=settings.clinic_phone,
                room=appointment.room.name if appointment.room is not None and not online else None)
        except ClinicalWordInMessage as err:
            return err


def sms_text(message: ReminderMessage) -> str:
    """A text message: the email's lines without the greeting and the blank lines."""
    lines = [line for line in message.body.splitlines() if line.strip() and line != "Hello,"]
    return "\n".join(lines)


def _queue(item: Planned, message: ReminderMessage, address: str, sender: str) -> Delivery:
    appointment = item.appointment
    common = dict(purpose=PURPOSE, patient_id=appointment.patient_id, appointment_id=appointment.id,
                  send_at=item.send_at)
    if item.channel == EMAIL:
        return messages.queue_email(item.key, address, message.subject, message.body, sender_name=sender, **common)
    return messages.queue_sms(item.key, address, sms_text(message), **common)


def _opted_out(item: Planned, address: str | None, now: datetime) -> bool:
    appointment = item.appointment
    try:
        with db.session.begin_nested():
            delivery = messages.record_opted_out(
                item.key, channel=item.channel, purpose=PURPOSE, recipient=address or "(none on record)",
                patient_id=appointment.patient_id, appointment_id=appointment.id, now=now)
    except IntegrityError:
        return False  # another sweep, at the same time, recorded it
    audit.record("reminder.opted_out", obj=delivery, patient_id=appointment.patient_id,
                 detail=f"{item.channel} {format_offsets([item.offset])} before")
    return True


def _reconcile(appointments: list[Appointment], settings: ReminderSettings, now: datetime,
               result: SweepResult, *, refresh: bool = False) -> None:
    """Queue what is due to be queued for `appointments` (booked ones; the others are skipped).
    A planned reminder withdrawn earlier (the patient archived, consent or address withdrawn, the
    session moved away and back) is queued again in its row; with `refresh`, a waiting one is
    rebuilt in its row with the patient's address and the session's link as they now stand (or
    withdrawn, the address or consent gone)."""
    zone = clinic_zone()
    booked = [a for a in appointments if a.status == BOOKED and not a.patient.is_archived]
    planned = [item for a in booked for item in plan(a, settings, zone, now)]
    result.appointments += len(booked)
    todo, rows = _to_settle(planned, _recorded_keys([a.id for a in booked]), refresh)
    consents = _consents(booked)
    built = _Messages(settings, zone, booked)
    for item in todo:
        _settle(item, consents, built, now, result, rows.get(item.key))


def _to_settle(planned: list[Planned], recorded: dict[str, str], refresh: bool) -> tuple[list[Planned], dict]:
    """The planned reminders to settle: the ones not recorded, and the recorded ones to queue again
    or rebuild, whose rows are read locked (key -> row) in one statement."""
    reopenable = {key for key, status in recorded.items() if status == WITHDRAWN or (refresh and status == PENDING)}
    todo = [item for item in planned if item.key not in recorded or item.key in reopenable]
    return todo, messages.locked_deliveries({item.key for item in todo if item.key in reopenable})


def _settle(item: Planned, consents: dict, built: _Messages, now: datetime, result: SweepResult,
            row: Delivery | None) -> None:
    """One reminder not recorded yet (`row` None), withdrawn or waiting (`row`, locked): queued or
    rebuilt (consent), or at its moment recorded as not sent."""
    patient = item.appointment.patient
    address = address_for(patient, item.channel)
    if not (consents.get((patient.id, item.channel)) and address):
        if row is not None:
            result.withdrawn += messages.withdraw_deliveries([row], why="no consent or address on record")
        elif item.send_at <= now and _opted_out(item, address, now):
            result.opted_out += 1
        return
    message = built.of(item.appointment)
    if isinstance(message, ClinicalWordInMessage):
        _refuse(item, f"Not sent: {message}", address, row, now, result)
        return
    try:
        queued = _queue_or_rewrite(item, message, address, built.settings.sender, row)
    except TextTooLong as too_long:  # the clinic's address, room and link together, in a text message
        _refuse(item, f"Not sent: {too_long}", address, row, now, result)
        return
    if queued:
        result.queued += 1
        result.keys.append(item.key)


def _queue_or_rewrite(item: Planned, message: ReminderMessage, address: str, sender: str,
                      row: Delivery | None) -> bool:
    """Queue a new reminder, or rewrite `row` (waiting or withdrawn) in place; whether it was ours
    to queue (not a concurrent sweep's) or changed."""
    if row is not None:
        body = message.body if item.channel == EMAIL else sms_text(message)
        return messages.reopen(row, to=address, subject=message.subject, body=body, send_at=item.send_at,
                               sender_name=sender)
    before = len(db.session.info.get(messages.TO_ENQUEUE, ()))
    _queue(item, message, address, sender)
    return len(db.session.info.get(messages.TO_ENQUEUE, ())) > before


def _refuse(item: Planned, reason: str, address: str, row: Delivery | None, now: datetime,
            result: SweepResult) -> None:
    """A reminder the app will not send (its words would carry a clinical word; a text too long):
    a waiting one failed with the reason, a new one recorded so at its moment (a withdrawn one
    stays withdrawn)."""
    if row is not None:
        if row.status == PENDING:
            messages.fail_unsent(row, reason)
            result.refused += 1
    elif item.send_at <= now and messages.record_not_sent(
            item.key, channel=item.channel, purpose=PURPOSE, recipient=address, patient_id=item.appointment.patient_id,
            appointment_id=item.appointment.id, reason=reason, now=now):
        result.refused += 1


def sweep_reminders(now: datetime) -> SweepResult:
    """Queue the reminders of every booked appointment starting within the horizon (the caller
    commits). Nothing new due: five statements (the settings, the appointments, the recorded
    keys, the consents), whatever the number of appointments."""
    settings = reminder_settings()
    result = SweepResult()
    ahead = horizon(settings)
    if ahead is None:
        return result
    kinds = [kind for kind, rule in settings.rules.items() if rule.channels and rule.offsets]
    appointments = _appointments(Appointment.status == BOOKED, Appointment.starts_at > now,
                                 Appointment.starts_at <= now + ahead, Appointment.kind.in_(kinds))
    _reconcile(appointments, settings, now, result)
    return result


def _withdraw_outdated(appointments: Iterable[Appointment], ids: list[int]) -> int:
    """Withdraw the pending reminders of `ids` whose appointment is no longer booked (cancelled,
    held, missed) or no longer starts when the key says (moved): one locked read."""
    current = {a.id: a for a in appointments}
    pending = db.session.scalars(select(Delivery).where(
        Delivery.purpose == PURPOSE, Delivery.status == PENDING, Delivery.appointment_id.in_(ids))
        .with_for_update()).all()

    def outdated(delivery: Delivery) -> bool:
        appointment = current.get(delivery.appointment_id)
        return (appointment is None or appointment.status != BOOKED
                or _key_start(delivery.key) != _start_stamp(appointment.starts_at))
    return messages.withdraw_deliveries([d for d in pending if outdated(d)])


def reconcile_appointments(ids: list[int], now: datetime) -> SweepResult:
    """Bring the reminders of the appointments `ids` in line with how they now stand: the
    outdated pending ones withdrawn, the ones now due to be planned queued (whatever the horizon:
    a session moved far ahead gets its reminders at once)."""
    result = SweepResult()
    if not ids:
        return result
    appointments = _appointments(Appointment.id.in_(ids))
    result.withdrawn = _withdraw_outdated(appointments, ids)
    _reconcile(appointments, reminder_settings(), now, result)
    return result


def refresh_appointments(ids: list[int], now: datetime) -> SweepResult:
    """The waiting reminders of the booked appointments `ids` rebuilt in their rows (recipient,
    words, time), the withdrawn ones due again queued again, what is missing queued: a constant
    number of reads for any number of appointments."""
    result = SweepResult()
    if ids:
        _reconcile(_appointments(Appointment.id.in_(ids)), reminder_settings(), now, result, refresh=True)
    return result


def follow_appointments(ids: list[int]) -> None:
    """Receiver of bookings.events.appointments_changed (inside the changing transaction)."""
    reconcile_appointments(list(ids), utcnow())


def follow_settings(now: datetime) -> SweepResult:
    """The clinic changed its reminder settings: the waiting reminders the new rules no longer send
    (an offset or a channel dropped) are withdrawn, the others rebuilt in their rows with the new
    words and times (or failed with the reason, if they would now carry a clinical word or not fit
    a text message), and what the new rules add is queued, for these appointments however far ahead
    and by a sweep. Reads in a constant number of statements."""
    settings, zone, result = reminder_settings(), clinic_zone(), SweepResult()
    pending = db.session.scalars(select(Delivery).where(Delivery.purpose == PURPOSE, Delivery.status == PENDING)
                                 .with_for_update()).all()
    appointments = _appointments(Appointment.id.in_({d.appointment_id for d in pending})) if pending else []
    planned = {item.key for a in appointments if a.status == BOOKED for item in plan(a, settings, zone, now)}
    result.withdrawn = messages.withdraw_deliveries([d for d in pending if d.key not in planned],
                                                    why="the clinic's reminder rules changed")
    _reconcile(appointments, settings, now, result, refresh=True)
    swept = sweep_reminders(now)
    result.queued, result.opted_out = result.queued + swept.queued, result.opted_out + swept.opted_out
    return result


def too_late(delivery: Delivery, now: datetime) -> str | None:
    """The worker's last look at a patient's reminder or invitation before it goes (registered with
    messaging.services.look_before_sending): not once its session has begun or is no longer booked,
    nor to an archived patient (a worker that was down, a change that did not reach it)."""
    if delivery.purpose not in (PURPOSE, "invitation") or delivery.appointment_id is None:
        return None
    appointment = db.session.get(Appointment, delivery.appointment_id)
    if appointment.status != BOOKED:
        return "the session is no longer booked"
    if appointment.starts_at <= now:
        return "the session had begun when it was due to go"
    patient = appointment.patient
    if patient.is_archived:
        return "the patient's record is archived"
    # a change that found the delivery being sent (not waiting) and so left it: it must not go again
    if delivery.channel not in _consenting_channels(patient):
        return "the patient no longer consents to this channel"
    if _as_stored(delivery.channel, address_for(patient, delivery.channel)) != delivery.recipient.strip().lower():
        return "the patient's address changed"
    return None


def _consenting_channels(patient) -> set[str]:
    return {c.channel for c in current_consents(patient) if c.granted}


def _as_stored(channel: str, address: str | None) -> str:
    if not address:
        return ""
    return (messages.stored_number(address) if channel != EMAIL else address.strip()).lower()


def run_sweep(now: datetime) -> SweepResult:
    """One sweep, committed (the queued jobs are handed over at commit)."""
    result = sweep_reminders(now)
    db.session.commit()
    return result


#: the worker's periodic job (messaging.queue.run_periodically, from create_app): every five minutes
SCHEDULE = crontab(minute="*/5")


def periodic_sweep(app: Flask, now: datetime) -> None:
    with app.app_context():
        run_sweep(now)
