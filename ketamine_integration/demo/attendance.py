"""What became of the demo clinic's past sessions: most were attended (many already proven by their
signed integration notes), one patient did not come, and the newest is left for someone to confirm
(issue 20, point 2: no past booking sits without an outcome unless the demo means it to)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..domain.coverage import ATTENDED, NO_SHOW, Coverage, IntegrationSession
from ..experience.services import fetch_dosing_sessions
from ..experience.windows import course_windows
from ..scheduling.services import fetch_course_appointments
from ..domain.phases import Phase
from ..domain.windows import WindowStatus
from ..extensions import db
from ..scheduling.attendance import record_outcome


def load_demo_attendance(now: datetime) -> None:
    """Give every past therapist session still without an outcome one, as its clinician would: the
    newest stays unconfirmed (on the worklists), one of a course in its integration phase was a
    no-show that left a closed window uncovered (the outcomes page's "missed"), the others were
    attended."""
    past = db.session.scalars(select(Appointment).join(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
                              .where(Appointment.status == BOOKED, Appointment.starts_at <= now,
                                     Appointment.kind != "dosing")
                              .order_by(Appointment.starts_at, Appointment.id)).all()
    if not past:
        return
    # the newest session that, left without an outcome, leaves a window unconfirmed (by the coverage
    # rule itself: overlapping windows may rest on another session), whatever the hour the demo loads
    left = next((a for a in reversed(past) if _windows(a, now, (BOOKED,), _unconfirmed)[0]), past[-1])
    settled = [a for a in past if a is not left]
    # the first session whose absence, by the coverage rule too, leaves a closed window of its course
    # uncovered that its attendance covers: windows overlap, so a no-show whose window another session
    # covers would miss nothing, and which session that is depends on the hour the demo loads
    in_integration = [a for a in settled if a.course.current_phase is Phase.INTEGRATION]
    no_show = next((a for a in in_integration if _misses_more_if_absent(a, now, left)),
                   in_integration[0] if in_integration else None)
    for appointment in settled:
        record_outcome(appointment, outcome=NO_SHOW if appointment is no_show else ATTENDED,
                       by=appointment.clinician, now=now)


def _unconfirmed(row) -> bool:
    return row.coverage.state is Coverage.UNCONFIRMED


def _missed(row) -> bool:
    """Closed without a session that covers it (the outcomes page's "missed")."""
    return row.status is WindowStatus.CLOSED and not row.covered


def _misses_more_if_absent(candidate: Appointment, now: datetime, unconfirmed: Appointment) -> bool:
    """Whether more of the course's closed windows go uncovered with `candidate` a no-show than attended."""
    if_no_show, if_attended = _windows(candidate, now, (NO_SHOW, ATTENDED), _missed, unconfirmed)
    return if_no_show > if_attended


def _windows(candidate: Appointment, now: datetime, outcomes: tuple[str, ...], counted,
             unconfirmed: Appointment | None = None) -> list[int]:
    """For each of `outcomes`, how many of the candidate's course's windows are `counted` when
    `candidate` has that outcome (BOOKED: keeps none), `unconfirmed` keeps none either and the
    course's other past sessions were attended; the course's sessions are read once for all."""
    if candidate.kind != "integration":
        return [0] * len(outcomes)
    course = candidate.course
    appointments = [a for a in fetch_course_appointments(course.id)
                    if a.kind == "integration" and (a.status == BOOKED or a.outcome)]
    doses = fetch_dosing_sessions(course.id)
    counts = []
    for outcome in outcomes:
        sessions = [IntegrationSession(a.starts_at, outcome if a is candidate else
                                       BOOKED if a is unconfirmed or a.starts_at > now else a.outcome or ATTENDED,
                                       ends_at=a.ends_at) for a in appointments]
        counts.append(sum(1 for row in course_windows(course, doses, sessions, now) if counted(row)))
    return counts
