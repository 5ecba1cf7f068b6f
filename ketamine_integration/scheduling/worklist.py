"""The staff worklist: integration windows and sessions after the series that need a booking, and
bookings to put right (in time off, run over by a dosing session, or left outside the window of the
dose they were booked for), most urgent first (the sessions whose outcome nobody recorded:
scheduling/attendance.py)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased, joinedload

from ..courses.models import TreatmentCourse
from ..domain.coverage import OUTCOMES
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..db.clinic_time import format_local
from ..experience.models import SIGNED, DosingSession
from ..experience.provisional import stranded_bookings
from ..experience.window_store import OpenWindow, open_windows
from ..protocols.models import ProtocolVersion
from ..extensions import db
from ..bookings.availability import best_moves
from ..bookings.models import ATTENDED, BOOKED, Appointment, TimeOff
from ..busy_times.models import ImportedBusy, in_current_import
from .after_series import AfterSeriesRow, flagged_by_course

CLOSING, AWAY, OVERLAPPED, MISSED, UNPLANNED = "closing", "away", "overlapped", "missed", "unplanned"
#: a booking made for a provisional window that its dose's window now leaves out (issue 20, point 1):
#: the dose was signed, moved, or cancelled
OUTSIDE_REAL, DOSE_MOVED, DOSE_CANCELLED = "outside_real", "dose_moved", "dose_cancelled"
AFTER_SERIES = "after_series"
REASONS = {CLOSING: "Window closes within 48 hours and nothing is booked",
           AWAY: "Booked while the therapist is away: move or reassign",
           OUTSIDE_REAL: "Booked for a provisional window, now outside the real one",
           DOSE_MOVED: "Booked for a provisional window; the dose moved and this is now outside its window",
           DOSE_CANCELLED: "Booked for a provisional window; the dose was cancelled",
           OVERLAPPED: "A signed dosing session's recorded times ran over this booking: record what happened to it",
           MISSED: "Integration session cancelled or missed; the window is still open",
           UNPLANNED: "Dosing session with no integration session planned",
           AFTER_SERIES: "Session after the series due, nothing booked"}
ORDER = {CLOSING: 0, AWAY: 1, OUTSIDE_REAL: 1, DOSE_MOVED: 1, DOSE_CANCELLED: 1, OVERLAPPED: 2, MISSED: 3,
         UNPLANNED: 4, AFTER_SERIES: 5}
#: the kinds that are bookings to move (the rest: windows to fill, outcomes to record)
TO_MOVE = (AWAY, OUTSIDE_REAL, DOSE_MOVED, DOSE_CANCELLED)


@dataclass(frozen=True)
class WorkItem:
    kind: str
    course: TreatmentCourse
    #: when it must be solved by: the window's close, or the clashing session's start
    due: datetime
    detail: str
    window: OpenWindow | None = None
    #: the booking to put right (an overlapped booking, or one outside its dose's window)
    appointment: Appointment | None = None
    #: where to move a booking outside its dose's window: the best free time in that window
    move_to: datetime | None = None
    #: the session after the series to book
    after_series: AfterSeriesRow | None = None

    @property
    def reason(self) -> str:
        return REASONS[self.kind]

    @property
    def action(self) -> tuple[str, str]:
        """(the button's words, the course page's section it opens): a booking's outcome is recorded
        under the windows' "Sessions booked", a dosing session's by recording it."""
        if self.kind == OVERLAPPED:
            return "Record the outcome", "dosing" if self.appointment.kind == "dosing" else "windows"
        if self.kind in (OUTSIDE_REAL, DOSE_MOVED, DOSE_CANCELLED):
            return "Open the course", "windows"
        return "Find a slot", "after-series" if self.kind == AFTER_SERIES else "windows"

    @property
    def ends_what(self) -> str:
        """What `due` is, in words: a window's or a period's close, or a booking's start."""
        return "window closes" if self.window else "period closes" if self.after_series else "session at"


def worklist(now: datetime) -> list[WorkItem]:
    """Every not-yet-closed window, and every session after the series whose period is open or near,
    that needs a booking (nothing held or booked would cover it: domain/coverage.py), said why; a
    fixed number of queries.

    Windows come from the stored table (experience/window_store.py): only the open ones are
    read, not the thousands of courses in a clinic's history."""
    live = _live()
    versions = db.session.scalars(select(ProtocolVersion)).all()
    due = open_windows(live, now, uncovered_only=True, versions=versions)
    after = flagged_by_course(live, now, versions)
    ids = sorted(set(due) | set(after))
    courses = {c.id: c for c in db.session.scalars(
        select(TreatmentCourse).where(TreatmentCourse.id.in_(ids))
        .options(joinedload(TreatmentCourse.therapist), joinedload(TreatmentCourse.patient)))} if ids else {}
    items = _window_items(due, courses, _missed_by_course(ids)) + _after_series_items(after, courses)
    items += _booked_while_away(now)
    items += _outside_their_window(now)
    items += _overlapped_by_dosing(now)
    return sorted(items, key=lambda i: (ORDER[i.kind], i.due))


@dataclass(frozen=True)
class PlanReview:
    """A live course whose treatment plan is missing or due for review: the therapist's to do, listed
    so the schedule makes room for it (what the plan says is not shown here)."""

    course: TreatmentCourse
    #: "no plan", or "plan review due: <why> (<date>)"
    status: str


#: finds, per course id (with its ProtocolVersion), the words for a plan missing or due, else None;
#: the plans package (above this one) is connected in create_app
_plan_review_finders: list[Callable[[dict[int, ProtocolVersion], date], dict[int, str | None]]] = []


def find_plan_reviews_with(finder: Callable[[dict[int, ProtocolVersion], date], dict[int, str | None]]) -> None:
    """Ask `finder` which courses' plans are missing or due (once, however many apps are made)."""
    _plan_review_finders[:] = [finder]


def plan_reviews(now: datetime, today: date) -> list[PlanReview]:
    """Live courses with no signed plan or a plan review due, by patient name: a fixed number of queries."""
    if not _plan_review_finders:
        return []
    courses = db.session.scalars(select(TreatmentCourse).where(_live()).options(
        joinedload(TreatmentCourse.therapist), joinedload(TreatmentCourse.patient))).all()
    versions = {v.id: v for v in db.session.scalars(select(ProtocolVersion))}
    found = _plan_review_finders[0]({c.id: versions[c.protocol_version_id] for c in courses}, today)
    return sorted((PlanReview(c, found[c.id]) for c in courses if found.get(c.id)),
                  key=lambda r: (r.course.patient.family_name, r.course.id))


def _live():
    return TreatmentCourse.phase.in_([Phase.EXPERIENCE.value, Phase.INTEGRATION.value, Phase.MAINTENANCE.value])


def closing_windows(now: datetime) -> int:
    """How many windows the worklist lists as closing within 48 hours with nothing booked (its first
    rows): the home page's count and the menu's badge for whoever runs the schedule; two queries
    when the stored windows are current."""
    due = open_windows(_live(), now, uncovered_only=True)
    return sum(w.status is WindowStatus.CLOSING_SOON for windows in due.values() for w in windows)


def _window_items(due: dict[int, list[OpenWindow]], courses: dict[int, TreatmentCourse],
                  missed: dict[int, list[Appointment]]) -> list[WorkItem]:
    items = []
    for course_id, windows in due.items():
        for open_window in windows:
            lost = [a for a in missed.get(course_id, []) if open_window.window.contains(a.starts_at)]
            kind = CLOSING if open_window.status is WindowStatus.CLOSING_SOON else MISSED if lost else UNPLANNED
            detail = f"dose #{open_window.sequence}: {open_window.status.label}" + (
                f", {OUTCOMES.get(lost[-1].attendance, lost[-1].attendance).lower()}" if kind == MISSED else "")
            items.append(WorkItem(kind, courses[course_id], open_window.window.closes, detail, open_window))
    return items


def _after_series_items(after: dict[int, list[AfterSeriesRow]], courses: dict[int, TreatmentCourse]) -> list[WorkItem]:
    """Sessions after the series with nothing held or booked whose period is open or opens within a week."""
    return [WorkItem(AFTER_SERIES, courses[course_id], row.session.closes,
                     f"session {row.session.number} after the series, due {row.session.due:%b %d} (counts "
                     f"{row.session.first_day:%b %d} to {row.session.last_day:%b %d}): {row.status.label}",
                     after_series=row)
            for course_id, rows in after.items() for row in rows]


def _outside_their_window(now: datetime) -> list[WorkItem]:
    """Bookings made for a provisional window that their dose's window now leaves out, each with the
    best free time of its therapist in the dose's window, if it has one (a constant number of queries)."""
    stranded = stranded_bookings(now)
    moves = best_moves([(s.appointment, s.window) for s in stranded if s.window is not None], now) if stranded else {}
    items = []
    for s in stranded:
        a = s.appointment
        kind = DOSE_CANCELLED if s.window is None else OUTSIDE_REAL if s.dose_status == SIGNED else DOSE_MOVED
        where = "cancelled" if s.window is None else \
            f"window {format_local(s.window.opens)} to {format_local(s.window.closes)}"
        items.append(WorkItem(kind, s.course, a.starts_at, f"{a.label} with {a.clinician.full_name} for dose "
                              f"#{s.sequence} ({where})", appointment=a, move_to=moves.get(a.id)))
    return items


def _overlapping(model):
    """`model` (time off, imported busy time) is the booking clinician's and overlaps the booking."""
    return and_(model.clinician_id == Appointment.clinician_id, model.starts_at < Appointment.ends_at,
                model.ends_at > Appointment.starts_at)


def _booked_while_away(now: datetime) -> list[WorkItem]:
    """Future bookings that fall in their clinician's time off (leave entered after booking) or
    in busy time imported from their own calendar after the booking was made: one query, one
    item per booking whatever covers it."""
    leave = select(TimeOff.id).where(_overlapping(TimeOff))
    busy = select(ImportedBusy.id).where(_overlapping(ImportedBusy), in_current_import())
    # the reason of the earliest overlapping time off that gives one
    why = select(TimeOff.reason).where(_overlapping(TimeOff), TimeOff.reason.is_not(None), TimeOff.reason != "") \
        .order_by(TimeOff.starts_at).limit(1)
    rows = db.session.execute(
        select(Appointment, leave.exists().label("away"), why.scalar_subquery().label("why"))
        .where(Appointment.status == "booked", Appointment.starts_at >= now, Appointment.course_id.is_not(None),
               or_(leave.exists(), busy.exists()))
        .options(joinedload(Appointment.course).joinedload(TreatmentCourse.patient))).all()
    return [WorkItem(AWAY, a.course, a.starts_at, f"{a.label} with {a.clinician.full_name}"
                     + ((f" ({why})" if why else "") if away else " (busy in their own calendar)"))
            for a, away, why in rows]


def _missed_by_course(course_ids: list[int]) -> dict[int, list[Appointment]]:
    grouped: dict[int, list[Appointment]] = {}
    if course_ids:
        for a in db.session.scalars(select(Appointment).where(
                Appointment.course_id.in_(course_ids), Appointment.kind == "integration",
                Appointment.status.in_(("cancelled", "no_show"))).order_by(Appointment.starts_at)):
            grouped.setdefault(a.course_id, []).append(a)
    return grouped


def _overlapped_by_dosing(now: datetime) -> list[WorkItem]:
    """Bookings whose time has come with no outcome recorded, overlapped by a signed dosing
    session's recorded times (its booking took them at signing: experience.overruns) and sharing
    its clinician, who monitored the dose, its patient or its room. One query; an
    item goes once the booking's outcome is recorded (attended, no-show) or it is cancelled."""
    dosing = aliased(Appointment)
    shares = or_(Appointment.clinician_id.in_([dosing.clinician_id, DosingSession.monitored_by_id]),
                 Appointment.patient_id == dosing.patient_id,
                 and_(dosing.room_id.is_not(None), Appointment.room_id == dosing.room_id))
    rows = db.session.execute(
        select(Appointment, dosing, DosingSession.sequence)
        .join(dosing, and_(dosing.kind == "dosing", dosing.status == ATTENDED, dosing.id != Appointment.id,
                           dosing.starts_at < Appointment.ends_at, dosing.ends_at > Appointment.starts_at))
        .join(DosingSession, DosingSession.id == dosing.dosing_session_id)
        .where(Appointment.status == BOOKED, Appointment.starts_at <= now, Appointment.course_id.is_not(None),
               DosingSession.status == SIGNED, shares)
        .order_by(Appointment.starts_at, dosing.starts_at)
        .options(joinedload(Appointment.course).joinedload(TreatmentCourse.therapist),
                 joinedload(Appointment.course).joinedload(TreatmentCourse.patient),
                 joinedload(dosing.patient))).all()
    return [WorkItem(OVERLAPPED, a.course, a.starts_at,
                     f"{a.label} with {a.clinician.full_name}{f' in {a.room.name}' if a.room else ''}, overlapped by "
                     f"dosing session {sequence} of {over.patient.display_name} ({format_local(over.starts_at)} to "
                     f"{format_local(over.ends_at, '%H:%M')})", appointment=a)
            for a, over, sequence in rows]

