"""Ending a course (issue 20, point 8): the page says what the end cancels and leaves before
anything is cancelled, asks for a reason, and a confirmation of an older preview is asked again."""
import re

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration import test_scheduling
from tests.integration.test_dosing import form_time, local
from tests.integration.test_window_store import in_window

#: the scheduling tests' clinic: a course in experience, one dose signed three days ago
team, signed_window = test_scheduling.team, test_scheduling.signed_window

REASON = "The patient moved out of state; care transferred."


def _state(make, course_id):
    """(phase, statuses of the dosing sessions, statuses of the appointments) of the course."""
    def read():
        course = db.session.get(TreatmentCourse, course_id)
        doses = db.session.scalars(select(DosingSession.status).where(DosingSession.course_id == course_id)
                                   .order_by(DosingSession.sequence)).all()
        bookings = db.session.scalars(select(Appointment.status).where(Appointment.course_id == course_id)
                                      .order_by(Appointment.id)).all()
        return course.phase, doses, bookings
    return make.query(read)


def _version(make, course_id):
    return str(make.query(lambda: db.session.get(TreatmentCourse, course_id).version))


@pytest.fixture
def busy_course(team, make, auth, signed_window):
    """The course with an integration session booked in the open window, two doses planned ahead
    and an unsigned note by its therapist."""
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    auth.logout()
    make.dosing_plan(team["course"], first_start=local(-1, 9), days_between=3, count=2)
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/notes", {
        "note-kind": "integration", "note-session_date": local(0).date().isoformat()}).status_code == 302
    auth.logout()
    return team["course"]


def test_the_preview_names_everything_the_end_cancels_and_changes_nothing(busy_course, make, auth):
    before = _state(make, busy_course)
    auth.sign_in("pres")
    preview = auth.post(f"/courses/{busy_course}/phase", {"target": "discontinued", "reason": REASON,
                                                         "version": _version(make, busy_course)})
    text = page_text(preview)
    assert preview.status_code == 200 and "Mark the course discontinued?" in text
    assert "Dosing session 2, planned" in text and "Dosing session 3, planned" in text
    assert "Integration session" in text and "Hazel Quint" in text          # the booking ahead, by whom
    assert "After dosing session 1" in text and "1 session(s) booked in it will be cancelled" in text
    assert "These stay drafts" in text                                      # the therapist's draft note
    assert "Mark discontinued and cancel these" in text
    assert _state(make, busy_course) == before                              # nothing cancelled yet
    [row] = make.audit_rows(action="course.view", detail="preview of discontinued")
    assert row.patient_id is not None


def test_the_confirmation_ends_the_course_and_says_what_it_cancelled(busy_course, make, auth):
    auth.sign_in("pres")
    done = auth.end_course(busy_course, {"target": "discontinued", "reason": REASON,
                                         "version": _version(make, busy_course)})
    assert done.status_code == 302
    phase, doses, bookings = _state(make, busy_course)
    assert phase == "discontinued" and doses == ["signed", "cancelled", "cancelled"]
    assert "booked" not in bookings and bookings.count("cancelled") == 3   # 2 dosing bookings + 1 session
    [row] = make.audit_rows(action="course.phase_change", outcome="success")
    assert row.detail == ("to discontinued; cancelled 2 planned dosing session(s) and 1 booking(s) ahead; "
                          "1 open integration window(s) closed early; 1 unsigned note(s) stay drafts")
    assert REASON not in row.detail                                         # the reason is the timeline's


def test_a_confirmation_of_an_older_preview_is_asked_again(busy_course, team, make, auth):
    """A booking made after the page was shown is not cancelled unseen: the new preview comes back."""
    auth.sign_in("pres")
    data = {"target": "discontinued", "reason": REASON, "version": _version(make, busy_course)}
    first = auth.post(f"/courses/{busy_course}/phase", data).get_data(as_text=True)
    seen = re.search(r'name="reviewed"[^>]*value="([0-9a-f]{16})"', first).group(1)
    make.dosing_plan(busy_course, first_start=local(-7, 9), days_between=3, count=1)    # meanwhile
    again = auth.post(f"/courses/{busy_course}/phase", {**data, "reviewed": seen})
    assert again.status_code == 200 and "Something changed since you last looked" in page_text(again)
    assert "Dosing session 4, planned" in page_text(again)
    assert _state(make, busy_course)[0] == "experience"
    assert not make.audit_rows(action="course.phase_change", outcome="success")


@pytest.mark.parametrize("reason", ["", "done"])
def test_completing_needs_a_reason_and_a_refusal_cancels_nothing(team, make, auth, reason):
    course_id = make.course(make.patient(family_name="Finished"), team["therapist"], team["prescriber"],
                            phase="maintenance")
    make.dosing_plan(course_id, first_start=local(-4, 9), days_between=14, count=1)
    before = _state(make, course_id)
    auth.sign_in("ther")
    refused = auth.end_course(course_id, {"target": "completed", "reason": reason,
                                          "version": _version(make, course_id)})
    assert refused.status_code == 422 and "Say why the course is completed" in page_text(refused)
    assert "Nothing was cancelled" in page_text(refused)
    assert _state(make, course_id) == before
    [row] = make.audit_rows(action="course.phase_change", outcome="failure")
    assert row.detail == "refused"


def test_ending_a_course_with_nothing_ahead_says_so(team, make, auth):
    course_id = make.course(make.patient(family_name="Quiet"), team["therapist"], team["prescriber"],
                            phase="preparation")
    auth.sign_in("ther")
    preview = page_text(auth.post(f"/courses/{course_id}/phase", {
        "target": "discontinued", "reason": REASON, "version": _version(make, course_id)}))
    assert "None: every window has closed." in preview and "Mark the course discontinued" in preview
    assert "cancel these" not in preview
    assert auth.end_course(course_id, {"target": "discontinued", "reason": REASON,
                                       "version": _version(make, course_id)}).status_code == 302


def _reviewed(response) -> str:
    return re.search(r'name="reviewed"[^>]*value="([0-9a-f]{16})"', response.get_data(as_text=True)).group(1)


def test_the_preview_says_of_each_open_window_what_the_course_page_says(team, make, auth, client, signed_window):
    """One coverage rule: a window covered by a session the patient attended is covered in the preview
    too (not "nothing booked"), and the preview speaks of what will happen, not what did."""
    from tests.integration.test_attendance import _held

    auth.sign_in("ther")
    assert _held(auth, team["course"]).status_code == 302
    assert "Covered (in the optimal span)" in page_text(client.get(f"/courses/{team['course']}"))
    auth.logout()
    auth.sign_in("pres")
    preview = page_text(auth.post(f"/courses/{team['course']}/phase", {
        "target": "discontinued", "reason": REASON, "version": _version(make, team["course"])}))
    assert "After dosing session 1, open until" in preview
    assert ": covered (the patient attended a session in it)." in preview and "nothing booked" not in preview
    assert "Nothing has been cancelled yet." in preview
    assert "Planned dosing sessions that will be cancelled" in preview
    assert "Bookings ahead that will be cancelled" in preview
    assert "Integration windows still open, which will close early" in preview


def test_an_ended_course_shows_its_windows_closed_and_asks_for_nothing(team, make, auth, client, signed_window):
    """Window #1 was open with nothing booked: once the course is discontinued it is closed early, with
    no "Nothing booked" call to action, on no worklist, and no session after the series is planned."""
    auth.sign_in("pres")
    before = page_text(client.get(f"/courses/{team['course']}"))
    assert "Nothing booked" in before and "Planned when the series ends" in before
    done = auth.end_course(team["course"], {"target": "discontinued", "reason": REASON,
                                            "version": _version(make, team["course"])})
    assert done.status_code == 302
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "1 open integration window(s) closed early" in page
    assert "Closed early: the course ended None held" in page
    assert "Nothing booked" not in page and "Suggested times" not in page
    assert "Not planned: the course was discontinued before its series ended." in page
    assert "Planned when the series ends" not in page
    assert "Window:" not in page_text(client.get(f"/patients/{team['patient']}"))
    auth.logout()
    auth.sign_in("desk")
    assert "Scheduled" not in page_text(client.get("/worklist"))


def test_a_booking_moved_after_the_preview_is_not_cancelled_unseen(team, make, auth, signed_window):
    """The preview names the booking at its time: moved meanwhile, the confirmation is asked again."""
    auth.sign_in("desk")
    assert auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(in_window()), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    booked = make.query(lambda: db.session.scalar(select(Appointment.id).where(Appointment.kind == "integration")))
    auth.logout()
    auth.sign_in("pres")
    data = {"target": "discontinued", "reason": REASON, "version": _version(make, team["course"])}
    seen = _reviewed(auth.post(f"/courses/{team['course']}/phase", data))
    auth.logout()
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{booked}/reschedule", {"starts_at": form_time(in_window(3, 15)),
                                                           "reason": "patient asked"}).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    again = auth.post(f"/courses/{team['course']}/phase", {**data, "reviewed": seen})
    assert again.status_code == 200 and "Something changed since you last looked" in page_text(again)
    assert _state(make, team["course"])[0] == "experience"
    assert make.query(lambda: db.session.get(Appointment, booked).status) == "booked"


def test_a_preview_of_one_ending_does_not_confirm_another(team, make, auth):
    """Shown what completing does, the confirmation cannot discontinue instead."""
    course = make.course(make.patient(family_name="Maint"), team["therapist"], team["prescriber"],
                         phase="maintenance")
    make.dosing_plan(course, first_start=local(-4, 9), days_between=14, count=1)
    auth.sign_in("pres")
    data = {"target": "completed", "reason": REASON, "version": _version(make, course)}
    seen = _reviewed(auth.post(f"/courses/{course}/phase", data))
    again = auth.post(f"/courses/{course}/phase", {**data, "target": "discontinued", "reviewed": seen})
    assert again.status_code == 200 and "Mark the course discontinued?" in page_text(again)
    assert _state(make, course)[0] == "maintenance"
    assert not make.audit_rows(action="course.phase_change", outcome="success")
