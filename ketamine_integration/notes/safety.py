"""Safety alerts: raised from every source of suicide risk (domain/safety.py), open until a
clinician acknowledges one with what was done, and kept after that as the patient's safety
history: who raised it from what, who acknowledged it, when and what was done."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from blinker import Namespace
from sqlalchemy import Select, func, select
from sqlalchemy.orm import defer, joinedload, lazyload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.errors import DomainError
from ..db.locking import lock_row
from ..domain import safety as rules
from ..domain.text import written_length
from ..extensions import db
from .models import MeasureResponse, SafetyAlert, SessionNote

#: sent with each new alert once it is flushed, inside the transaction that raised it: the staff
#: notifications above listen (connected in create_app's register_hooks); a receiver must never
#: fail the request, since a safety signal is never held up by what follows it
alert_raised = Namespace().signal("safety-alert-raised")


#: how long an open alert from a portal answer on an incomplete questionnaire stands for the same
#: finding: the patient's next incomplete form saying it again opens none, and the questionnaire they
#: complete saying it is linked to that alert instead of raising a second (the on-call address was told
#: once); a graver or different finding, or one after the alert was acknowledged, raises its own
PORTAL_ANSWER_STANDS = timedelta(hours=24)


def raise_for_response(course: TreatmentCourse, response: MeasureResponse) -> SafetyAlert | None:
    """The alert a questionnaire raises under its measure's safety rule (None: it raises none). One
    the patient completed in the portal with the finding an open alert of their incomplete form of
    it already holds is linked to that alert, once, and raises no other."""
    signal = rules.from_measure(response.measure, list(response.answers))
    if signal is None:
        return None
    if response.completed_by_patient:
        earlier = _link_portal_answer(course, response, signal.finding + rules.INCOMPLETE)
        if earlier is not None:
            return earlier
    return _raise(course, signal, measure_response_id=response.id)


@dataclass(frozen=True)
class PortalAnswerAlert:
    alert: SafetyAlert
    #: True: opened now (its emails queued); False: the open one of the same finding, told already
    opened: bool


def raise_for_partial_answers(course: TreatmentCourse, measure_key: str, answers: list[int | None],
                              now: datetime) -> PortalAnswerAlert | None:
    """The alert the valid answers of a portal questionnaire the patient sent incomplete raise under
    the measure's safety rule (domain/safety.py from_partial_answers; None: they raise none). When an
    open alert of the same finding was raised for the patient's incomplete form of it within
    PORTAL_ANSWER_STANDS, that one stands for it: the care team has been told."""
    signal = rules.from_partial_answers(measure_key, answers)
    if signal is None:
        return None
    standing = _standing_portal_answer(course, measure_key, signal.finding, now)
    if standing is not None:
        return PortalAnswerAlert(standing, opened=False)
    return PortalAnswerAlert(_raise(course, signal, measure=measure_key, raised_at=now), opened=True)


def _standing_portal_answer(course: TreatmentCourse, measure_key: str, finding: str, now: datetime,
                            *, unlinked: bool = False) -> SafetyAlert | None:
    query = select(SafetyAlert).where(
        SafetyAlert.course_id == course.id, SafetyAlert.source == rules.PORTAL_ANSWER,
        SafetyAlert.measure == measure_key, SafetyAlert.finding == finding, SafetyAlert.acknowledged_at.is_(None),
        SafetyAlert.raised_at >= now - PORTAL_ANSWER_STANDS, SafetyAlert.raised_at <= now)
    if unlinked:
        query = query.where(SafetyAlert.measure_response_id.is_(None))
    return db.session.scalars(query.order_by(SafetyAlert.raised_at.desc(), SafetyAlert.id.desc()).limit(1)).first()


def _link_portal_answer(course: TreatmentCourse, response: MeasureResponse, finding: str) -> SafetyAlert | None:
    """Link `response` to the standing alert of the patient's incomplete form with `finding` (the
    one-way change of migration 0043), under a row lock: of two completed at once, the second finds
    it linked and raises its own."""
    alert = _standing_portal_answer(course, response.measure, finding, response.created_at, unlinked=True)
    if alert is None:
        return None
    lock_row(alert)
    if alert.measure_response_id is not None or alert.acknowledged_at is not None:
        return None
    alert.measure_response_id = response.id
    db.session.flush()
    db.session.expire(alert, ["response"])   # read again with the response it now has
    return alert


def raise_for_risk_screen(note: SessionNote) -> SafetyAlert | None:
    """The alert a note's risk screen raises, as soon as the note says so (a draft too: a safety
    signal never waits for a signature). Once per finding of a note however often it is saved;
    a later, graver finding (intent) raises its own."""
    signal = rules.from_risk_screen(note.content or {})
    if signal is None:
        return None
    exists = db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.session_note_id == note.id,
                                                            SafetyAlert.finding == signal.finding))
    if exists is not None:
        return None
    return _raise(note.course, signal, session_note_id=note.id)


def _raise(course: TreatmentCourse, signal: rules.SafetySignal, **record) -> SafetyAlert:
    alert = SafetyAlert(patient_id=course.patient_id, course_id=course.id, source=signal.source,
                        item_score=signal.item_score, finding=signal.finding, **record)
    db.session.add(alert)
    db.session.flush()
    alert_raised.send(alert)
    return alert


#: what an acknowledgement must say, in characters written (spaces do not count: "ok        ." is 3)
ACKNOWLEDGEMENT_MINIMUM = 10
ACKNOWLEDGEMENT_TOO_SHORT = f"Say what was done (at least {ACKNOWLEDGEMENT_MINIMUM} characters, spaces not counted)."


def acknowledge_alert(alert: SafetyAlert, *, note: str, by: User, now: datetime) -> None:
    """Close an alert with what was done (required); it stays in the safety history."""
    if not by.can("measures.record"):
        raise DomainError("A clinician acknowledges a safety alert.")
    lock_row(alert)
    if alert.acknowledged_at is not None:
        raise DomainError(f"Already acknowledged by {alert.acknowledged_by.full_name}.")
    if written_length(note) < ACKNOWLEDGEMENT_MINIMUM:
        raise DomainError({"note": ACKNOWLEDGEMENT_TOO_SHORT})
    alert.acknowledged_at, alert.acknowledged_by_id, alert.acknowledgement = now, by.id, note.strip()
    db.session.flush()


#: what a page shows of an alert's note: its date (not its content, not its themes or steps)
_NOTE_DATE_ONLY = joinedload(SafetyAlert.note).options(defer(SessionNote.content), lazyload("*"))


def open_alerts(patient_ids) -> list[SafetyAlert]:
    """Unacknowledged alerts of these patients (ids, or a SELECT of ids), oldest first."""
    ids = patient_ids if isinstance(patient_ids, Select) else list(patient_ids)
    if not isinstance(ids, Select) and not ids:
        return []
    return db.session.scalars(select(SafetyAlert).where(SafetyAlert.patient_id.in_(ids),
                                                        SafetyAlert.acknowledged_at.is_(None))
                              .options(joinedload(SafetyAlert.patient), _NOTE_DATE_ONLY)
                              .order_by(SafetyAlert.raised_at, SafetyAlert.id)).unique().all()


def count_open_alerts(patients: Select) -> Select:
    """A SELECT of how many alerts `open_alerts` finds for these patients (a SELECT of ids)."""
    return select(func.count(SafetyAlert.id)).where(SafetyAlert.patient_id.in_(patients),
                                                    SafetyAlert.acknowledged_at.is_(None))


def safety_history(patient_id: int) -> list[SafetyAlert]:
    """Every alert of the patient, open or acknowledged, newest first: the safety history."""
    return db.session.scalars(select(SafetyAlert).where(SafetyAlert.patient_id == patient_id)
                              .options(_NOTE_DATE_ONLY).order_by(SafetyAlert.raised_at.desc(), SafetyAlert.id.desc())).unique().all()
