"""Releases of information, coordination notes and reports.

Clinicians on a patient's care team coordinate treatment without a release (45 CFR
164.506(c)): a note carries only what its writer typed. Sharing with a prescriber outside the
care team (another practice) needs a release, active that day, that covers an outside recipient
and the note's kind. A report carries only the categories its recipient's releases permit.
Process notes are never read here at all.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from ..accounts.models import PRESCRIBER, User
from ..courses.models import TreatmentCourse
from ..documents.coordination_report import render_report_pdf
from ..domain.phases import Phase
from ..db.errors import DomainError
from ..experience.models import DosingSession
from ..experience.services import fetch_signed_sessions_by_course
from ..extensions import db
from ..db.locking import lock_row
from ..patients.models import CareTeamMember, Patient
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


# -- reports due by the protocol's coordination rules -------------------------------------------

#: the release category a report falling due after dosing needs to say what it is due for
AFTER_DOSING_NEEDS = "dosing"


def due_triggers(protocol, sessions: list[DosingSession], start: datetime, now: datetime) -> list[tuple]:
    """(when a report fell due, why, the release category it needs or None) under the protocol's
    coordination rules. Pure."""
    rules, triggers = protocol.coordination, []
    by_sequence = {s.sequence: s for s in sessions}
    for n in rules.report_after_dosing:
        if n in by_sequence:
            triggers.append((by_sequence[n].ended_at, f"after dosing session {n}", AFTER_DOSING_NEEDS))
    last = protocol.experience.max_series_sessions
    if rules.report_at_end_of_series and last in by_sequence:
        triggers.append((by_sequence[last].ended_at, "at the end of the series", AFTER_DOSING_NEEDS))
    if rules.report_every_days:
        step, moment = timedelta(days=rules.report_every_days), start + timedelta(days=rules.report_every_days)
        while moment <= now:
            triggers.append((moment, f"every {rules.report_every_days} days", None))
            moment += step
    return sorted(triggers, key=lambda trigger: trigger[0])


@dataclass(frozen=True)
class DueReport:
    """A course whose latest coordination rule fell due after its latest report."""

    course: object
    #: why it is due ("after dosing session 3")
    why: str
    #: what the report still needs before it can be generated today, or None: it can be
    missing: str | None


def report_missing(prescribers: list[User], releases: list[ReleaseOfInformation], needs: str | None,
                   today: date) -> str | None:
    """What stands between a course and the report due on it: a prescriber on the care team, and
    a release active today letting the record go to one of them (covering `needs`). Pure."""
    if not prescribers:
        return "needs a prescriber on the patient's care team"
    for prescriber in prescribers:
        allowed = {c for r in releases if r.recipient_user_id == prescriber.id and r.active_on(today)
                   for c in r.categories}
        if allowed and (needs is None or needs in allowed):
            return None
    covering = f" covering {CATEGORIES[needs].split(' (')[0].lower()}" if needs else ""
    return (f"needs a release of information to {' or '.join(p.full_name for p in prescribers)}{covering}")


def _prescribers_and_releases(patient_ids: list[int]) -> tuple[dict, dict]:
    """Each patient's care-team prescribers and releases: two queries for any number of patients."""
    prescribers, releases = {}, {}
    for member in db.session.scalars(select(CareTeamMember).where(
            CareTeamMember.patient_id.in_(patient_ids), CareTeamMember.role == PRESCRIBER)
            .options(joinedload(CareTeamMember.user))):
        prescribers.setdefault(member.patient_id, []).append(member.user)
    for release in db.session.scalars(select(ReleaseOfInformation).where(
            ReleaseOfInformation.patient_id.in_(patient_ids))):
        releases.setdefault(release.patient_id, []).append(release)
    return prescribers, releases


def reports_due(courses: list[tuple], now: datetime, today: date) -> list[DueReport]:
    """Each course whose latest coordination rule fell due after its latest report, with what its
    report still needs. `courses`: (course, its ProtocolVersion) pairs, the course a TreatmentCourse
    or a row with id, patient_id, phase and start_date. A fixed number of queries, whatever their number."""
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
            due.append((course, triggers[-1]))
    prescribers, releases = _prescribers_and_releases(sorted({c.patient_id for c, _t in due}))
    return [DueReport(course, why, report_missing(prescribers.get(course.patient_id, []),
                                                  releases.get(course.patient_id, []), needs, today))
            for course, (_at, why, needs) in due]
