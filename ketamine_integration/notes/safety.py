"""Safety alerts: raised from every source of suicide risk (domain/safety.py), open until a
clinician acknowledges one with what was done, and kept after that as the patient's safety
history: who raised it from what, who acknowledged it, when and what was done."""
from __future__ import annotations

from datetime import datetime

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


def raise_for_response(course: TreatmentCourse, response: MeasureResponse) -> SafetyAlert | None:
    """The alert a questionnaire raises under its measure's safety rule (None: it raises none)."""
    signal = rules.from_measure(response.measure, list(response.answers))
    if signal is None:
        return None
    return _raise(course, signal, measure_response_id=response.id)


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
