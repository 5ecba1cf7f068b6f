"""The clinic's outcomes as SQL aggregates (issue 25, point 4): PHQ-9 response and remission by protocol and by
therapist within each protocol, the median change from baseline, hours from a dose to its first integration
session, how the windows went, no-shows and REMS forms overdue, for the courses whose first dose fell in a
period.

Every figure is counted by the database in a fixed number of statements, whatever the clinic's size; the
rules are the app's own, never restated: the baseline is notes.baselines' (the last live PHQ-9 dated before
the first dose's clinic day and entered before it started), response and remission the measure registry's
(domain.measures.change), coverage the stored windows' (domain.coverage, experience.window_store), the
REMS form due 7 days after its session (experience.rems). Medians are ranked by window functions (SQLite
has no percentile function): the middle row, or the mean of the middle two.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, String, and_, case, cast, func, literal, literal_column, or_, select, union_all
from sqlalchemy.sql import Subquery

from ..accounts.models import User
from ..bookings.models import Appointment
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_day_span, clinic_zone
from ..db.sql_time import clinic_date, hours_between
from ..domain import coverage, disclosure
from ..domain import measures as scoring
from ..experience.models import CANCELLED, SIGNED, DosingSession
from ..experience.rems import DUE_AFTER, rems_versions
from ..experience.window_store import ENDED_PHASES, StoredWindow
from ..extensions import db
from ..notes.models import MeasureResponse
from ..protocols.models import ProtocolVersion
from .suppression import Member, hidden_lines, therapist_key, tree_of

#: the measure response and remission are judged by (the registry's rules: PHQ-9 response a 50% drop from
#: baseline, remission a total under 5)
MEASURE = scoring.MEASURES["phq9"]
#: outcomes recorded for a therapist session the patient was expected at: the no-show rate's denominator
#: (a clinic cancellation is not the patient's; a session cancelled ahead was never expected)
EXPECTED = (coverage.ATTENDED, coverage.NO_SHOW, coverage.LATE_CANCELLED)
ALL = "all"
#: a group (a protocol, a therapist) of fewer courses than this is not shown on its own: rates over a handful
#: of patients point at the patients (the CMS cell-size rule suppresses under 11; a clinic is smaller)
MIN_GROUP = 5


@dataclass(frozen=True)
class Filters:
    #: the first dose's clinic day, from and to (inclusive; None: open). The page asks for a calendar
    #: quarter only (disclosure.Quarter): two periods it offers never overlap, so none is the difference
    #: of two others; the test recounts any span.
    starts: date | None = None
    ends: date | None = None


@dataclass(frozen=True)
class PhqRow:
    key: str
    label: str
    #: courses of the group in the period
    courses: int
    #: with a baseline PHQ-9 and one after the first dose
    measured: int = 0
    #: of those, with a baseline above 0 (a fraction of 0 is no response rule)
    response_measured: int = 0
    responders: int = 0
    remitters: int = 0
    #: median of (last PHQ-9 - baseline), points
    median_change: float | None = None
    #: why the row is not shown (domain.disclosure.SMALL or COMPLEMENT); "" when it is
    hidden: str = ""

    @property
    def response_rate(self) -> float | None:
        return self.responders / self.response_measured if self.response_measured else None

    @property
    def remission_rate(self) -> float | None:
        return self.remitters / self.measured if self.measured else None


@dataclass(frozen=True)
class ProtocolRow:
    key: str
    label: str
    courses: int
    #: signed doses, and those followed by an attended integration session before the next dose
    doses: int = 0
    followed: int = 0
    #: median hours from a dose's end to its first attended integration session
    median_hours: float | None = None
    #: closed windows covered in the optimal span, covered after it, not covered; windows still open;
    #: windows not yet worked out (a stored row missing or stale: `flask windows rebuild`)
    optimal: int = 0
    late: int = 0
    missed: int = 0
    still_open: int = 0
    not_worked_out: int = 0
    #: therapist sessions given an outcome the patient was expected at, and the no-shows among them
    expected: int = 0
    no_shows: int = 0
    #: REMS monitoring forms not filed, and those past their due day
    rems_outstanding: int = 0
    rems_overdue: int = 0
    #: why the row is not shown (domain.disclosure.SMALL or COMPLEMENT); "" when it is
    hidden: str = ""

    @property
    def windows_closed(self) -> int:
        return self.optimal + self.late + self.missed

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.expected if self.expected else None


@dataclass(frozen=True)
class Outcomes:
    filters: Filters
    #: groups of fewer patients than this are not shown (small cells identify patients)
    min_group: int
    courses: int
    #: the patients the courses are of (a patient may have two courses in a period)
    patients: int
    overall_phq: PhqRow
    phq_by_protocol: list[PhqRow]
    #: protocol id -> its therapists' rows (therapists within their protocol only: domain.disclosure's tree)
    phq_therapists: dict[str, list[PhqRow]]
    overall: ProtocolRow
    by_protocol: list[ProtocolRow]

    @property
    def suppressed(self) -> bool:
        return self.patients < self.min_group

    def of_protocol(self, protocol_id: str | None) -> Outcomes:
        """The page filtered to one protocol: its rows and its therapists' as the whole quarter's tree
        shows them (suppression decided over every protocol first), beside the totals. A filter that
        recounted the protocol alone would be a second table to subtract from the first; this one
        shows a part of the same figures, so it offers nothing new (README, Clinic outcomes)."""
        if not protocol_id:
            return self
        return replace(self, phq_by_protocol=[r for r in self.phq_by_protocol if r.key == protocol_id],
                       phq_therapists={protocol_id: self.phq_therapists.get(protocol_id, [])},
                       by_protocol=[r for r in self.by_protocol if r.key == protocol_id])


def protocol_names(versions: list[ProtocolVersion]) -> dict[str, str]:
    """Protocol id -> the name of its latest registered version, sorted by name."""
    latest: dict[str, ProtocolVersion] = {}
    for v in versions:
        if v.protocol_id not in latest or v.version > latest[v.protocol_id].version:
            latest[v.protocol_id] = v
    return dict(sorted(((k, v.name) for k, v in latest.items()), key=lambda kv: kv[1]))


def _cohort(filters: Filters, zone: str) -> Subquery:
    """The courses whose first dose (the earliest start of a dosing session not cancelled:
    notes.baselines.first_dose_of) falls in the period, with their protocol and therapist."""
    started = func.min(DosingSession.started_at)
    first = (select(DosingSession.course_id.label("course_id"), started.label("first_started"))
             .where(DosingSession.status != CANCELLED, DosingSession.started_at.is_not(None))
             .group_by(DosingSession.course_id).subquery("first_doses"))
    first_day = clinic_date(first.c.first_started, literal(zone))
    stmt = (select(TreatmentCourse.id.label("course_id"), TreatmentCourse.patient_id.label("patient_id"),
                   TreatmentCourse.therapist_id.label("therapist_id"),
                   TreatmentCourse.protocol_version_id.label("version_id"), TreatmentCourse.phase.label("phase"),
                   ProtocolVersion.protocol_id.label("protocol_id"), first.c.first_started,
                   first_day.label("first_day"))
            .join(first, first.c.course_id == TreatmentCourse.id)
            .join(ProtocolVersion, ProtocolVersion.id == TreatmentCourse.protocol_version_id))
    if filters.starts is not None:
        stmt = stmt.where(first_day >= filters.starts)
    if filters.ends is not None:
        stmt = stmt.where(first_day <= filters.ends)
    # a CTE: each statement reads it several times, and SQLite then works it out once (as a subquery,
    # joined to the measures it was worked out again for each: 10 s on the large clinic instead of 0.1 s)
    return stmt.cte("cohort")


def _course_phq(cohort: Subquery) -> Subquery:
    """Per cohort course with both: the baseline PHQ-9 total (the last live one dated before the first
    dose's clinic day and entered before it started) and the last one dated on or after that day. One
    pass over the responses: each is sided (before, after, or neither: dated before, entered late) and
    ranked latest first within its side."""
    r = MeasureResponse
    after = r.administered_on >= cohort.c.first_day
    side = case((after, 1), (r.created_at < cohort.c.first_started, 0), else_=None)
    ranked = (select(r.course_id, r.total, side.label("side"),
                     func.row_number().over(partition_by=(r.course_id, side),
                                            order_by=(r.administered_on.desc(), r.id.desc())).label("rank"))
              .join(cohort, cohort.c.course_id == r.course_id)
              .where(r.measure == MEASURE.key, r.voided_at.is_(None)).subquery("ranked_phq"))

    def latest(on_side: int):
        return func.max(case((and_(ranked.c.side == on_side, ranked.c.rank == 1), ranked.c.total)))
    per_course = (select(ranked.c.course_id, latest(0).label("baseline"), latest(1).label("last"))
                  .group_by(ranked.c.course_id).subquery("per_course"))
    return (select(cohort.c.course_id, cohort.c.protocol_id, cohort.c.therapist_id, per_course.c.baseline,
                   per_course.c.last)
            .join(per_course, per_course.c.course_id == cohort.c.course_id)
            .where(per_course.c.baseline.is_not(None), per_course.c.last.is_not(None))
            .cte("course_phq"))


def _median_of(rows: Subquery, value: ColumnElement, group: ColumnElement | None,
               totals: dict[str, ColumnElement], grouping: str) -> Select:
    """One row per group: `totals` (window aggregates over the group) and the median of `value` (NULL
    where no row has one), by ranking the group's rows: the middle one, or the mean of the middle two.
    `grouping` names the grouping in the rows (several are read in one statement, UNION ALL)."""
    partition = {} if group is None else {"partition_by": group}
    grp = literal_column(f"'{ALL}'", String) if group is None else group
    counted = func.count(value).over(**partition)
    ranked = select(grp.label("grp"), value.label("value"), counted.label("counted"),
                    func.row_number().over(order_by=value.asc().nulls_last(), **partition).label("rank"),
                    *(total.over(**partition).label(name) for name, total in totals.items())
                    ).select_from(rows).subquery("ranked")
    middle = or_(ranked.c.counted == 0, ranked.c.rank == (ranked.c.counted + 1) // 2,
                 ranked.c.rank == (ranked.c.counted + 2) // 2)
    keys = [ranked.c.grp, ranked.c.counted, *(ranked.c[name] for name in totals)]
    return (select(literal_column(f"'{grouping}'", String).label("grouping"), *keys,
                   func.avg(case((ranked.c.counted > 0, ranked.c.value))).label("median"))
            .where(middle).group_by(*keys))


def _phq_stmt(course_phq: Subquery):
    """Every grouping's PHQ-9 figures in one statement: overall, by protocol, by therapist within a protocol
    (grouped as suppression.therapist_key writes it)."""
    c = course_phq.c
    responded = and_(c.baseline > 0, (c.baseline - c.last) * 100 >= int(MEASURE.response_drop * 100) * c.baseline)
    totals = {"measured": func.count(c.course_id),
              "response_measured": func.sum(case((c.baseline > 0, 1), else_=0)),
              "responders": func.sum(case((responded, 1), else_=0)),
              "remitters": func.sum(case((c.last < MEASURE.remission_below, 1), else_=0))}
    within = c.protocol_id.concat(literal(":")).concat(cast(c.therapist_id, String))
    groups = {ALL: None, "protocol": c.protocol_id, "therapist": within}
    return union_all(*(_median_of(course_phq, c.last - c.baseline, group, totals, name)
                       for name, group in groups.items()))


def _followed_doses(cohort: Subquery) -> Subquery:
    """Each signed dose of a cohort course with the start of the first attended integration session of
    the course after it ended and before the course's next signed dose started (NULL: none)."""
    d = DosingSession
    next_started = func.lead(d.started_at).over(partition_by=d.course_id, order_by=d.sequence)
    doses = (select(d.id, d.course_id, d.ended_at, next_started.label("next_started"), cohort.c.protocol_id)
             .join(cohort, cohort.c.course_id == d.course_id).where(d.status == SIGNED).subquery("doses"))
    a = Appointment
    held = and_(a.course_id == doses.c.course_id, a.kind == "integration", a.outcome == coverage.ATTENDED,
                a.starts_at >= doses.c.ended_at, or_(doses.c.next_started.is_(None), a.starts_at < doses.c.next_started))
    return (select(doses.c.id, doses.c.protocol_id,
                   hours_between(func.min(a.starts_at), doses.c.ended_at).label("hours"))
            .select_from(doses).outerjoin(a, held).group_by(doses.c.id, doses.c.protocol_id, doses.c.ended_at)
            .cte("followed"))


def _hours_stmt(cohort: Subquery):
    """The hours' medians overall and by protocol, in one statement."""
    followed = _followed_doses(cohort)
    totals = {"doses": func.count(followed.c.id)}
    return union_all(_median_of(followed, followed.c.hours, None, totals, ALL),
                     _median_of(followed, followed.c.hours, followed.c.protocol_id, totals, "protocol"))


def _windows_stmt(cohort: Subquery, now: datetime, zone: str) -> Select:
    """Per protocol: the signed doses' windows by how they went, from the stored rows trusted (the
    zone, the course's protocol version and the coverage rule they were worked out under). A course
    that has ended has closed its windows with it (experience.windows.course_windows)."""
    w = StoredWindow
    current = and_(w.dosing_session_id == DosingSession.id, w.zone == zone, w.rule_version == coverage.RULE_VERSION,
                   w.protocol_version_id == cohort.c.version_id)
    closed = or_(w.closes <= now, cohort.c.phase.in_(ENDED_PHASES))

    def count(condition):
        return func.sum(case((condition, 1), else_=0))
    return (select(cohort.c.protocol_id, count(and_(closed, w.covered_optimally.is_(True))).label("optimal"),
                   count(and_(closed, w.covered.is_(True), w.covered_optimally.is_(False))).label("late"),
                   count(and_(closed, w.covered.is_(False))).label("missed"),
                   count(and_(w.dosing_session_id.is_not(None), ~closed)).label("still_open"),
                   count(w.dosing_session_id.is_(None)).label("not_worked_out"))
            .select_from(DosingSession).join(cohort, cohort.c.course_id == DosingSession.course_id)
            .outerjoin(w, current).where(DosingSession.status == SIGNED).group_by(cohort.c.protocol_id))


def _attendance_stmt(cohort: Subquery) -> Select:
    a = Appointment
    return (select(cohort.c.protocol_id, func.count(a.id).label("expected"),
                   func.sum(case((a.outcome == coverage.NO_SHOW, 1), else_=0)).label("no_shows"))
            .join(cohort, cohort.c.course_id == a.course_id)
            .where(a.kind != "dosing", a.outcome.in_(EXPECTED)).group_by(cohort.c.protocol_id))


def _rems_stmt(cohort: Subquery, versions: list[int], today: date) -> Select:
    """Per protocol: the REMS forms not filed, and those overdue (a form is due DUE_AFTER after its
    session's clinic day: overdue once that day is past, so for sessions ended before the clinic
    midnight starting the day DUE_AFTER before today)."""
    d = DosingSession
    overdue_before, _ = clinic_day_span(today - DUE_AFTER)
    return (select(cohort.c.protocol_id, func.count(d.id).label("outstanding"),
                   func.sum(case((d.ended_at < overdue_before, 1), else_=0)).label("overdue"))
            .join(cohort, cohort.c.course_id == d.course_id)
            .where(d.status == SIGNED, d.rems_submitted_on.is_(None), cohort.c.version_id.in_(versions))
            .group_by(cohort.c.protocol_id))


def fetch_outcomes(filters: Filters, versions: list[ProtocolVersion], *, now: datetime, today: date,
                   min_group: int = MIN_GROUP) -> Outcomes:
    """The page's figures (`versions`: every registered protocol version): a fixed number of statements,
    whatever the number of courses. Rows that would show, or let a subtraction show, a figure about fewer
    than `min_group` patients are hidden (domain.disclosure)."""
    zone = clinic_zone().key
    names = protocol_names(versions)
    cohort = _cohort(filters, zone)
    course_phq = _course_phq(cohort)
    members = [Member(*row) for row in db.session.execute(
        select(cohort.c.course_id, cohort.c.patient_id, cohort.c.protocol_id, cohort.c.therapist_id,
               course_phq.c.course_id.is_not(None))
        .outerjoin(course_phq, course_phq.c.course_id == cohort.c.course_id).order_by(cohort.c.course_id))]
    phq, hours = _by_grouping(_phq_stmt(course_phq)), _by_grouping(_hours_stmt(cohort))
    windows = {r.protocol_id: r for r in db.session.execute(_windows_stmt(cohort, now, zone))}
    attendance = {r.protocol_id: r for r in db.session.execute(_attendance_stmt(cohort))}
    rems = {r.protocol_id: r for r in db.session.execute(_rems_stmt(cohort, rems_versions(versions), today))}
    therapists = _therapist_names({m.therapist_id for m in members})
    tree = tree_of(members, names, therapists)
    hidden = hidden_lines(members, tree, min_group)
    counted = _courses_by_group(members)

    def phq_row(line: str, key: str, label: str, grouping: str) -> PhqRow:
        return _phq_row(key, label, counted[grouping][key], phq[grouping].get(key), hidden.get(line, ""))
    sessions = [_protocol_row(p, names.get(p, p), counted["protocol"][p], hours["protocol"].get(p), windows.get(p),
                              attendance.get(p), rems.get(p)) for p in tree]
    return Outcomes(
        filters=filters, min_group=min_group, courses=len(members),
        patients=len({m.patient_id for m in members}),
        overall_phq=phq_row("phq:all", ALL, "Every protocol", ALL),
        phq_by_protocol=[phq_row(f"phq:protocol:{p}", p, names.get(p, p), "protocol") for p in tree],
        phq_therapists={p: _rows_of(of, phq_row) for p, of in tree.items()},
        overall=_hide(_overall(sessions, len(members), hours[ALL].get(ALL)), hidden.get("sessions:all", "")),
        by_protocol=[_hide(r, hidden.get(f"sessions:protocol:{r.key}", "")) for r in sessions])


def _courses_by_group(members: list[Member]) -> dict[str, Counter]:
    """Each grouping's courses per group, keyed as the SQL groups them."""
    return {ALL: Counter({ALL: len(members)}), "protocol": Counter(m.protocol_id for m in members),
            "therapist": Counter(therapist_key(m.protocol_id, m.therapist_id) for m in members)}


def _rows_of(therapists: list[tuple[str, str]], phq_row) -> list[PhqRow]:
    """A protocol's therapists' PHQ-9 rows, from its (therapist_key, name) pairs."""
    return [phq_row(f"phq:therapist:{key}", key, name, "therapist") for key, name in therapists]


def _hide(row: ProtocolRow, why: str) -> ProtocolRow:
    return ProtocolRow(row.key, row.label, row.courses, hidden=why) if why else row


def _by_grouping(stmt) -> dict[str, dict[str, object]]:
    """The rows of a UNION ALL of groupings: {grouping: {group: row}}."""
    found: dict[str, dict[str, object]] = {ALL: {}, "protocol": {}, "therapist": {}}
    for row in db.session.execute(stmt):
        found[row.grouping][row.grp] = row
    return found


def _therapist_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(sorted(ids))))}


def _median(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _phq_row(key: str, label: str, courses: int, found, why: str) -> PhqRow:
    """A group's PHQ-9 figures; none of them when the row is hidden (`why`)."""
    if why or found is None:
        return PhqRow(key, label, courses, hidden=why or disclosure.SMALL)
    return PhqRow(key, label, courses, measured=found.measured, response_measured=found.response_measured or 0,
                  responders=found.responders or 0, remitters=found.remitters or 0,
                  median_change=_median(found.median))


def _protocol_row(key: str, label: str, courses: int, hours, windows, attendance, rems) -> ProtocolRow:
    return ProtocolRow(
        key, label, courses, doses=hours.doses if hours else 0, followed=hours.counted if hours else 0,
        median_hours=_median(hours.median) if hours else None,
        optimal=_int(windows, "optimal"), late=_int(windows, "late"), missed=_int(windows, "missed"),
        still_open=_int(windows, "still_open"), not_worked_out=_int(windows, "not_worked_out"),
        expected=_int(attendance, "expected"), no_shows=_int(attendance, "no_shows"),
        rems_outstanding=_int(rems, "outstanding"), rems_overdue=_int(rems, "overdue"))


def _int(row, name: str) -> int:
    return int(getattr(row, name) or 0) if row is not None else 0


def _overall(rows: list[ProtocolRow], courses: int, hours) -> ProtocolRow:
    """Every protocol together: the counts summed over every protocol's row (a hidden group's too: its
    figures count in the total, never shown on their own), the median hours over every dose."""
    summed = {name: sum(getattr(r, name) for r in rows) for name in
              ("optimal", "late", "missed", "still_open", "not_worked_out", "expected", "no_shows",
               "rems_outstanding", "rems_overdue")}
    return ProtocolRow(ALL, "Every protocol", courses, doses=hours.doses if hours else 0,
                       followed=hours.counted if hours else 0,
                       median_hours=_median(hours.median) if hours else None, **summed)
