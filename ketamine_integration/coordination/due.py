"""Reports due by the protocol's coordination rules: since when each is due, which rule made it
due, and what its report still needs before it can be generated.

Follow-up review of issue 19, point 4: the home page said a report was "due" but not since when
nor why. A report falls due at each moment a rule of the course's protocol names (the end of a
named dosing session, the end of the series, every N days from the course's start); it is due
from the first of those moments after the course's latest report, and says each rule that fell
due since, in a few plain words (review of issue 20: not the protocol file's field names).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..accounts.models import PRESCRIBER, User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.phases import Phase
from ..experience.services import fetch_signed_sessions_by_course
from ..extensions import db
from ..patients.models import CareTeamMember
from ..protocols.services import protocol_of
from .models import CATEGORIES, CoordinationReport, ReleaseOfInformation

#: the release category a report falling due after dosing needs to say what it is due for
AFTER_DOSING_NEEDS = "dosing"


class DueTrigger(NamedTuple):
    """One moment a protocol rule makes a report due."""

    #: when it fell due (UTC)
    at: datetime
    #: the protocol's rule, in a few words ("after dosing session 3")
    why: str
    #: the release category the report needs for it, or None (any category)
    needs: str | None


def due_triggers(protocol, sessions: list, start: datetime, now: datetime) -> list[DueTrigger]:
    """The moments the protocol's coordination rules made a report due, in order. `sessions`: the
    course's signed dosing sessions (sequence, ended_at); `start`: the course's start, in the
    clinic's zone (the rules count from it as the clinic does). Pure."""
    rules, triggers = protocol.coordination, []
    by_sequence = {s.sequence: s for s in sessions}
    for n in rules.report_after_dosing:
        if n in by_sequence:
            triggers.append(DueTrigger(by_sequence[n].ended_at, f"after dosing session {n}", AFTER_DOSING_NEEDS))
    last = protocol.experience.max_series_sessions
    if rules.report_at_end_of_series and last in by_sequence:
        triggers.append(DueTrigger(by_sequence[last].ended_at, f"at the end of the series (dosing session {last})",
                                   AFTER_DOSING_NEEDS))
    if rules.report_every_days:
        every = rules.report_every_days
        step, moment = timedelta(days=every), start + timedelta(days=every)
        while moment <= now:
            triggers.append(DueTrigger(moment, f"every {every} days from the start of the course", None))
            moment += step
    return sorted(triggers, key=lambda trigger: trigger.at)


def unreported(triggers: list[DueTrigger], latest_report: datetime | None) -> tuple[DueTrigger, ...]:
    """The triggers after the course's latest report (all of them without one). Pure."""
    return tuple(t for t in triggers if latest_report is None or t.at > latest_report)


@dataclass(frozen=True)
class DueReport:
    """A course with a report due: the rules that fell due since its latest report, and what the
    report still needs before it can be generated today."""

    course: object
    #: the triggers since the latest report, earliest first (at least one)
    triggers: tuple[DueTrigger, ...]
    #: what the report still needs before it can be generated today, or None: it can be
    missing: str | None

    @property
    def since(self) -> datetime:
        """Due since: the first rule that fell due after the latest report."""
        return self.triggers[0].at

    @property
    def why(self) -> str:
        """Each rule that fell due since, once, in the order they did: "after dosing session 3 and
        at the end of the series (dosing session 6)"."""
        whys = list(dict.fromkeys(t.why for t in self.triggers))
        return whys[0] if len(whys) == 1 else ", ".join(whys[:-1]) + " and " + whys[-1]


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


#: the latest report of a course (a correlated subquery: a column of a course query), for pending_reports
LATEST_REPORT = (select(func.max(CoordinationReport.created_at))
                 .where(CoordinationReport.course_id == TreatmentCourse.id).scalar_subquery())


def pending_reports(courses: list[tuple], now: datetime, latest: dict[int, datetime | None] | None = None
                    ) -> list[tuple[object, tuple[DueTrigger, ...]]]:
    """Which reports are due: each live course with a rule fallen due after its latest report, and
    those rules (the one membership rule of reports_due and of the counts of them: home.waiting).
    `courses`: (course, its ProtocolVersion) pairs, the course a TreatmentCourse or a row with id,
    patient_id, phase and start_date; `latest`: each course's latest report, when the caller read
    it with the courses (LATEST_REPORT). One or two queries, whatever their number."""
    live = [(c, v) for c, v in courses if not Phase(c.phase).ended]
    if not live:
        return []
    ids = [c.id for c, _v in live]
    sessions = fetch_signed_sessions_by_course(ids)
    if latest is None:
        latest = dict(db.session.execute(select(CoordinationReport.course_id, func.max(CoordinationReport.created_at))
                                         .where(CoordinationReport.course_id.in_(ids))
                                         .group_by(CoordinationReport.course_id)).all())
    due = []
    for course, version in live:
        start = datetime.combine(course.start_date, time(9), clinic_zone())
        pending = unreported(due_triggers(protocol_of(version), sessions.get(course.id, []), start, now),
                             latest.get(course.id))
        if pending:
            due.append((course, pending))
    return due


def reports_due(courses: list[tuple], now: datetime, today: date) -> list[DueReport]:
    """Each course with a rule fallen due after its latest report, with since when, why and what its
    report still needs (pending_reports, then describe_due). A fixed number of queries."""
    return describe_due(pending_reports(courses, now), today)


def describe_due(due: list[tuple[object, tuple[DueTrigger, ...]]], today: date) -> list[DueReport]:
    """The reports `pending_reports` found due, each with what it still needs before it can be
    generated today (covering dosing when any rule due is after a dose): two queries."""
    if not due:
        return []
    prescribers, releases = _prescribers_and_releases(sorted({c.patient_id for c, _t in due}))
    needs = {course.id: AFTER_DOSING_NEEDS if any(t.needs for t in pending) else None for course, pending in due}
    return [DueReport(course, pending, report_missing(prescribers.get(course.patient_id, []),
                                                      releases.get(course.patient_id, []), needs[course.id], today))
            for course, pending in due]


def reports_due_for(patients, now: datetime, today: date) -> list[DueReport]:
    """The reports due on the live courses of `patients` (a select of patient ids), each course read
    with its patient and protocol version: the prescriber's worklist. A fixed number of queries."""
    live = [phase.value for phase in Phase if not phase.ended]
    courses = db.session.scalars(select(TreatmentCourse).where(
        TreatmentCourse.patient_id.in_(patients), TreatmentCourse.phase.in_(live))
        .order_by(TreatmentCourse.start_date, TreatmentCourse.id)
        .options(joinedload(TreatmentCourse.patient), joinedload(TreatmentCourse.protocol_version))).all()
    return reports_due([(course, course.protocol_version) for course in courses], now, today)

