"""Integration sessions after the series, per course: planned from the protocol's
`integration.after_series` once the series has ended (the course entered integration), counted from
its last signed dose, covered by the one coverage rule, flagged on the staff worklist when nothing is
booked and the period is near (domain/after_series.py holds the rules).

Nothing is stored: the plan follows from the signed doses, the phase history and the integration
sessions, so a dose signed late or a booking moved changes it at once, like the windows.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from ..courses.models import PhaseTransition, TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.after_series import KINDS as AFTER_SERIES_KINDS
from ..domain.after_series import (NEAR, AfterSeriesSession, counted_for_windows, cover_after_series, flagged,
                                   horizon, schedule, status_at)
from ..domain.coverage import IntegrationSession, WindowCoverage
from ..domain.phases import Phase
from ..domain.protocols import AfterSeries, Integration
from ..domain.windows import IntegrationWindow, WindowStatus
from ..experience.dose_windows import fetch_pinned_windows
from ..experience.models import SIGNED, DosingSession
from ..experience.window_store import ENDED_PHASES, open_windows
from ..experience.windows import WindowSummary, pinned_windows, summary_of, window_assignments
from ..extensions import db
from ..bookings.booking import WINDOW_KINDS, integration_sessions, integration_sessions_by_course
from ..bookings.models import Appointment
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of

#: the phases after the series in which its sessions are still to be held (an ended course holds none)
AFTER_THE_SERIES = (Phase.INTEGRATION.value, Phase.MAINTENANCE.value)


@dataclass(frozen=True)
class AfterSeriesRow:
    session: AfterSeriesSession
    status: WindowStatus
    coverage: WindowCoverage
    #: nothing held or booked, and its period open or near: on the staff worklist
    flagged: bool
    #: the course ended before its period closed: nothing is asked for it any more
    closed_early: bool = False

    @property
    def needs_booking(self) -> bool:
        return self.coverage.needs_booking and not self.closed_early


@dataclass(frozen=True)
class AfterSeriesPlan:
    """A course's sessions after the series (none until the series has ended)."""

    rule: AfterSeries
    #: the series' last signed dose, which they are counted from (None: the series has not ended)
    last_dose: object | None
    rows: tuple[AfterSeriesRow, ...]
    #: when the course ended (completed or discontinued), if it has: nothing after it is asked for
    ended_at: datetime | None = None

    def ahead(self) -> tuple[AfterSeriesRow, ...]:
        """The sessions whose period has not closed: what ending the course leaves unheld."""
        return tuple(r for r in self.rows if r.status is not WindowStatus.CLOSED and not r.coverage.covered)


def after_series_sessions(appointments: list) -> list[IntegrationSession]:
    """The sessions among a course's appointments (already read) that count after the series
    (domain.after_series.KINDS), as course_plan reads them."""
    return integration_sessions(appointments, AFTER_SERIES_KINDS)


def fetch_after_series_sessions(course_id: int) -> list[IntegrationSession]:
    """The same, read from the database."""
    return integration_sessions_by_course([course_id], kinds=AFTER_SERIES_KINDS).get(course_id, [])


def last_series_dose(signed: list, maintenance_since: datetime | None):
    """The series' last signed dose: the latest to end before the course entered maintenance (a
    booster is no part of the series). `signed`: dosing sessions or rows with status and ended_at."""
    doses = [s for s in signed if s.status == SIGNED and s.ended_at is not None
             and (maintenance_since is None or s.ended_at < maintenance_since)]
    return max(doses, key=lambda s: s.ended_at, default=None)


def course_plan(course: TreatmentCourse, sessions: list, integration: list[IntegrationSession],
                now: datetime) -> AfterSeriesPlan:
    """The course's sessions after the series at `now`. `sessions`: its dosing sessions (signed ones
    are read); `integration`: its sessions of domain.after_series.KINDS (integration sessions and
    follow-ups), any outcome."""
    rule = protocol_of(course.protocol_version).integration
    moments = {t.to_phase: t.occurred_at for t in course.transitions}  # in order: the latest of each
    last = last_series_dose(sessions, moments.get(Phase.MAINTENANCE.value)) \
        if Phase.INTEGRATION.value in moments else None
    rows = rows_for(rule, last.ended_at, sessions, integration, now,
                    pinned_windows(course.id, sessions, integration)) if last is not None else ()
    ended = course.phase_since if course.current_phase.ended else None
    if ended is not None:
        rows = tuple(replace(r, status=WindowStatus.CLOSED, flagged=False, closed_early=True)
                     if r.session.closes > ended else r for r in rows)
    return AfterSeriesPlan(rule.after_series, last, rows, ended)


def rows_for(rule: Integration, anchor: datetime, signed: list, integration: list[IntegrationSession],
             now: datetime, provisional: list[IntegrationWindow] = ()) -> tuple[AfterSeriesRow, ...]:
    """Each session after a series that ended at `anchor`, with its status and coverage at `now`:
    the integration sessions the dosing windows rest on are left to them (a follow-up counts for
    no dose's window). `integration`: the course's sessions of domain.after_series.KINDS.
    `provisional`: the windows of planned doses sessions were booked for
    (experience.windows.pinned_windows)."""
    zone = clinic_zone()
    planned = schedule(anchor, rule.after_series, zone)
    if not planned:
        return ()
    windows_count = [s for s in integration if s.kind in WINDOW_KINDS]
    assignments = window_assignments(rule, signed, windows_count, zone, provisional)
    taken = counted_for_windows((a.sessions for a in assignments), rule.min_sessions_per_dosing)
    coverage = cover_after_series(planned, integration, taken, now)
    return tuple(AfterSeriesRow(p, status_at(p, now), coverage[p.number], flagged(p, coverage[p.number], now))
                 for p in planned)


def flagged_by_course(courses: ColumnElement[bool], now: datetime,
                      versions: list[ProtocolVersion]) -> dict[int, list[AfterSeriesRow]]:
    """The sessions after the series to flag (nothing booked, period open or near) of the courses
    `courses` selects, by course id (after_series_by_course)."""
    found = {course_id: [r for r in rows if r.flagged]
             for course_id, rows in after_series_by_course(courses, now, versions).items()}
    return {course_id: rows for course_id, rows in found.items() if rows}


def after_series_by_course(courses: ColumnElement[bool], now: datetime,
                           versions: list[ProtocolVersion]) -> dict[int, list[AfterSeriesRow]]:
    """The sessions after the series of the courses `courses` selects whose series ended recently
    enough for one of them to be still open or near, by course id: two queries, however many
    courses (none when no protocol asks for sessions after the series).

    Only courses after their series whose last session's period may still be open are read
    (domain.after_series.horizon): their signed doses, then their sessions of KINDS."""
    rules = {v.id: rule for v in versions if (rule := protocol_of(v).integration).after_series.sessions}
    if not rules:
        return {}
    recent, maintenance = _recent_series(courses, rules, now), _maintenance()
    doses: dict[int, list] = {}
    for row in db.session.execute(
            select(DosingSession.id, DosingSession.course_id, DosingSession.sequence, DosingSession.status,
                   DosingSession.ended_at, TreatmentCourse.protocol_version_id, maintenance.c.since)
            .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
            .outerjoin(maintenance, maintenance.c.course_id == DosingSession.course_id)
            .where(DosingSession.course_id.in_(recent), DosingSession.status == SIGNED)
            .order_by(DosingSession.course_id, DosingSession.sequence)):
        doses.setdefault(row.course_id, []).append(row)
    integration, pinned = _integration_of(recent, list(doses))
    found = {}
    for course_id, signed in doses.items():
        last = last_series_dose(signed, signed[0].since)
        if last is not None:
            found[course_id] = list(rows_for(rules[signed[0].protocol_version_id], last.ended_at, signed,
                                             integration.get(course_id, []), now, pinned.get(course_id, [])))
    return found


def _integration_of(recent, course_ids: list[int]) -> tuple[dict[int, list[IntegrationSession]],
                                                           dict[int, list[IntegrationWindow]]]:
    """The sessions of domain.after_series.KINDS of the courses `recent` selects, by course id; and
    the windows of the planned doses of `course_ids` that sessions were booked for (none read when
    none was)."""
    integration: dict[int, list[IntegrationSession]] = {}
    for course_id, starts_at, ends_at, status, outcome, for_dose, kind in db.session.execute(
            select(Appointment.course_id, Appointment.starts_at, Appointment.ends_at, Appointment.status,
                   Appointment.outcome, Appointment.booked_for_dose_id, Appointment.kind)
            .where(Appointment.course_id.in_(recent), Appointment.kind.in_(AFTER_SERIES_KINDS))):
        integration.setdefault(course_id, []).append(
            IntegrationSession(starts_at, outcome or status, for_dose, ends_at=ends_at, kind=kind))
    pinned = fetch_pinned_windows(course_ids) if any(
        s.for_window is not None for sessions in integration.values() for s in sessions) else {}
    return integration, pinned


def _maintenance():
    """When each course (last) entered maintenance: its doses from then on are boosters."""
    return (select(PhaseTransition.course_id, func.max(PhaseTransition.occurred_at).label("since"))
            .where(PhaseTransition.to_phase == Phase.MAINTENANCE.value)
            .group_by(PhaseTransition.course_id).subquery("maintenance"))


def _recent_series(courses: ColumnElement[bool], rules: dict[int, Integration], now: datetime):
    """The ids (a subquery) of the selected courses after their series whose sessions after it may
    not all have closed: the series' last signed dose ended within the longest horizon."""
    oldest = now - max(horizon(rule.after_series) for rule in rules.values())
    maintenance = _maintenance()
    return (select(DosingSession.course_id)
            .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
            .outerjoin(maintenance, maintenance.c.course_id == DosingSession.course_id)
            .where(courses, TreatmentCourse.phase.in_(AFTER_THE_SERIES),
                   TreatmentCourse.protocol_version_id.in_(rules), DosingSession.status == SIGNED,
                   or_(maintenance.c.since.is_(None), DosingSession.ended_at < maintenance.c.since))
            .group_by(DosingSession.course_id)
            .having(func.max(DosingSession.ended_at) >= oldest))


def course_summaries(course_ids: list[int], now: datetime,
                     versions: list[ProtocolVersion] | None = None) -> dict[int, WindowSummary | None]:
    """For each course (by id): its most urgent integration window or session after the series, in a
    few words (experience.windows.summary), the caseload's and the patient page's "Integration
    window" column. Sessions after the series count once their period is open or near (as the
    staff worklist flags them), and say so: "After the series: open, booked". A constant number of
    queries whatever the number of courses."""
    if not course_ids:
        return {}
    if versions is None:
        versions = db.session.scalars(select(ProtocolVersion)).all()
    # an ended course's windows closed with it (experience.windows.course_windows): none is urgent
    live = and_(TreatmentCourse.id.in_(course_ids), TreatmentCourse.phase.not_in(ENDED_PHASES))
    windows = open_windows(live, now, versions=versions)
    after = after_series_by_course(live, now, versions)
    found = {}
    for course_id in course_ids:
        near = [r for r in after.get(course_id, []) if r.session.opens - NEAR <= now]
        said = summary_of(windows.get(course_id, []) + near)
        if said is not None and isinstance(said[0], AfterSeriesRow):
            said = said[0], replace(said[1], after_series=True)
        found[course_id] = said[1] if said else None
    return found
