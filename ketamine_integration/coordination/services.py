"""Releases of information, coordination notes and reports.

Clinicians on a patient's care team coordinate treatment without a release (45 CFR
164.506(c)): a note carries only what its writer typed. Sharing with a prescriber outside the
care team (another practice) needs a release, active that day, that covers an outside recipient
and the note's kind. A report carries only the categories its recipient's releases permit.
Process notes are never read here at all.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import and_, or_, select

from ..accounts.models import PRESCRIBER, User
from ..courses.models import TreatmentCourse
from ..documents.coordination_report import render_report_pdf
from ..db.errors import DomainError
from ..extensions import db
from ..db.locking import lock_row
from ..patients.models import Patient
from .models import CATEGORIES, NOTE_NEEDS, CoordinationNote, CoordinationReport, ReleaseOfInformation
from .report import report_data


# -- releases ----------------------------------------------------------------------------------

def patient_releases(patient_id: int) -> list[ReleaseOfInformation]:
    return db.session.scalars(select(ReleaseOfInformation).where(ReleaseOfInformation.patient_id == patient_id)
                              .order_by(ReleaseOfInformation.effective_on.desc(), ReleaseOfInformation.id.desc())).all()


def create_release(patient: Patient, *, recipient_user_id: int | None, recipient_name: str | None,
                   categories: list[str], purpose: str, effective_on: date, expires_on: date | None,
                   by: User, outside_care_team: bool = False) -> ReleaseOfInformation:
    problems = {}
    name = None if recipient_user_id else (recipient_name or "").strip() or None
    if problem := _recipient_problem(recipient_user_id, name, by):
        problems["recipient"] = problem
    if name and not outside_care_team:
        problems["outside_care_team"] = ("A named outside clinic or clinician is outside the care team: tick "
                                         "that the release covers an outside recipient.")
    unknown = set(categories) - set(CATEGORIES)
    if not categories or unknown:
        problems["categories"] = "Choose at least one category the patient permits."
    if expires_on is not None and expires_on < effective_on:
        problems["expires_on"] = "The release expires after it takes effect."
    if problems:
        raise DomainError(problems)
    release = ReleaseOfInformation(patient_id=patient.id, recipient_user_id=recipient_user_id or None,
                                   recipient_name=name, categories=sorted(set(categories)), purpose=purpose.strip(),
                                   effective_on=effective_on, expires_on=expires_on, created_by_id=by.id,
                                   outside_care_team=bool(outside_care_team))
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


def permitted(patient_id: int, recipient_id: int, day: date, *, outside: bool = False) -> tuple[set[str], list[int]]:
    """The categories the patient's releases active on `day` permit for this prescriber, and
    which releases those are; `outside`: only releases covering a recipient outside the care team."""
    releases = [r for r in db.session.scalars(select(ReleaseOfInformation).where(
        ReleaseOfInformation.patient_id == patient_id, ReleaseOfInformation.recipient_user_id == recipient_id))
        if r.active_on(day) and (r.covers_outside_recipient or not outside)]
    return {c for r in releases for c in r.categories if c in CATEGORIES}, [r.id for r in releases]


def active_on_clause(day: date):
    """The SQL condition of ReleaseOfInformation.active_on(day)."""
    return and_(ReleaseOfInformation.effective_on <= day,
                or_(ReleaseOfInformation.expires_on.is_(None), ReleaseOfInformation.expires_on >= day),
                or_(ReleaseOfInformation.revoked_on.is_(None), ReleaseOfInformation.revoked_on > day))


def outside_patients(user: User, day: date):
    """A select of the ids of patients whose releases active on `day` let coordination reach
    `user` from outside their care team (the notes sent to them under it reach their worklist)."""
    return select(ReleaseOfInformation.patient_id).where(
        ReleaseOfInformation.recipient_user_id == user.id, ReleaseOfInformation.outside_care_team.is_(True),
        active_on_clause(day))


# -- coordination notes -----------------------------------------------------------------------

def _on_care_team(course: TreatmentCourse, user_id: int) -> bool:
    return any(member.user_id == user_id for member in course.patient.care_team)


def note_recipients(course: TreatmentCourse, by: User, today: date) -> list[tuple[int, str]]:
    """Whom `by` may write to about this course: care-team colleagues who exchange coordination
    notes, then prescribers outside the care team whose release active today covers them."""
    team = [(m.user_id, f"{m.user.display_name} ({m.role})") for m in course.patient.care_team
            if m.user_id != by.id and m.user.active and m.user.can("coordination.message")]
    members = {m.user_id for m in course.patient.care_team}
    outside = db.session.scalars(select(ReleaseOfInformation).where(
        ReleaseOfInformation.patient_id == course.patient_id, ReleaseOfInformation.outside_care_team.is_(True),
        ReleaseOfInformation.recipient_user_id.is_not(None), active_on_clause(today))).all()
    seen = {user_id for user_id, _ in team}
    for release in outside:
        user = release.recipient
        if user.id not in members | seen | {by.id} and user.active and user.can("coordination.message"):
            team.append((user.id, f"{user.display_name} (outside the care team, under a release)"))
            seen.add(user.id)
    return team


def _note_recipient(course: TreatmentCourse, recipient_id: int, by: User) -> User:
    """A colleague who exchanges coordination notes, not the author (on the care team or not:
    the release decides for those outside it)."""
    recipient = db.session.get(User, recipient_id)
    if (recipient is None or not recipient.active or recipient.id == by.id
            or not recipient.can("coordination.message")):
        raise DomainError({"recipient": "Choose a colleague on the patient's care team, or a prescriber "
                                        "a release of information covers."})
    return recipient


def _check_outside_release(course: TreatmentCourse, recipient: User, category: str, today: date) -> None:
    """A prescriber outside the care team (another practice) receives a note only under a release
    active today that covers an outside recipient and the note's kind."""
    allowed, _ = permitted(course.patient_id, recipient.id, today, outside=True)
    need = NOTE_NEEDS[category]
    if not allowed or (need is not None and need not in allowed):
        what = CATEGORIES[need].lower() if need else "anything"
        raise DomainError({"recipient": f"{recipient.full_name} is not on the patient's care team, and no release "
                                        f"of information covering an outside recipient permits sharing {what} "
                                        "with them today; nothing was sent."})


def send_note(course: TreatmentCourse, *, recipient_id: int, priority: str, category: str, body: str, by: User,
              today: date, follows: CoordinationNote | None = None) -> CoordinationNote:
    """Send a note. Within the care team nothing blocks it, an urgent safety note least of all:
    coordination between a patient's treating clinicians is treatment (45 CFR 164.506(c))."""
    recipient = _note_recipient(course, recipient_id, by)
    if not _on_care_team(course, recipient.id):
        _check_outside_release(course, recipient, category, today)
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
    data = report_data(course, recipient=recipient, author=by, categories=categories, now=now, questions=questions,
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
