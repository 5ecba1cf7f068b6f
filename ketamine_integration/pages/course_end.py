"""What ending a course will cancel and leave behind, shown before it ends (issue 20, point 8):
the planned doses, the bookings ahead, the integration windows still open, the sessions after the
series still ahead, the unsigned notes."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ..bookings.booking import integration_sessions
from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..domain.coverage import WindowCoverage
from ..domain.windows import WindowStatus
from ..experience.models import PLANNED, DosingSession
from ..experience.provisional import booked_minutes, provisional_windows
from ..experience.services import fetch_dosing_sessions
from ..experience.windows import course_windows
from ..notes.models import DRAFT, SessionNote
from ..notes.services import course_notes
from ..scheduling.after_series import AfterSeriesRow, after_series_sessions, course_plan
from ..scheduling.services import fetch_course_appointments


@dataclass(frozen=True)
class OpenWindow:
    """An integration window still open (or not yet open), which the course's end closes early."""
    sequence: int
    closes: datetime
    #: its coverage now, by the one rule (domain/coverage.py): what the course page says of it
    coverage: WindowCoverage
    #: integration sessions booked inside it still ahead, which the end cancels
    booked: tuple[datetime, ...]


@dataclass(frozen=True)
class EndingPreview:
    """Everything ending the course touches, read under the course's lock."""
    #: the ending asked for (completed or discontinued)
    ending: str
    planned_doses: tuple[DosingSession, ...]
    #: bookings ahead other than the planned doses' own (those go with their dose)
    bookings: tuple[Appointment, ...]
    open_windows: tuple[OpenWindow, ...]
    #: drafts stay drafts (a note records what happened; ending a course does not undo it)
    unsigned_notes: tuple[SessionNote, ...]
    #: the protocol's sessions after the series not yet held whose period has not closed: none will be
    #: asked for once the course has ended (their bookings ahead are among `bookings`)
    after_series: tuple[AfterSeriesRow, ...] = ()

    @property
    def cancels_anything(self) -> bool:
        return bool(self.planned_doses or self.bookings)

    @property
    def fingerprint(self) -> str:
        """Names this preview: a confirmation given for another (another ending, a booking made or
        moved since the page was shown, a dose planned or moved) is asked again instead of doing
        what nobody saw."""
        parts = [self.ending]
        parts += [f"d{s.id}@{_instant(s.planned_start)}" for s in self.planned_doses]
        parts += [f"a{a.id}@{_instant(a.starts_at)}" for a in self.bookings]
        parts += [f"w{w.sequence}:{w.coverage.state.value}:" + ",".join(_instant(b) for b in w.booked)
                  for w in self.open_windows]
        parts += [f"n{n.id}" for n in self.unsigned_notes]
        parts += [f"s{r.session.number}:{r.coverage.state.value}" for r in self.after_series]
        return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]

    def summary(self) -> str:
        """One line for the timeline and the audit trail: what the end cancelled and left."""
        said = [f"{len(self.planned_doses)} planned dosing session(s)" if self.planned_doses else "",
                f"{len(self.bookings)} booking(s) ahead" if self.bookings else ""]
        cancelled = " and ".join(s for s in said if s) or "nothing"
        left = f"; {len(self.unsigned_notes)} unsigned note(s) stay drafts" if self.unsigned_notes else ""
        windows = f"; {len(self.open_windows)} open integration window(s) closed early" if self.open_windows else ""
        after = f"; {len(self.after_series)} session(s) after the series not held" if self.after_series else ""
        return f"cancelled {cancelled}{windows}{after}{left}"


def _instant(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"


def ending_preview(course: TreatmentCourse, ending: str, now: datetime) -> EndingPreview:
    """What ending `course` (as `ending`: completed or discontinued) at `now` would do (the same rules
    as the end itself: scheduling.services.release_ended_course cancels planned doses, then
    bookings ahead)."""
    sessions = fetch_dosing_sessions(course.id)
    planned = tuple(s for s in sessions if s.status == PLANNED)
    appointments = fetch_course_appointments(course.id)
    drafts = tuple(n for n in course_notes(course.id) if n.status == DRAFT)
    after_series = course_plan(course, sessions, after_series_sessions(appointments), now).ahead()
    return EndingPreview(ending=ending, planned_doses=planned, bookings=_bookings_ahead(appointments, planned, now),
                         open_windows=_open_windows(course, sessions, appointments, now), unsigned_notes=drafts,
                         after_series=after_series)


def _bookings_ahead(appointments: list[Appointment], planned: tuple[DosingSession, ...],
                    now: datetime) -> tuple[Appointment, ...]:
    """The bookings ahead the end cancels, but for the planned doses' own (listed with their dose)."""
    planned_ids = {s.id for s in planned}
    return tuple(a for a in appointments if a.status == BOOKED and a.starts_at > now
                 and a.dosing_session_id not in planned_ids)


def _open_windows(course: TreatmentCourse, sessions: list[DosingSession], appointments: list[Appointment],
                  now: datetime) -> tuple[OpenWindow, ...]:
    """The signed doses' windows not yet closed, with their coverage as the course page decides it
    (the planned doses' provisional windows given, so a session booked for one counts there)."""
    planned = provisional_windows(course, sessions, booked_minutes(appointments))
    rows = course_windows(course, sessions, integration_sessions(appointments), now, [w for _s, w in planned])
    return tuple(OpenWindow(sequence=row.session.sequence, closes=row.window.closes, coverage=row.coverage,
                            booked=tuple(s.starts_at for s in row.coverage.sessions
                                         if s.starts_at > now and s.outcome == BOOKED))
                 for row in rows if row.status is not WindowStatus.CLOSED)
