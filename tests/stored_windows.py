"""What the stored integration windows say, and what working them out from the records says:
a test that changes bookings or doses asserts the two agree (experience/window_store.py)."""
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.services import fetch_signed_sessions_by_course
from ketamine_integration.experience.window_store import StoredWindow
from ketamine_integration.experience.windows import course_windows
from ketamine_integration.extensions import db
from ketamine_integration.bookings.booking import fetch_integration_starts_by_course


def stored_windows() -> dict[int, tuple]:
    """Each stored row, by dosing session: (course, opens, optimal until, closes, covered, optimally)."""
    return {w.dosing_session_id: (w.course_id, w.opens, w.optimal_until, w.closes, w.covered, w.covered_optimally)
            for w in db.session.scalars(select(StoredWindow))}


def worked_out_windows() -> dict[int, tuple]:
    """Every course's windows as course_windows works them out from the records, in the same shape."""
    courses = db.session.scalars(select(TreatmentCourse)).all()
    ids = [c.id for c in courses]
    sessions, starts = fetch_signed_sessions_by_course(ids), fetch_integration_starts_by_course(ids)
    return {r.session.id: (c.id, r.window.opens, r.window.optimal_until, r.window.closes, r.covered,
                           r.covered_optimally)
            for c in courses for r in course_windows(c, sessions.get(c.id, []), starts.get(c.id, []), utcnow())}


def assert_windows_current(make) -> dict[int, tuple]:
    """The stored rows equal the worked-out windows; returns them."""
    stored, worked_out = make.query(stored_windows), make.query(worked_out_windows)
    assert stored == worked_out
    return stored
