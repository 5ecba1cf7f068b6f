"""Integration windows kept in the database, so lists read the open ones instead of working out
every course's history on every request.

The table is derived: `course_windows` over a course's signed dosing sessions and integration
bookings stays the truth. All of a course's rows are rewritten when a transaction that signed
one of its dosing sessions, wrote one of its integration sessions, or moved or cancelled one of
its planned doses (whose window a session booked for it counts for) commits. A signed
session's window never goes away, so rows are replaced, never removed.

A row keeps the integration sessions that count for its window and what became of them (held,
or booked), not whether they cover it: that turns on the time of asking (a booking's time comes,
and with no outcome recorded the window is unconfirmed), so every read decides it by the one rule
(domain/coverage.py). `covered` says only whether held sessions cover it, which no clock changes.

Rows are trusted only while the clinic's time zone, the course's protocol version and the coverage
rule are the ones they were worked out under. A course with a recent signed session and no row (records
from before this table) or a stale one is worked out as before, so a read never depends on
the table being complete; `flask windows rebuild` fills it for every course.

Concurrent writers on one course take the course lock first (courses.services.lock_course), so the
second one's rewrite reads what the first one committed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

import click
from flask.cli import AppGroup
from sqlalchemy import JSON, ColumnElement, ForeignKey, String, and_, inspect, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..courses.models import TreatmentCourse
from ..db.types import UTCDateTime, utcnow
from ..domain.phases import Phase
from ..domain.coverage import RULE_VERSION, IntegrationSession, WindowCoverage, decide
from ..domain.windows import IntegrationWindow, WindowStatus, status_at
from ..extensions import db
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from ..bookings.booking import integration_sessions_by_course
from ..bookings.models import Appointment
from ..db.clinic_time import clinic_zone
from .dose_windows import fetch_pinned_windows
from .models import SIGNED, DosingSession
from .windows import WindowSummary, course_windows, summary, window_assignments

#: session.info key: ids of courses whose windows this transaction's writes changed
CHANGED = "integration_windows.changed"
#: the phases of a course that has ended
ENDED_PHASES = tuple(p.value for p in Phase if p.ended)
#: courses rewritten per statement when the whole table is rebuilt
REBUILD_CHUNK = 500


class StoredWindow(db.Model):
    """One signed dosing session's integration window and the integration sessions that count for it."""

    __tablename__ = "integration_windows"

    dosing_session_id: Mapped[int] = mapped_column(ForeignKey("dosing_sessions.id"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    #: what the row was worked out under: not trusted once either differs
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    zone: Mapped[str] = mapped_column(String(64))
    opens: Mapped[datetime] = mapped_column(UTCDateTime)
    optimal_until: Mapped[datetime] = mapped_column(UTCDateTime)
    closes: Mapped[datetime] = mapped_column(UTCDateTime)
    #: held sessions cover it (no clock changes that; a correction of an outcome rewrites the row)
    covered: Mapped[bool]
    covered_optimally: Mapped[bool]
    #: the sessions that count for it, [{"starts_at": ISO 8601 UTC, "ends_at": the same (rule 4 on),
    #: "outcome": "attended" or "booked"}]
    sessions: Mapped[list | None] = mapped_column(JSON)
    #: domain.coverage.RULE_VERSION when the row was worked out (migration 0028: rows before it are 1)
    rule_version: Mapped[int] = mapped_column(server_default=text("1"))


@dataclass(frozen=True)
class OpenWindow:
    """A window that has not closed yet, as a list shows it."""

    course_id: int
    dosing_session_id: int
    sequence: int
    window: IntegrationWindow
    status: WindowStatus
    coverage: WindowCoverage

    @property
    def covered(self) -> bool:
        return self.coverage.covered


def longest_window(versions: list[ProtocolVersion] | None = None) -> timedelta:
    """The longest any protocol version in use keeps a window open (plus a day for clock
    changes); `versions`: every registered version, when the caller has read them."""
    if versions is None:
        versions = db.session.scalars(select(ProtocolVersion)).all()
    spans = [protocol_of(v).integration.window.closes_after.approximate for v in versions]
    return max(spans, default=timedelta(0)) + timedelta(days=1)


def open_windows(courses: ColumnElement[bool], now: datetime, *, uncovered_only: bool = False,
                 versions: list[ProtocolVersion] | None = None) -> dict[int, list[OpenWindow]]:
    """Every window not yet closed at `now` of the courses `courses` selects (a condition on
    TreatmentCourse), by course id, in sequence order: two queries when the table is current.
    uncovered_only: only the windows that need a booking (what a worklist fills).
    versions: every registered protocol version, when the caller has read them.

    Only dosing sessions recent enough for their window to be open are read; a course with one
    whose row is missing or stale is worked out from all its sessions instead."""
    zone = clinic_zone()
    if versions is None:
        versions = db.session.scalars(select(ProtocolVersion)).all()
    per_window = {v.id: protocol_of(v).integration.min_sessions_per_dosing for v in versions}
    stored = db.session.execute(
        select(DosingSession.id, DosingSession.course_id, DosingSession.sequence, StoredWindow.zone,
               StoredWindow.protocol_version_id, TreatmentCourse.protocol_version_id.label("course_version"),
               StoredWindow.rule_version, StoredWindow.opens, StoredWindow.optimal_until, StoredWindow.closes,
               StoredWindow.sessions)
        .join(TreatmentCourse, TreatmentCourse.id == DosingSession.course_id)
        .outerjoin(StoredWindow, StoredWindow.dosing_session_id == DosingSession.id)
        .where(courses, DosingSession.status == SIGNED, DosingSession.ended_at >= now - longest_window(versions),
               # held sessions never stop covering: a window they cover is never one to book
               or_(StoredWindow.dosing_session_id.is_(None), StoredWindow.zone != zone.key,
                   StoredWindow.rule_version != RULE_VERSION,
                   and_(StoredWindow.closes > now, StoredWindow.covered.is_(False)) if uncovered_only
                   else StoredWindow.closes > now,
                   StoredWindow.protocol_version_id != TreatmentCourse.protocol_version_id))).all()
    # Sorted here: asked of SQL, SQLite walks every dosing session in (course, sequence) order
    # instead of the recent ones by their end
    stored.sort(key=lambda r: (r.course_id, r.sequence))
    stale = {r.course_id for r in stored if r.zone != zone.key or r.protocol_version_id != r.course_version
             or r.rule_version != RULE_VERSION}
    found: dict[int, list[OpenWindow]] = {}
    for r in stored:
        if r.course_id in stale or r.closes <= now:
            continue
        window = IntegrationWindow(key=r.id, opens=r.opens, optimal_until=r.optimal_until, closes=r.closes)
        coverage = decide(window, stored_sessions(r.sessions), per_window=per_window[r.course_version], now=now)
        if coverage.needs_booking or not uncovered_only:
            found.setdefault(r.course_id, []).append(
                OpenWindow(r.course_id, r.id, r.sequence, window, status_at(window, now), coverage))
    if stale:
        found.update(_worked_out(stale, now, uncovered_only))
    return found


def stored_sessions(stored: list | None) -> tuple[IntegrationSession, ...]:
    return tuple(IntegrationSession(datetime.fromisoformat(s["starts_at"]), s["outcome"],
                                    ends_at=datetime.fromisoformat(s["ends_at"])) for s in stored or ())


def _worked_out(course_ids: set[int], now: datetime, uncovered_only: bool) -> dict[int, list[OpenWindow]]:
    from .services import fetch_signed_sessions_by_course
    ids = sorted(course_ids)
    sessions, integration = fetch_signed_sessions_by_course(ids), integration_sessions_by_course(ids)
    pinned = fetch_pinned_windows(ids)
    found: dict[int, list[OpenWindow]] = {}
    for course in db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.id.in_(ids))):
        rows = [OpenWindow(course.id, r.session.id, r.session.sequence, r.window, r.status, r.coverage)
                for r in course_windows(course, sessions.get(course.id, []), integration.get(course.id, []), now,
                                        pinned.get(course.id, []))
                if r.status is not WindowStatus.CLOSED and (r.needs_booking or not uncovered_only)]
        if rows:
            found[course.id] = rows
    return found


def rewrite(course_ids: set[int] | list[int], session: Session | None = None) -> int:
    """Work out the windows of these courses again and replace their rows, in `session` (the
    app's by default); the number written. A course with no signed dosing session has no window
    (and so no row to replace): its signed sessions, read first, are all that is read of it (a
    dose planned, booked or moved before the first is signed, most of the commits that get here)."""
    from .services import fetch_signed_sessions_by_course
    session = session or db.session
    sessions = fetch_signed_sessions_by_course(sorted(course_ids), session=session)
    ids = sorted(sessions)
    if not ids:
        return 0
    zone = clinic_zone()
    courses = session.execute(select(TreatmentCourse.id, ProtocolVersion).join(
        ProtocolVersion, ProtocolVersion.id == TreatmentCourse.protocol_version_id)
        .where(TreatmentCourse.id.in_(ids))).all()
    integration = integration_sessions_by_course(ids, session=session)
    pinned = fetch_pinned_windows(ids, session=session)
    rows = []
    for course_id, version in courses:
        rule = protocol_of(version).integration
        for a in window_assignments(rule, sessions.get(course_id, []), integration.get(course_id, []), zone,
                                    pinned.get(course_id, [])):
            # whether held sessions cover it, which no clock changes (`now` cannot matter to it)
            held = decide(a.window, a.sessions, per_window=rule.min_sessions_per_dosing, now=utcnow())
            rows.append({"dosing_session_id": a.session.id, "course_id": course_id, "protocol_version_id": version.id,
                         "zone": zone.key, "opens": a.window.opens, "optimal_until": a.window.optimal_until,
                         "closes": a.window.closes, "covered": held.covered,
                         "covered_optimally": held.covered and held.optimal, "rule_version": RULE_VERSION,
                         "sessions": [{"starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
                                       "outcome": s.outcome} for s in a.sessions]})
    if rows:
        session.execute(_upsert(session), rows)
    return len(rows)


def rebuild() -> int:
    """Rewrite every course's windows (after an upgrade, a change of the clinic's time zone, or
    any change made behind the app's back), a chunk of courses per transaction: each chunk's
    courses are locked first, in id order as every writer locks them, so bookings wait at most
    one chunk and the rewrite reads what they committed."""
    ids = db.session.scalars(select(TreatmentCourse.id).order_by(TreatmentCourse.id)).all()
    written = 0
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start:start + REBUILD_CHUNK]
        db.session.execute(select(TreatmentCourse.id).where(TreatmentCourse.id.in_(chunk))
                           .order_by(TreatmentCourse.id).with_for_update(key_share=True))
        written += rewrite(chunk)
        db.session.commit()
    return written


def _upsert(session: Session):
    """Insert, or replace the row of the same dosing session: two rewrites of one course never
    collide (the course lock makes them take turns; this keeps a path that forgot it from failing)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(StoredWindow.__table__)
    return statement.on_conflict_do_update(
        index_elements=["dosing_session_id"],
        set_={c.name: statement.excluded[c.name] for c in StoredWindow.__table__.columns if not c.primary_key})


def _changed_course(obj) -> int | None:
    """The course whose windows a written object changes: a dosing session being signed (signed
    ones never change again, and only signed ones have windows), an integration session, or a
    not-yet-signed dose (or its booking) moved or cancelled: a session booked for that dose counts
    for its window only while the window holds it, and a real window may take it otherwise."""
    if isinstance(obj, DosingSession) and any(inspect(obj).attrs[name].history.has_changes()
                                              for name in ("status", "planned_start")):
        return obj.course_id
    if isinstance(obj, Appointment) and obj.kind in ("integration", "dosing"):
        return obj.course_id
    return None


def note_changed_courses(session: Session, flush_context) -> None:
    # After the flush the new, dirty and deleted sets still hold what was just written.
    ids = {_changed_course(obj) for obj in chain(session.new, session.dirty, session.deleted)} - {None}
    if ids:
        session.info.setdefault(CHANGED, set()).update(ids)


def forget_changed_courses(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(CHANGED, None)


def rewrite_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the real commit rewrites
    session.flush()
    ids = session.info.pop(CHANGED, None)
    if ids:
        rewrite(ids, session)


windows_cli = AppGroup("windows", help="The stored integration windows.")


@windows_cli.command("rebuild")
def rebuild_command():
    """Work out every course's integration windows again and store them."""
    written = rebuild()
    click.echo(f"{written} integration windows stored.")


def window_summaries(course_ids: list[int], now, versions=None) -> dict[int, WindowSummary | None]:
    """For each course (by id): its most urgent integration-window status, in a few words.

    Read from the stored windows, open ones only: a constant number of queries whatever the
    number of courses or the length of their histories (a list page must not grow with the data).
    `versions`: every registered protocol version, when the caller has read them.
    """
    # an ended course's windows closed with it (experience.windows.course_windows): none is urgent
    live = and_(TreatmentCourse.id.in_(course_ids), TreatmentCourse.phase.not_in(ENDED_PHASES))
    windows = open_windows(live, now, versions=versions) if course_ids else {}
    return {course_id: summary(windows.get(course_id, [])) for course_id in course_ids}
