"""Releases of information, coordination notes and reports.

What may be shared is decided at the moment of sharing, from the releases active that day:
a note of a kind the releases do not cover is not sent; a report carries only the permitted
categories. Process notes are never read here at all.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from ..accounts.models import PRESCRIBER, THERAPIST, User
from ..courses.models import TreatmentCourse
from ..documents.coordination_report import render_report_pdf
from ..domain.phases import Phase
from ..db.errors import DomainError
from ..experience.models import DosingSession
from ..experience.services import fetch_signed_sessions_by_course
from ..extensions import db
from ..db.locking import lock_row
from ..patients.models import Patient
from ..protocols.services import protocol_of
from ..db.clinic_time import clinic_zone
from .models import CATEGORIES, NOTE_NEEDS, CoordinationNote, CoordinationReport, ReleaseOfInformation
from .report import report_data


# -- releases ----------------------------------------------------------------------------------

def patient_releases(patient_id: int) -> list[ReleaseOfInformation]:
    return db.session.scalars(select(ReleaseOfInformation).where(ReleaseOfInformation.patient_id == patient_id)
                              .order_by(ReleaseOfInformation.effective_on.desc(), ReleaseOfInformation.id.desc())).all()


def create_release(patient: Patient, *, recipient_user_id: int | None, recipient_name: str | None,
                   categories: list[str], purpose: str, effective_on: date, expires_on: date | None,
                   by: User) -> ReleaseOfInformation:
    problems = {}
    name = None if recipient_user_id else (recipient_name or "").strip() or None
    if problem := _recipient_problem(recipient_user_id, name, by):
        problems["recipient"] = problem
    unknown = set(categories) - set(CATEGORIES)
    if not categories or unknown:
        problems["categories"] = "Choose at least one category the patient permits."
    if expires_on is not None and expires_on < effective_on:
        problems["expires_on"] = "The release expires after it takes effect."
    if problems:
        raise DomainError(problems)
    release = ReleaseOfInformation(patient_id=patient.id, recipient_user_id=recipient_user_id or None,
                                   recipient_name=name, categories=sorted(set(categories)), purpose=purpose.strip(),
                                   effective_on=effective_on, expires_on=expires_on, created_by_id=by.id)
    db.session.add(release)
    db.session.flush()
    return release


def _recipient_problem(recipient_user_id: int | None, name: str | None, by: User) -> str | None:
    """A release goes to an active prescriber other than whoever records it, or to a named outsider."""
    if not recipient_user_id:
        return None if name else "Choose a prescriber, or name the outside clinic or clinician."
    recipient = db.session.get(User, recipient_user_id)
    if recipient is None or not recipient.active or not recipient.can("reports.receive"):
        return "Choose an active prescriber."
    if recipient.id == by.id:
        return "A release is recorded by someone other than its recipient."
    return None


def revoke_release(release: ReleaseOfInformation, *, on: date, by: User) -> None:
    lock_row(release)
    if release.revoked_on is not None and release.revoked_on <= on:
        raise DomainError(f"This release is revoked already, as of {release.revoked_on}.")
    release.revoked_on, release.revoked_by_id = on, by.id  # an earlier date brings a revocation forward
    db.session.flush()


def permitted(patient_id: int, recipient_id: int, day: date) -> tuple[set[str], list[int]]:
    """The categories the patient's releases active on `day` permit for this prescriber, and
    which releases those are."""
    releases = [r for r in db.session.scalars(select(ReleaseOfInformation).where(
        ReleaseOfInformation.patient_id == patient_id, ReleaseOfInformation.recipient_user_id == recipient_id))
        if r.active_on(day)]
    return {c for r in releases for c in r.categories if c in CATEGORIES}, [r.id for r in releases]


# -- coordination notes -----------------------------------------------------------------------

def _care_team(course: TreatmentCourse) -> set[tuple[int, str]]:
    return {(m.user_id, m.role) for m in course.patient.care_team}


def _note_recipient(course: TreatmentCourse, recipient_id: int, by: User) -> User:
    """A colleague on the patient's care team who exchanges coordination notes, not the author."""
    recipient = db.session.get(User, recipient_id)
    if (recipient is None or not recipient.active or recipient.id == by.id
            or not any(uid == recipient.id for uid, _ in _care_team(course))
            or not recipient.can("coordination.message")):
        raise DomainError({"recipient": "Choose a colleague on the patient's care team."})
    return recipient


def _check_release_permits(course: TreatmentCourse, recipient: User, category: str, today: date) -> None:
    """The therapist's information goes to the prescriber only as far as the release allows."""
    allowed, _ = permitted(course.patient_id, recipient.id, today)
    need = NOTE_NEEDS[category]
    if not allowed or (need is not None and need not in allowed):
        what = CATEGORIES[need].lower() if need else "anything"
        raise DomainError({"category": f"The patient's release of information does not permit sharing {what} "
                                       f"with {recipient.full_name} today; nothing was sent."})


def send_note(course: TreatmentCourse, *, recipient_id: int, priority: str, category: str, body: str, by: User,
              today: date, follows: CoordinationNote | None = None) -> CoordinationNote:
    recipient = _note_recipient(course, recipient_id, by)
    if (recipient.id, PRESCRIBER) in _care_team(course) and by.has_role(THERAPIST):
        _check_release_permits(course, recipient, category, today)
    note = CoordinationNote(patient_id=course.patient_id, course_id=course.id, author_id=by.id,
                            recipient_id=recipient.id, priority=priority, category=category, body=body.strip(),
                            follows_id=follows.id if follows else None)
    db.session.add(note)
    db.session.flush()
    return note


def acknowledge_note(note: CoordinationNote, *, reply: str | None, by: User, now: datetime) -> None:
    if note.recipient_id != by.id:
        raise DomainError("Only the note's recipient acknowledges it.")
    lock_row(note)
    if note.acknowledged_at is not None:
        raise DomainError("This note was acknowledged already.")
    note.acknowledged_at, note.reply = now, (reply or "").strip() or None
    db.session.flush()


def course_notes(course_id: int) -> list[CoordinationNote]:
    return db.session.scalars(select(CoordinationNote).where(CoordinationNote.course_id == course_id)
                              .order_by(CoordinationNote.sent_at, CoordinationNote.id)).all()


# -- the report --------------------------------------------------------------------------------

def generate_report(course: TreatmentCourse, *, recipient_id: int, by: User, now: datetime, today: date,
                    questions: str | None, recommendations: str | None) -> CoordinationReport:
    recipient = db.session.get(User, recipient_id)
    if recipient is None or not any(m.user_id == recipient_id and m.role == PRESCRIBER
                                    for m in course.patient.care_team):
        raise DomainError({"recipient": "Choose a prescriber on the patient's care team."})
    categories, release_ids = permitted(course.patient_id, recipient.id, today)
    if not categories:
        raise DomainError({"recipient": f"No release of information lets this patient's record go to "
                                        f"{recipient.full_name} today; nothing was generated."})
    data = report_data(course, recipient=recipient, categories=categories, now=now, questions=questions,
                       recommendations=recommendations)
    pdf = render_report_pdf(data)
    report = CoordinationReport(patient_id=course.patient_id, course_id=course.id, recipient_id=recipient.id,
                                release_ids=release_ids, categories=sorted(categories), created_by_id=by.id,
                                pdf=pdf, content_hash=hashlib.sha256(pdf).hexdigest())
    db.session.add(report)
    db.session.flush()
    return report


def course_reports(course_id: int) -> list[CoordinationReport]:
    return db.session.scalars(select(CoordinationReport).where(CoordinationReport.course_id == course_id)
                              .order_by(CoordinationReport.created_at.desc())).all()


# -- reports due by the protocol's coordination rules -------------------------------------------

def due_triggers(protocol, sessions: list[DosingSession], start: datetime, now: datetime) -> list[tuple[datetime, str]]:
    """(when a report fell due, why) under the protocol's coordination rules. Pure."""
    rules, triggers = protocol.coordination, []
    by_sequence = {s.sequence: s for s in sessions}
    for n in rules.report_after_dosing:
        if n in by_sequence:
            triggers.append((by_sequence[n].ended_at, f"after dosing session {n}"))
    last = protocol.experience.max_series_sessions
    if rules.report_at_end_of_series and last in by_sequence:
        triggers.append((by_sequence[last].ended_at, "at the end of the series"))
    if rules.report_every_days:
        step, moment = timedelta(days=rules.report_every_days), start + timedelta(days=rules.report_every_days)
        while moment <= now:
            triggers.append((moment, f"every {rules.report_every_days} days"))
            moment += step
    return sorted(triggers)


def reports_due(courses: list[tuple], now: datetime) -> list[tuple]:
    """(course, why) for each course whose latest coordination rule fell due after its latest
    report. `courses`: (course, its ProtocolVersion) pairs, the course a TreatmentCourse or a row
    with id, phase and start_date. One query each for sessions and reports, whatever their number."""
    live = [(c, v) for c, v in courses if not Phase(c.phase).ended]
    if not live:
        return []
    ids = [c.id for c, _v in live]
    sessions = fetch_signed_sessions_by_course(ids)
    latest = dict(db.session.execute(select(CoordinationReport.course_id, func.max(CoordinationReport.created_at))
                                     .where(CoordinationReport.course_id.in_(ids))
                                     .group_by(CoordinationReport.course_id)).all())
    due = []
    for course, version in live:
        start = datetime.combine(course.start_date, time(9), clinic_zone())
        triggers = due_triggers(protocol_of(version), sessions.get(course.id, []), start, now)
        if triggers and (course.id not in latest or latest[course.id] < triggers[-1][0]):
            due.append((course, triggers[-1][1]))
    return due
