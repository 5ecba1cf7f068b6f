"""Which dosing sessions an integration note may serve: those whose integration window includes
the date of the session it documents, or another signed one of the course as a stated exception
with its reason (a late review), kept on the link (issue 20, point 5: a note dated 2 December was
saved as serving doses whose windows closed in November)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.text import written_length
from ..domain.windows import IntegrationWindow, window_for
from ..experience.models import SIGNED as DOSING_SIGNED
from ..experience.models import DosingSession
from ..extensions import db
from ..protocols.services import protocol_of

#: what the reason for serving a window that does not include the note's date must say, in
#: characters written (spaces do not count)
EXCEPTION_REASON_MINIMUM = 5
#: form fields the problems are put on
IN_WINDOW_FIELD, EXCEPTION_FIELD, REASON_FIELD = "dosing_sessions", "dosing_exceptions", "dosing_exception_reason"


@dataclass(frozen=True)
class DosingChoice:
    """A signed dosing session of the course, its window, and whether that includes the note's date."""

    session_id: int
    sequence: int
    window: IntegrationWindow
    #: the clinic dates the window opens and closes on
    first_day: date
    last_day: date
    includes: bool

    @property
    def window_text(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        return f"Dosing session {self.sequence} (window {self.window_text})"


def choice_for(session_id: int, sequence: int, window: IntegrationWindow, day: date, zone: ZoneInfo) -> DosingChoice:
    # a window is [opens, closes): a close at midnight leaves the day before as its last
    last = (window.closes - timedelta(microseconds=1)).astimezone(zone).date()
    return DosingChoice(session_id, sequence, window, window.opens.astimezone(zone).date(), last,
                        window.includes_day(day, zone))


def dosing_choices(course: TreatmentCourse, day: date) -> list[DosingChoice]:
    """The course's signed dosing sessions in order, each with its clinic protocol window and
    whether that window includes `day` (only a signed session has a window: its end is known)."""
    rule, zone = protocol_of(course.protocol_version).integration.window, clinic_zone()
    sessions = db.session.execute(select(DosingSession.id, DosingSession.sequence, DosingSession.ended_at).where(
        DosingSession.course_id == course.id, DosingSession.status == DOSING_SIGNED)
        .order_by(DosingSession.sequence).options(lazyload("*"))).all()
    return [choice_for(s.id, s.sequence, window_for(s.id, s.ended_at, rule, zone), day, zone) for s in sessions]


def resolve_links(choices: list[DosingChoice], in_window: list[int], exceptions: list[int],
                  reason: str | None) -> tuple[dict[int, str | None], dict[str, str]]:
    """The links a note keeps (dosing session id -> the exception's reason, None inside its
    window) and the problems with what was chosen, by form field. A session ticked as an
    exception whose window does include the date is an ordinary link."""
    by_id = {c.session_id: c for c in choices}
    chosen = set(in_window) | set(exceptions)
    if chosen - set(by_id):
        return {}, {IN_WINDOW_FIELD: "Choose signed dosing sessions of this course."}
    reason = (reason or "").strip() or None
    outside = [by_id[i] for i in sorted(chosen, key=lambda i: by_id[i].sequence) if not by_id[i].includes]
    excepted = [c for c in outside if c.session_id in exceptions]
    problems = _unstated(c for c in outside if c.session_id not in exceptions)
    problems.update(_reason_problems(reason, excepted=bool(excepted), unstated=bool(problems)))
    return {i: reason if by_id[i] in excepted else None for i in sorted(chosen)}, problems


def _unstated(outside) -> dict[str, str]:
    """Sessions ticked as served whose windows do not include the date, with no exception stated."""
    named = " ".join(f"Dosing session {c.sequence}'s window ({c.window_text}) does not include the session date."
                     for c in outside)
    return {IN_WINDOW_FIELD: named + " Untick it, or serve it as an exception with the reason."} if named else {}


def _reason_problems(reason: str | None, *, excepted: bool, unstated: bool) -> dict[str, str]:
    """An exception says why; a reason with no exception is refused rather than silently dropped."""
    if excepted and written_length(reason) < EXCEPTION_REASON_MINIMUM:
        return {REASON_FIELD: "Say why this note serves a window that does not include its date "
                              f"(at least {EXCEPTION_REASON_MINIMUM} characters, spaces not counted)."}
    if reason and not excepted and not unstated:
        return {REASON_FIELD: "No window outside the session date is chosen: clear the reason, or choose the "
                              "dosing session it is for."}
    return {}


def exceptions_kept(links) -> str | None:
    """For the audit trail: which dosing sessions a saved note serves outside their windows (the
    reason is on the record, not in the trail)."""
    excepted = [link.dosing_session_id for link in links if link.exception_reason]
    if not excepted:
        return None
    sequences = db.session.scalars(select(DosingSession.sequence).where(DosingSession.id.in_(excepted))
                                   .order_by(DosingSession.sequence)).all()
    return ("window exception: serves dosing session " + ", ".join(map(str, sequences))
            + " outside its window (reason on the record)")
