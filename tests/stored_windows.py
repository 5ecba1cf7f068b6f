"""What the stored integration windows say, and what working them out from the records says:
a test that changes bookings or doses asserts the two agree (experience/window_store.py)."""
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.coverage import decide
from ketamine_integration.experience.services import fetch_signed_sessions_by_course
from ketamine_integration.experience.window_store import StoredWindow, stored_sessions
from ketamine_integration.experience.windows import course_windows
from ketamine_integration.extensions import db
from ketamine_integration.bookings.booking import integration_sessions_by_course
from ketamine_integration.domain.windows import IntegrationWindow
from ketamine_integration.protocols.services import protocol_of


def stored_windows() -> dict[int, tuple]:
    """Each stored row, by dosing session: (course, opens, optimal until, closes, coverage now, the
    sessions counting for it, covered by held sessions, optimally)."""
    now, found = utcnow(), {}
    for w in db.session.scalars(select(StoredWindow)):
        window = IntegrationWindow(key=w.dosing_session_id, opens=w.opens, optimal_until=w.optimal_until,
                                   closes=w.closes)
        per_window = protocol_of(db.session.get(TreatmentCourse, w.course_id).protocol_version) \
            .integration.min_sessions_per_dosing
        coverage = decide(window, stored_sessions(w.sessions), per_window=per_window, now=now)
        found[w.dosing_session_id] = (w.course_id, w.opens, w.optimal_until, w.closes, coverage.state,
                                      coverage.sessions, w.covered, w.covered_optimally)
    return found


def worked_out_windows() -> dict[int, tuple]:
    """Every course's windows as course_windows works them out from the records, in the same shape."""
    courses = db.session.scalars(select(TreatmentCourse)).all()
    ids = [c.id for c in courses]
    sessions, integration = fetch_signed_sessions_by_course(ids), integration_sessions_by_course(ids)
    return {r.session.id: (c.id, r.window.opens, r.window.optimal_until, r.window.closes, r.coverage.state,
                           r.coverage.sessions, r.covered, r.covered_optimally)
            for c in courses
            for r in course_windows(c, sessions.get(c.id, []), integration.get(c.id, []), utcnow())}


def assert_windows_current(make) -> dict[int, tuple]:
    """The stored rows equal the worked-out windows; returns them."""
    stored, worked_out = make.query(stored_windows), make.query(worked_out_windows)
    assert stored == worked_out
    return stored
