"""Migration 0028: outcomes recorded before it (attended, no-show) come through as outcomes, the
append-only guards of the appointment history stay in place both ways (no table rebuild), and the
stored windows written by the rule that counted a booking as cover are not trusted."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.services import fetch_signed_sessions_by_course
from ketamine_integration.experience.window_store import open_windows
from ketamine_integration.experience.windows import course_windows
from ketamine_integration.bookings.booking import integration_sessions_by_course
from ketamine_integration.extensions import db
from tests.integration import test_scheduling
from tests.integration.test_attendance import _past_booking, _yesterday
from tests.integration.test_dosing import local
from tests.integration.test_measure_registry_migration import _refused

pytestmark = pytest.mark.both_engines  # ALTER TABLE per engine, each engine's guards

BEFORE = "0027_note_discard"
team, signed_window = test_scheduling.team, test_scheduling.signed_window


def _rows(sql: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_earlier_outcomes_come_through_and_the_guards_stay(app, make, auth, team, signed_window):
    attended, missed = _past_booking(make, team, _yesterday()), _past_booking(make, team, local(2, 15))
    auth.sign_in("desk")
    for appointment, outcome in ((attended, "attended"), (missed, "no_show")):
        assert auth.post(f"/appointments/{appointment}/outcome", {"outcome": outcome}).status_code == 302
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision=BEFORE)
            assert _rows("SELECT id, status FROM appointments WHERE kind = 'integration' ORDER BY id") == [
                (attended, "attended"), (missed, "no_show")]
            assert _refused("UPDATE appointment_changes SET reason = 'x'")
            upgrade()
            assert _refused("UPDATE appointment_changes SET reason = 'x'")
            assert _rows("SELECT id, status, outcome FROM appointments WHERE kind = 'integration' ORDER BY id") == [
                (attended, "attended", "attended"), (missed, "no_show", "no_show")]
            # the rows written before keep what they said: their change names the outcome
            assert ("attended", None) in _rows("SELECT change, outcome FROM appointment_changes")
            # the guard freezes the new columns too
            assert _refused("UPDATE appointment_changes SET outcome = 'attended' WHERE outcome IS NULL")
            assert _refused("UPDATE appointment_changes SET note_id = 1")
            assert _refused("DELETE FROM appointment_changes")
            # stored rows of the old rule: worked out afresh, so lists say what the records say
            assert _rows("SELECT DISTINCT rule_version FROM integration_windows") == [(1,)]
            course = db.session.get(TreatmentCourse, team["course"])
            now = utcnow()
            worked_out = course_windows(course, fetch_signed_sessions_by_course([course.id])[course.id],
                                        integration_sessions_by_course([course.id])[course.id], now)
            listed = open_windows(TreatmentCourse.id == course.id, now)[course.id]
            assert [(w.dosing_session_id, w.coverage) for w in listed] == \
                [(r.session.id, r.coverage) for r in worked_out]
            assert [w.coverage.state.value for w in listed] == ["covered"]
        finally:
            db.session.remove()
            upgrade()
