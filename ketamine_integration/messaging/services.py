"""Queueing, sending and withdrawing deliveries: the API the features that send messages call.

A caller queues a message inside its own transaction (`queue_email`); the job that sends it is
handed to the queue only once that transaction commits (queue.enqueue_committed), so a job never
looks for a row that is not there yet, and a rolled-back request sends nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..db.types import utcnow
from ..domain.messages import InvalidPhoneNumber, check_text, e164, retry_delay
from ..extensions import db
from .mailer import Attachment, Mailer, SendFailure, build_message, from_stored, sender_of, stored
from .sms import SmsProvider
from .models import CHANNELS, EMAIL, FAILED, FINAL, OPTED_OUT, PENDING, SENDING, SENT, SMS, WITHDRAWN, Delivery

#: session.info key: delivery keys (and when to send them) to hand to the queue at commit
TO_ENQUEUE = "messaging.to_enqueue"
#: a delivery left `sending` this long ago belongs to a worker that stopped mid-send
STUCK_AFTER = timedelta(minutes=15)
#: a pending delivery this far past its time lost its job (the queue was down at commit): sent by the sweep
LOST_AFTER = timedelta(minutes=10)
STUCK_REASON = "the worker stopped while sending; whether the message arrived is not known"


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: sent, skipped (not pending, or not due), retry (after `delay` s) or failed."""
    status: str
    delay: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    first_delay_seconds: int

    @classmethod
    def of(cls, config) -> RetryPolicy:
        return cls(config["KI_QUEUE_MAX_ATTEMPTS"], config["KI_QUEUE_RETRY_SECONDS"])


def _email(to: str, subject: str, body: str, sender_name: str | None, attachments: Iterable[Attachment]):
    """The whole message from the clinic's sender (`sender_name` when given, else the mailer's)."""
    sender, default_name = sender_of(current_app.config)
    return build_message(sender=sender, sender_name=sender_name or default_name, to=to, subject=subject, body=body,
                         attachments=tuple(attachments), id_domain=current_app.config["CALENDAR_UID_DOMAIN"])


def queue_email(key: str, to: str, subject: str, body: str, *, purpose: str, patient_id: int | None = None,
                user_id: int | None = None, appointment_id: int | None = None, send_at: datetime | None = None,
                attachments: Iterable[Attachment] = (), sender_name: str | None = None) -> Delivery:
    """Queue one email under `key`, sent at `send_at` (now when None) once the caller's transaction
    commits. A key already queued (in any status) is left as it is and its row returned: queueing
    is idempotent. The body is kept only until the message is sent (models.Delivery.content).
    `sender_name`: who it is from, when not the mailer's (a patient's messages: the reminder sender)."""
    existing = fetch_delivery(key)
    if existing is not None:
        return existing
    message = _email(to, subject, body, sender_name, attachments)
    delivery = Delivery(key=key, channel=EMAIL, purpose=purpose, patient_id=patient_id, user_id=user_id,
                        appointment_id=appointment_id, recipient=to, scheduled_for=send_at or utcnow(),
                        status=PENDING, content=stored(message))
    return _added(delivery)


def queue_sms(key: str, to: str, body: str, *, purpose: str, patient_id: int | None = None,
              user_id: int | None = None, appointment_id: int | None = None,
              send_at: datetime | None = None) -> Delivery:
    """Queue one text message under `key`, as queue_email does an email: idempotent by key, its
    job handed to the queue once the caller's transaction commits, its text kept only until sent.
    Raises TextTooLong for an empty text or one over SMS_MAX_CHARACTERS (a wording to fix). The
    number is kept in E.164 form; one that is not a phone number is kept as written and its
    delivery fails at the first attempt, with the reason, on the Messages page."""
    check_text(body)
    existing = fetch_delivery(key)
    if existing is not None:
        return existing
    to = stored_number(to)
    delivery = Delivery(key=key, channel=SMS, purpose=purpose, patient_id=patient_id, user_id=user_id,
                        appointment_id=appointment_id, recipient=to, scheduled_for=send_at or utcnow(),
                        status=PENDING, content=body)
    return _added(delivery)


def stored_number(number: str) -> str:
    """A phone number as a text's delivery keeps it: E.164, or as written when it is not a number."""
    try:
        return e164(number, current_app.config["KI_SMS_COUNTRY_CODE"])
    except InvalidPhoneNumber:
        return number


def _added(delivery: Delivery) -> Delivery:
    try:
        with db.session.begin_nested():
            db.session.add(delivery)
    except IntegrityError:
        # another transaction queued the same key meanwhile: theirs stands
        return fetch_delivery(delivery.key)
    db.session.info.setdefault(TO_ENQUEUE, []).append((delivery.key, delivery.scheduled_for))
    return delivery


def record_opted_out(key: str, *, channel: str, purpose: str, recipient: str, patient_id: int | None,
                     appointment_id: int | None = None, now: datetime) -> Delivery:
    """A message that was due but is not sent because the patient opted out, kept so the
    patient page can say so."""
    existing = fetch_delivery(key)
    if existing is not None:
        return existing
    delivery = Delivery(key=key, channel=channel, purpose=purpose, patient_id=patient_id,
                        appointment_id=appointment_id, recipient=recipient, scheduled_for=now, status=OPTED_OUT)
    db.session.add(delivery)
    db.session.flush()
    return delivery


def reopen(delivery: Delivery, *, to: str, subject: str, body: str, send_at: datetime,
           sender_name: str | None = None, attachments: Iterable[Attachment] = ()) -> bool:
    """Give a waiting or withdrawn delivery the caller read (locked) a new recipient, new words and
    a new time, pending (what it said changed after it was queued: the patient's address, the
    session's video link; or what was withdrawn is due again: the patient restored, consent given
    again). Its job is handed to the queue again at commit; the old job finds it not due, or sends
    what it now says. Returns whether anything changed (a pending one saying the same is left)."""
    if delivery.status not in (PENDING, WITHDRAWN):
        return False
    if delivery.channel == EMAIL:
        message = _email(to, subject, body, sender_name, attachments)
        content = stored(message)
        same = delivery.content is not None and _same_email(from_stored(delivery.content), message)
    else:
        check_text(body)
        to = stored_number(to)
        content, same = body, delivery.content == body
    if delivery.status == PENDING and same and delivery.recipient == to and delivery.scheduled_for == send_at:
        return False
    if delivery.status == WITHDRAWN:
        audit.record("message.requeued", obj=delivery, patient_id=delivery.patient_id,
                     detail=f"{delivery.channel} {delivery.purpose}")
    delivery.status, delivery.recipient, delivery.content = PENDING, to, content
    delivery.scheduled_for, delivery.last_error = send_at, None
    db.session.info.setdefault(TO_ENQUEUE, []).append((delivery.key, send_at))
    return True


def _same_email(old, new) -> bool:
    """Whether two built emails say the same to the same address: their headers and text (their
    Message-ID aside, and an attachment built from the same words: a .ics differs by its DTSTAMP)."""
    def said(message) -> tuple:
        parts = [part.get_payload(decode=True) for part in message.walk() if part.get_content_type() == "text/plain"]
        return message["To"], message["From"], message["Subject"], parts
    return said(old) == said(new)


def locked_deliveries(keys: Collection[str]) -> dict[str, Delivery]:
    """The deliveries of `keys`, by key, read locked (FOR UPDATE) in one statement."""
    if not keys:
        return {}
    return {d.key: d for d in db.session.scalars(select(Delivery).where(Delivery.key.in_(sorted(keys)))
                                                 .with_for_update())}


def fail_unsent(delivery: Delivery, reason: str) -> None:
    """A pending delivery the app now refuses to send (its words would carry a clinical word):
    failed with `reason` before any attempt, shown to staff on the Messages page."""
    if delivery.status != PENDING:
        return
    delivery.last_error = reason[:300]
    _fail(delivery)
    db.session.flush()


def withdraw_deliveries(deliveries: Iterable[Delivery], *, why: str | None = None) -> int:
    """Withdraw deliveries the caller read (locked, FOR UPDATE) while pending: their content is
    erased and each withdrawal audited (`why`, e.g. "superseded", after its channel and purpose).
    A bulk caller reads them in one query (constant statements for any number of appointments or
    channels); returns how many."""
    count = 0
    for delivery in deliveries:
        if delivery.status != PENDING:
            continue
        delivery.status, delivery.content = WITHDRAWN, None
        audit.record("message.withdrawn", obj=delivery, patient_id=delivery.patient_id,
                     detail=f"{delivery.channel} {delivery.purpose}" + (f": {why}" if why else ""))
        count += 1
    db.session.flush()
    return count


def withdraw_for_patient(patient_id: int, channels: Iterable[str], *, purposes: Iterable[str] | None = None,
                         why: str | None = None) -> int:
    """Withdraw every pending delivery to a patient on `channels` (the patient withdrew consent
    there: nothing more goes that way, whatever it was for; or, of `purposes` only, the messages
    to the patient: the patient has no address there any more, or was archived), in the caller's
    transaction."""
    stmt = select(Delivery).where(Delivery.patient_id == patient_id, Delivery.channel.in_(tuple(channels)),
                                  Delivery.status == PENDING)
    if purposes is not None:
        stmt = stmt.where(Delivery.purpose.in_(tuple(purposes)))
    return withdraw_deliveries(db.session.scalars(stmt.with_for_update()).all(), why=why)


def record_not_sent(key: str, *, channel: str, purpose: str, recipient: str, patient_id: int | None,
                    appointment_id: int | None, reason: str, now: datetime) -> Delivery | None:
    """A message that was due but was refused before any attempt (e.g. its text would carry a
    clinical word): a failed delivery with the reason, so staff see it on the Messages page.
    None when the key is already recorded (by this run or another one at the same time)."""
    delivery = Delivery(key=key, channel=channel, purpose=purpose, patient_id=patient_id,
                        appointment_id=appointment_id, recipient=recipient, scheduled_for=now, status=FAILED,
                        attempts=0, last_error=reason[:300])
    try:
        with db.session.begin_nested():
            db.session.add(delivery)
    except IntegrityError:
        return None
    audit.record("message.failed", obj=delivery, patient_id=patient_id, outcome=audit.FAILURE,
                 detail=f"{channel} {purpose}, not attempted")
    return delivery


def fetch_delivery(key: str) -> Delivery | None:
    return db.session.scalar(select(Delivery).where(Delivery.key == key))


def claim(key: str, *, channels: Collection[str] = CHANNELS, now: datetime) -> Delivery | None:
    """Take a due, pending delivery of one of `channels` for one attempt and commit, or None when
    it is not ours to send (sent, withdrawn, claimed by another worker, not due, a channel this
    worker cannot send). The conditional update is the lock: of two jobs for one key, on either
    engine, exactly one sees its row change."""
    changed = db.session.execute(
        update(Delivery).where(Delivery.key == key, Delivery.channel.in_(sorted(channels)),
                               Delivery.status == PENDING, Delivery.scheduled_for <= now)
        .values(status=SENDING, attempts=Delivery.attempts + 1, attempted_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return fetch_delivery(key) if changed else None


#: the features' last look before a message goes (a reminder of a session that has begun, of a
#: patient archived meanwhile): each returns why the delivery must not be sent now, or None.
#: Added by create_app (register_hooks), as messaging knows no feature above it
LAST_LOOKS: list[Callable[[Delivery, datetime], str | None]] = []


def look_before_sending(check: Callable[[Delivery, datetime], str | None]) -> None:
    if check not in LAST_LOOKS:
        LAST_LOOKS.append(check)


def _stopped(delivery: Delivery, now: datetime) -> bool:
    """Withdraw a claimed delivery a feature says must not go now, with the reason (committed)."""
    reason = next((why for why in (check(delivery, now) for check in LAST_LOOKS) if why), None)
    if reason is None:
        return False
    delivery.status, delivery.content, delivery.last_error = WITHDRAWN, None, reason[:300]
    audit.record("message.withdrawn", obj=delivery, patient_id=delivery.patient_id,
                 detail=f"{delivery.channel} {delivery.purpose}: {reason}"[:200])
    db.session.commit()
    return True


def deliver(key: str, *, mailer: Mailer, sms: SmsProvider, policy: RetryPolicy, now: datetime) -> Outcome:
    """One attempt at sending the delivery `key`, by its channel: an email through `mailer`, a
    text through `sms`. No transaction is open while the server is talked to."""
    delivery = claim(key, now=now)
    if delivery is None:
        db.session.commit()
        return Outcome("skipped")
    if _stopped(delivery, now):
        return Outcome(WITHDRAWN)
    delivery_id, channel, recipient, content = delivery.id, delivery.channel, delivery.recipient, delivery.content
    db.session.commit()  # the claim's read ends here: the send holds no lock
    try:
        if channel == SMS:
            provider_id = sms.send(recipient, content)
        else:
            mailer.send(from_stored(content))
            provider_id = ""
    except SendFailure as failure:
        return _after_failure(delivery_id, failure, policy=policy, now=utcnow())
    delivery = db.session.get(Delivery, delivery_id)
    delivery.status, delivery.sent_at, delivery.content, delivery.last_error = SENT, utcnow(), None, None
    # the provider's id lets a question about one text be traced at the provider; never the text
    audit.record("message.sent", obj=delivery, patient_id=delivery.patient_id,
                 detail=f"{delivery.channel} {delivery.purpose}, attempt {delivery.attempts}"
                        + (f", provider id {provider_id}" if provider_id else ""))
    db.session.commit()
    return Outcome(SENT)


def _after_failure(delivery_id: int, failure: SendFailure, *, policy: RetryPolicy, now: datetime) -> Outcome:
    delivery = db.session.get(Delivery, delivery_id)
    delivery.last_error = failure.reason
    if failure.permanent or delivery.attempts >= policy.max_attempts:
        _fail(delivery)
        db.session.commit()
        return Outcome(FAILED)
    delay = retry_delay(delivery.attempts, policy.first_delay_seconds)
    delivery.status, delivery.scheduled_for = PENDING, now + timedelta(seconds=delay)
    db.session.commit()
    return Outcome("retry", delay)


def _fail(delivery: Delivery) -> None:
    delivery.status, delivery.content = FAILED, None
    audit.record("message.failed", obj=delivery, patient_id=delivery.patient_id, outcome=audit.FAILURE,
                 detail=f"{delivery.channel} {delivery.purpose}, {delivery.attempts} attempts")


def sweep(*, now: datetime) -> list[str]:
    """The periodic look over the deliveries: one left `sending` by a stopped worker is failed
    with that reason (it is not sent twice: it may have arrived); returns the keys of pending
    deliveries well past their time, whose job was lost, to be queued again."""
    stuck = db.session.scalars(select(Delivery).where(
        Delivery.status == SENDING, Delivery.attempted_at < now - STUCK_AFTER).with_for_update()).all()
    for delivery in stuck:
        delivery.last_error = STUCK_REASON
        _fail(delivery)
    lost = db.session.scalars(select(Delivery.key).where(
        Delivery.status == PENDING, Delivery.scheduled_for < now - LOST_AFTER)).all()
    db.session.commit()
    return list(lost)


def take_keys_to_enqueue(session) -> list[tuple[str, datetime]]:
    return session.info.pop(TO_ENQUEUE, [])


def fetch_messages_page(limit: int) -> tuple[list[Delivery], int, list[Delivery]]:
    """The Messages page: the newest `limit` failed deliveries and how many failed in all, then the
    latest `limit` others (a page of bounded size however long the clinic has been sending)."""
    failed = db.session.scalars(select(Delivery).where(Delivery.status == FAILED)
                                .options(joinedload(Delivery.patient))
                                .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)).all()
    failed_total = len(failed) if len(failed) < limit else db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.status == FAILED))
    others = db.session.scalars(select(Delivery).where(Delivery.status != FAILED)
                                .options(joinedload(Delivery.patient))
                                .order_by(Delivery.scheduled_for.desc(), Delivery.id.desc()).limit(limit)).all()
    return list(failed), failed_total, list(others)


__all__ = ["Attachment", "FINAL", "Outcome", "RetryPolicy", "claim", "deliver", "fail_unsent", "fetch_delivery",
           "fetch_messages_page", "locked_deliveries", "look_before_sending", "queue_email", "queue_sms",
           "record_not_sent", "record_opted_out", "reopen", "stored_number", "sweep", "withdraw_deliveries",
           "withdraw_for_patient"]
