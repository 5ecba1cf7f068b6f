"""Attendance (issue 20, points 2-4): outcomes recorded and corrected with the earlier one kept,
attendance derived from a signed integration note, a session entered after it was held, and the
sessions whose time came with no outcome on the staff's and the clinician's worklists."""
import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.domain.coverage import Coverage
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration import test_scheduling
from tests.integration.test_dosing import NY, form_time, local
from tests.integration.test_notes import SIGNING, _integration_data, _start, _version
from tests.stored_windows import assert_windows_current

# On SQLite and PostgreSQL: outcomes rewrite the stored windows (an upsert per engine), and the
# unconfirmed lists count with a window function.
pytestmark = pytest.mark.both_engines

#: a therapist, another therapist, a prescriber and a desk; a course with a dose signed three days ago
team, signed_window = test_scheduling.team, test_scheduling.signed_window


def _yesterday(hour=14):
    """Inside the signed dose's window (it opened two days ago), and in the past."""
    return local(1, hour)


def _past_booking(make, team, starts_at, clinician=None) -> int:
    """An integration session booked earlier whose time has now come (booked before, as the desk does)."""
    def add():
        desk = db.session.get(User, team["staff"])
        appointment = Appointment(patient_id=team["patient"], course_id=team["course"], kind="integration",
                                  clinician_id=clinician or team["therapist"], starts_at=starts_at,
                                  ends_at=starts_at + timedelta(minutes=50), modality="telehealth",
                                  created_by_id=desk.id)
        appointment.changes.append(AppointmentChange(change="booked", by_user_id=desk.id))
        db.session.add(appointment)
        db.session.flush()
        return appointment.id
    return make.run(add)


def _appointment(make, appointment_id):
    def read():
        a = db.session.get(Appointment, appointment_id)
        return (a.status, a.outcome, [(c.change, c.outcome, c.reason, c.note_id) for c in a.changes])
    return make.query(read)


def _window_state(make, dosing_session_id):
    return assert_windows_current(make)[dosing_session_id][4]


def test_an_outcome_is_recorded_and_a_correction_keeps_the_earlier_one(team, make, auth, client, signed_window):
    booked = _past_booking(make, team, _yesterday())
    assert _window_state(make, signed_window) is Coverage.UNCONFIRMED
    auth.login("desk")
    assert auth.post(f"/appointments/{booked}/outcome", {"outcome": "late_cancelled"}).status_code == 302
    # a late cancellation frees the time like any cancellation, and covers nothing
    assert _appointment(make, booked)[:2] == ("cancelled", "late_cancelled")
    assert _window_state(make, signed_window) is Coverage.UNCOVERED

    # a correction needs a reason: refused on its field, nothing changed
    refused = auth.post(f"/appointments/{booked}/outcome", {"outcome": "attended", "reason": "  oops  "},
                        follow_redirects=True)
    assert "Say why the outcome was late-cancelled and is corrected" in page_text(refused)
    assert _appointment(make, booked)[:2] == ("cancelled", "late_cancelled")
    same = auth.post(f"/appointments/{booked}/outcome", {"outcome": "late_cancelled", "reason": "Said twice over"},
                     follow_redirects=True)
    assert "It is recorded as late-cancelled already" in page_text(same)

    corrected = auth.post(f"/appointments/{booked}/outcome", {
        "outcome": "attended", "reason": "She came after all; the call was about another day"})
    assert corrected.status_code == 302
    status, outcome, history = _appointment(make, booked)
    assert (status, outcome) == ("attended", "attended")
    assert history == [("booked", None, None, None),
                       ("cancelled", "late_cancelled", None, None),  # the earlier outcome, kept
                       ("attended", "attended", "She came after all; the call was about another day", None)]
    assert _window_state(make, signed_window) is Coverage.COVERED
    rows = [(r.outcome, r.detail) for r in make.audit_rows(action="appointment.update")]
    assert rows == [("success", "outcome late_cancelled"), ("failure", "outcome refused"),
                    ("failure", "outcome refused"), ("success", "outcome late_cancelled corrected to attended")]
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Covered (in the optimal span):" in page and "Correct the outcome" in page


@pytest.mark.parametrize("outcome", ["no_show", "clinic_cancelled"])
def test_a_missed_session_leaves_its_window_to_book_again(team, make, auth, client, signed_window, outcome):
    booked = _past_booking(make, team, _yesterday())
    auth.login("desk")
    assert auth.post(f"/appointments/{booked}/outcome", {"outcome": outcome}).status_code == 302
    assert _window_state(make, signed_window) is Coverage.UNCOVERED
    text = page_text(client.get("/worklist"))
    assert "Integration session cancelled or missed; the window is still open" in text
    assert ("no-show" if outcome == "no_show" else "cancelled by the clinic") in text


def test_no_outcome_for_a_dosing_booking_a_future_one_or_a_stranger(team, make, auth, signed_window):
    dosing = make.query(lambda: db.session.scalar(select(Appointment.id).where(Appointment.kind == "dosing")))
    ahead = _past_booking(make, team, datetime.now(NY) + timedelta(days=1))
    auth.login("desk")
    refused = auth.post(f"/appointments/{dosing}/outcome", {"outcome": "no_show"}, follow_redirects=True)
    assert "marked attended when its record is signed" in page_text(refused)
    refused = auth.post(f"/appointments/{ahead}/outcome", {"outcome": "attended"}, follow_redirects=True)
    assert "once its time has come" in page_text(refused)
    assert auth.post(f"/appointments/{ahead}/outcome", {"outcome": "excused"}).status_code == 302
    assert _appointment(make, ahead)[:2] == ("booked", None)
    assert _appointment(make, dosing)[:2] == ("attended", "attended")  # its signed record said so


def test_a_signed_integration_note_marks_its_session_attended(team, make, auth, client, signed_window):
    held = _past_booking(make, team, _yesterday())
    other_day = _past_booking(make, team, local(2, 15))
    auth.login("ther")
    day = _yesterday().date()
    note = _start(auth, team["course"], when=day)
    saved = auth.post(f"/notes/{note}", _integration_data(_version(make, note), session_date=day.isoformat(),
                                                          **{"new_steps-0-starts_on": day.isoformat()}))
    assert saved.status_code == 302, page_text(saved)[-400:]
    assert _appointment(make, held)[:2] == ("booked", None)  # a draft proves nothing
    assert auth.post(f"/notes/{note}", _integration_data(  # "Sign and lock" sends the whole form
        _version(make, note), session_date=day.isoformat(), **{"new_steps-0-starts_on": day.isoformat()},
        **SIGNING)).status_code == 302
    status, outcome, history = _appointment(make, held)
    assert (status, outcome) == ("attended", "attended")
    assert history[-1] == ("attended", "attended", f"Signed integration note #{note} documents it", note)
    assert _appointment(make, other_day)[:2] == ("booked", None)  # another day: still to confirm
    assert _window_state(make, signed_window) is Coverage.COVERED


def test_a_note_matching_no_single_booking_marks_nothing(team, make, auth, signed_window):
    """The colleague's booking that day is not the author's: nothing is guessed."""
    colleagues = _past_booking(make, team, _yesterday(), clinician=team["other_therapist"])
    auth.login("ther")
    day = _yesterday().date()
    note = _start(auth, team["course"], when=day)
    auth.post(f"/notes/{note}", _integration_data(_version(make, note), session_date=day.isoformat(),
                                                  **{"new_steps-0-starts_on": day.isoformat()}))
    assert auth.post(f"/notes/{note}", _integration_data(  # "Sign and lock" sends the whole form
        _version(make, note), session_date=day.isoformat(), **{"new_steps-0-starts_on": day.isoformat()},
        **SIGNING)).status_code == 302
    assert _appointment(make, colleagues)[:2] == ("booked", None)


def _held(auth, course, **overrides):
    data = {"held-starts_at": form_time(_yesterday(11)), "held-minutes": "50", "held-modality": "telehealth",
            "held-attended": "y", "held-reason": "Walk-in after a hard week"}
    data.update(overrides)
    return auth.post(f"/courses/{course}/sessions/held", data)


def test_a_session_held_without_a_booking_is_entered_and_covers_its_window(team, make, auth, client, signed_window):
    assert _window_state(make, signed_window) is Coverage.UNCOVERED
    auth.login("ther")
    response = _held(auth, team["course"])
    assert response.status_code == 302
    [entered] = make.query(lambda: db.session.scalars(select(Appointment).where(
        Appointment.kind == "integration")).all())
    status, outcome, history = _appointment(make, entered.id)
    assert (status, outcome, entered.clinician_id) == ("attended", "attended", team["therapist"])
    assert history == [("attended", "attended", "Walk-in after a hard week", None)]
    assert _window_state(make, signed_window) is Coverage.COVERED
    [row] = make.audit_rows(action="appointment.create")
    assert (row.outcome, row.detail, row.patient_id) == ("success", "integration, entered after it was held",
                                                         team["patient"])
    assert "entered after it was held: Walk-in after a hard week" in page_text(client.get(f"/courses/{team['course']}"))


@pytest.mark.parametrize("overrides, message", [
    # still ahead: book it instead
    ({"held-starts_at": form_time(datetime.now(NY) + timedelta(hours=2))}, "Enter a session once it has ended"),
    # not yet over: it has not ended
    ({"held-starts_at": form_time(datetime.now(NY) - timedelta(minutes=10))}, "Enter a session once it has ended"),
    # before the course's first dose ended: not an integration session
    ({"held-starts_at": form_time(local(4, 11))}, "An integration session follows a dose"),
    # no reason, or padding for one
    ({"held-reason": "   ...    "}, "Say why it is entered afterwards"),
    # the attendance box left unticked
    ({"held-attended": ""}, "Only a session the patient attended is entered here"),
])
def test_a_held_session_is_refused_on_its_field_and_nothing_is_entered(team, make, auth, signed_window,
                                                                       overrides, message):
    auth.login("ther")
    response = _held(auth, team["course"], **overrides)
    assert response.status_code == 422 and message in page_text(response)
    assert make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration")).all()) == []
    [row] = make.audit_rows(action="appointment.create")
    assert (row.outcome, row.detail) == ("failure", "held session refused")


def test_a_held_session_cannot_overlap_a_booking_and_only_a_therapist_enters_one(team, make, auth, signed_window):
    _past_booking(make, team, _yesterday(11))
    auth.login("ther")
    response = _held(auth, team["course"], **{"held-starts_at": form_time(_yesterday(11) + timedelta(minutes=20))})
    assert response.status_code == 422 and "Record what became of that appointment instead" in page_text(response)
    auth.logout()
    auth.login("desk")  # staff book and mark sessions; they did not hold one
    assert _held(auth, team["course"], **{"held-starts_at": form_time(_yesterday(16))}).status_code == 403
    assert len(make.query(lambda: db.session.scalars(select(Appointment).where(
        Appointment.kind == "integration")).all())) == 1


def test_unconfirmed_sessions_are_on_the_staff_and_the_clinicians_worklists(team, make, auth, client, signed_window):
    booked = _past_booking(make, team, _yesterday())
    auth.login("desk")
    text = page_text(client.get("/worklist"))
    assert "Sessions to confirm (1)" in text and "Scheduled" in text
    assert "Dosing session with no integration session planned" not in text  # unconfirmed, not to book
    auth.logout()
    auth.login("ther")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))
    yesterdays_other = _past_booking(make, team, local(1, 16))
    marked = auth.post(f"/appointments/{yesterdays_other}/outcome", {"outcome": "no_show", "return_to": "home"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/#unconfirmed")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))
    auth.logout()
    auth.login("ther2")  # someone else's session: not on their list
    assert "sessions to confirm" not in page_text(client.get("/"))
    auth.logout()
    auth.login("desk")
    marked = auth.post(f"/appointments/{booked}/outcome", {"outcome": "attended", "return_to": "worklist"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/worklist#unconfirmed")
    assert "Sessions to confirm (0)" in page_text(client.get("/worklist"))
    # an unknown page to return to is ignored: back to the course, never elsewhere
    other = _past_booking(make, team, local(2, 15))
    response = auth.post(f"/appointments/{other}/outcome", {"outcome": "attended", "return_to": "https://evil.test"})
    assert response.headers["Location"].endswith(f"/courses/{team['course']}#windows")


#: the course page's words for each coverage state, in its windows table
PAGE_WORDS = {Coverage.COVERED: "Covered", Coverage.PROVISIONAL: "Booked, not yet held",
              Coverage.UNCONFIRMED: "Unconfirmed", Coverage.UNCOVERED: "Nothing booked"}


def _page_coverage(html: str) -> Counter:
    """The coverage the course page states for each window (the last cell of its windows table's rows)."""
    if "<caption>Windows, in words</caption>" not in html:
        return Counter()
    table = html.split("<caption>Windows, in words</caption>", 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody", 1)[1].split(">", 1)[1]
    cells = [row.rsplit("<td", 1)[1].split(">", 1)[1] for row in body.split("</tr>")[:-1]]
    return Counter(next(state for state, words in PAGE_WORDS.items() if re.sub(r"<[^>]+>", "", cell).strip()
                        .startswith(words)) for cell in cells)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_reports_coverage_agrees_with_the_course_page_on_every_demo_course(app, make, auth, client):
    from ketamine_integration.coordination.report import report_data
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.db.types import utcnow

    make.user("staff", username="coverage-check")

    def reports():
        found = {}
        for course in db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)):
            a = report_data(course, recipient=course.prescriber, author=course.therapist, categories={"attendance"},
                            now=utcnow(), questions=None, recommendations=None).attendance
            found[course.id] = Counter({Coverage.COVERED: a.covered, Coverage.PROVISIONAL: a.provisional,
                                        Coverage.UNCONFIRMED: a.awaiting,
                                        Coverage.UNCOVERED: a.windows - a.covered - a.provisional - a.awaiting})
        return found
    with app.test_request_context():
        by_report = reports()
    auth.login("coverage-check")
    by_page = {course_id: _page_coverage(client.get(f"/courses/{course_id}").get_data(as_text=True))
               for course_id in by_report}
    assert by_page == {course_id: +counts for course_id, counts in by_report.items()}
    total = sum(by_page.values(), Counter())
    # the demo shows every state: held, booked ahead, one awaiting its outcome, and windows to book
    assert total[Coverage.COVERED] > 10 and total[Coverage.UNCONFIRMED] == 1
    assert total[Coverage.PROVISIONAL] > 0 and total[Coverage.UNCOVERED] > 0
