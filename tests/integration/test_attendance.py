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
from tests.clinic_day import at_run_all
from tests.conftest import page_text
from tests.integration import test_scheduling
from tests.integration.test_dosing import NY, form_time, local
from tests.integration.test_notes import SIGNING, _integration_data, _start, _version
from tests.stored_windows import assert_windows_current


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


@pytest.mark.both_engines  # the stored windows rewritten by each engine's upsert
def test_an_outcome_is_recorded_and_a_correction_keeps_the_earlier_one(team, make, auth, client, signed_window):
    booked = _past_booking(make, team, _yesterday())
    assert _window_state(make, signed_window) is Coverage.UNCONFIRMED
    auth.sign_in("desk")
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
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{booked}/outcome", {"outcome": outcome}).status_code == 302
    assert _window_state(make, signed_window) is Coverage.UNCOVERED
    text = page_text(client.get("/worklist"))
    assert "Integration session cancelled or missed; the window is still open" in text
    assert ("no-show" if outcome == "no_show" else "cancelled by the clinic") in text


def test_a_session_whose_time_has_come_is_given_an_outcome_not_cancelled_or_moved(team, make, auth, client,
                                                                                   signed_window):
    """"Cancelled" says it was called off ahead, and moving it into the future erases that it was due:
    both are refused, pointing to the outcome; the outcome can then be recorded."""
    booked = _past_booking(make, team, _yesterday())
    auth.sign_in("desk")
    refused = auth.post(f"/appointments/{booked}/cancel", {"reason": "never came, tidy up"}, follow_redirects=True)
    assert "Its time has come: record what happened instead" in page_text(refused)
    assert "A late cancellation is one of the outcomes." in page_text(refused)
    tomorrow = (datetime.now(NY) + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    refused = auth.post(f"/appointments/{booked}/reschedule", {"starts_at": form_time(tomorrow), "reason": "move it"},
                        follow_redirects=True)
    assert "Then book a new session." in page_text(refused)
    status, outcome, history = _appointment(make, booked)
    assert (status, outcome, [change for change, *_ in history]) == ("booked", None, ["booked"])
    assert make.query(lambda: db.session.get(Appointment, booked).starts_at) == _yesterday()
    assert [r.outcome for r in make.audit_rows(action="appointment.update")] == ["failure", "failure"]
    assert auth.post(f"/appointments/{booked}/outcome", {"outcome": "no_show"}).status_code == 302
    assert _appointment(make, booked)[:2] == ("no_show", "no_show")


def test_no_outcome_for_a_dosing_booking_a_future_one_or_a_stranger(team, make, auth, signed_window):
    dosing = make.query(lambda: db.session.scalar(select(Appointment.id).where(Appointment.kind == "dosing")))
    ahead = _past_booking(make, team, datetime.now(NY) + timedelta(days=1))
    auth.sign_in("desk")
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
    auth.sign_in("ther")
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


def _sign_yesterdays_note(make, auth, team):
    """The therapist writes and signs, in one request, an integration note for yesterday's session."""
    day = _yesterday().date()
    note = _start(auth, team["course"], when=day)
    response = auth.post(f"/notes/{note}", _integration_data(
        _version(make, note), session_date=day.isoformat(), **{"new_steps-0-starts_on": day.isoformat()}, **SIGNING))
    return note, response


def _note_status(make, note):
    from ketamine_integration.notes.models import SessionNote
    return make.query(lambda: db.session.get(SessionNote, note).status)


@pytest.mark.parametrize("marked_first", [False, True])
def test_a_session_a_signed_note_documents_stays_attended(team, make, auth, client, signed_window, marked_first):
    """The note marks it attended (or finds it marked so and names itself in its history): a later
    "correction" to a no-show would make the record say both, and is refused, pointing to an addendum."""
    booked = _past_booking(make, team, _yesterday())
    if marked_first:
        auth.sign_in("desk")
        assert auth.post(f"/appointments/{booked}/outcome", {"outcome": "attended"}).status_code == 302
        auth.logout()
    auth.sign_in("ther")
    note, signed = _sign_yesterdays_note(make, auth, team)
    assert signed.status_code == 302 and _note_status(make, note) == "signed"
    status, outcome, history = _appointment(make, booked)
    assert (status, outcome) == ("attended", "attended") and history[-1][3] == note
    auth.logout()
    auth.sign_in("desk")
    refused = auth.post(f"/appointments/{booked}/outcome", {
        "outcome": "no_show", "reason": "Clicked the wrong row earlier today"}, follow_redirects=True)
    assert f"Signed integration note #{note} says this session was held, so it stays attended" in page_text(refused)
    assert "its author adds an addendum" in page_text(refused)
    assert _appointment(make, booked)[:2] == ("attended", "attended")
    assert _window_state(make, signed_window) is Coverage.COVERED


def test_a_note_is_not_signed_for_a_session_recorded_as_a_no_show(team, make, auth, client, signed_window):
    """The record says the patient did not come: the note cannot say the session was held until the
    outcome is corrected (with a reason); the draft and its text stay."""
    booked = _past_booking(make, team, _yesterday())
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{booked}/outcome", {"outcome": "no_show"}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    note, refused = _sign_yesterdays_note(make, auth, team)
    assert refused.status_code in (200, 422)
    assert "Your integration session with this patient that day is recorded as no-show" in page_text(refused)
    assert _note_status(make, note) == "draft" and _appointment(make, booked)[:2] == ("no_show", "no_show")
    auth.logout()
    auth.sign_in("desk")
    assert auth.post(f"/appointments/{booked}/outcome", {
        "outcome": "attended", "reason": "She came late; the desk missed her"}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    signed = auth.post(f"/notes/{note}", _integration_data(
        _version(make, note), session_date=_yesterday().date().isoformat(),
        **{"new_steps-0-starts_on": _yesterday().date().isoformat()}, **SIGNING))
    assert signed.status_code == 302 and _note_status(make, note) == "signed"


def test_the_signature_that_marks_a_session_attended_is_in_the_audit_trail(team, make, auth, signed_window):
    """The same action the attendance page writes: the appointment's outcome, with the note named."""
    booked = _past_booking(make, team, _yesterday())
    auth.sign_in("ther")
    note, signed = _sign_yesterdays_note(make, auth, team)
    assert signed.status_code == 302
    [row] = make.audit_rows(action="appointment.update", object_id=str(booked))
    assert (row.outcome, row.patient_id, row.object_type) == ("success", team["patient"], "appointment")
    assert row.detail.startswith(f"outcome attended: signed integration note #{note}")


def test_a_note_matching_no_single_booking_marks_nothing(team, make, auth, signed_window):
    """The colleague's booking that day is not the author's: nothing is guessed."""
    colleagues = _past_booking(make, team, _yesterday(), clinician=team["other_therapist"])
    auth.sign_in("ther")
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
    auth.sign_in("ther")
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
    ({"held-starts_at": lambda: form_time(datetime.now(NY) + timedelta(hours=2))}, "Enter a session once it has ended"),
    # not yet over: it has not ended
    ({"held-starts_at": lambda: form_time(datetime.now(NY) - timedelta(minutes=10))}, "Enter a session once it has ended"),
    # before the course's first dose ended: not an integration session
    ({"held-starts_at": lambda: form_time(local(4, 11))}, "An integration session follows a dose"),
    # no reason, or padding for one
    ({"held-reason": "   ...    "}, "Say why it is entered afterwards"),
    # the attendance box left unticked
    ({"held-attended": ""}, "Only a session the patient attended is entered here"),
    # how it was held not said (the form presets neither)
    ({"held-modality": ""}, "Say whether the session was held in person or by telehealth"),
    # not one of the choices
    ({"held-modality": "carrier_pigeon"}, "Not a valid choice"),
])
def test_a_held_session_is_refused_on_its_field_and_nothing_is_entered(team, make, auth, signed_window,
                                                                       overrides, message):
    auth.sign_in("ther")
    response = _held(auth, team["course"], **at_run_all(overrides))
    assert response.status_code == 422 and message in page_text(response)
    assert make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration")).all()) == []
    [row] = make.audit_rows(action="appointment.create")
    assert (row.outcome, row.detail) == ("failure", "held session refused")


def test_a_held_session_cannot_overlap_a_booking_and_only_a_therapist_enters_one(team, make, auth, signed_window):
    _past_booking(make, team, _yesterday(11))
    auth.sign_in("ther")
    response = _held(auth, team["course"], **{"held-starts_at": form_time(_yesterday(11) + timedelta(minutes=20))})
    assert response.status_code == 422 and "Record what became of that appointment instead" in page_text(response)
    auth.logout()
    auth.sign_in("desk")  # staff book and mark sessions; they did not hold one
    assert _held(auth, team["course"], **{"held-starts_at": form_time(_yesterday(16))}).status_code == 403
    assert len(make.query(lambda: db.session.scalars(select(Appointment).where(
        Appointment.kind == "integration")).all())) == 1


def test_the_held_session_form_makes_the_clinician_say_how_it_was_held(team, make, auth, client, signed_window):
    auth.sign_in("ther")
    html = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    radios = re.findall(r'<input[^>]*name="held-modality"[^>]*>', html)
    assert len(radios) == 2 and not any("checked" in r for r in radios)
    refused = _held(auth, team["course"], **{"held-modality": ""})
    # the course page again, the form open with the error next to its field and what was typed kept
    assert refused.status_code == 422 and refused.request.path == f"/courses/{team['course']}/sessions/held"
    page = refused.get_data(as_text=True)
    assert re.search(r'<details class="card plan" open>\s*<summary>Enter a session that was held', page)
    assert "Say whether the session was held in person or by telehealth" in page_text(refused)
    assert 'value="Walk-in after a hard week"' in page


@pytest.mark.parametrize("who", ["staff_therapist", "team_prescriber_only"])
def test_only_a_therapist_on_the_care_team_enters_a_held_session(team, make, auth, signed_window, who):
    """The session is entered in the user's own name as its therapist: a therapist who sees every
    patient as staff, or who is on this patient's team only as prescriber, did not hold it as theirs."""
    from ketamine_integration.patients.care_team import change_care_team, team_of
    from ketamine_integration.patients.models import Patient

    if who == "staff_therapist":
        make.user("therapist", "staff", username="who")
    else:
        dual = make.user("therapist", "prescriber", username="who")

        def join():
            patient = db.session.get(Patient, team["patient"])
            change_care_team(patient, team_of(patient) | {(dual, "prescriber")}, by=None,
                             reason="covering prescriber joins")
        make.run(join)
    auth.sign_in("who")
    assert _held(auth, team["course"]).status_code == 403
    assert make.query(lambda: db.session.scalars(select(Appointment).where(Appointment.kind == "integration")).all()) == []
    denied = [r for r in make.audit_rows() if r.outcome == "denied" and r.patient_id == team["patient"]]
    assert denied and "care team" in denied[-1].detail


@pytest.mark.both_engines  # the lists count with a window function
def test_unconfirmed_sessions_are_on_the_staff_and_the_clinicians_worklists(team, make, auth, client, signed_window):
    booked = _past_booking(make, team, _yesterday())
    auth.sign_in("desk")
    text = page_text(client.get("/worklist"))
    assert "Sessions to confirm (1)" in text and "Scheduled" in text
    assert "Dosing session with no integration session planned" not in text  # unconfirmed, not to book
    auth.logout()
    auth.sign_in("ther")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))
    yesterdays_other = _past_booking(make, team, local(1, 16))
    marked = auth.post(f"/appointments/{yesterdays_other}/outcome", {"outcome": "no_show", "return_to": "home"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/#unconfirmed")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("ther2")  # someone else's session: not on their list, nor in their count
    home = page_text(client.get("/"))
    assert "My sessions to confirm" not in home and "Nothing waiting: sessions to confirm" in home
    auth.logout()
    auth.sign_in("desk")
    marked = auth.post(f"/appointments/{booked}/outcome", {"outcome": "attended", "return_to": "worklist"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/worklist#unconfirmed")
    assert "Sessions to confirm (0)" in page_text(client.get("/worklist"))
    # an unknown page to return to is ignored: back to the course, never elsewhere
    other = _past_booking(make, team, local(2, 15))
    response = auth.post(f"/appointments/{other}/outcome", {"outcome": "attended", "return_to": "https://evil.test"})
    assert response.headers["Location"].endswith(f"/courses/{team['course']}#windows")


def test_a_clinician_who_left_the_care_team_no_longer_sees_the_patient_on_their_list(team, make, auth, client,
                                                                                      signed_window):
    """The colleague's session yesterday has no outcome, and they have since left the care team: their
    home page no longer names the patient; the staff worklist still lists the session to settle."""
    from ketamine_integration.patients.care_team import change_care_team, team_of
    from ketamine_integration.patients.models import Patient

    _past_booking(make, team, _yesterday(), clinician=team["other_therapist"])
    auth.sign_in("ther2")
    assert "My sessions to confirm (1)" in page_text(client.get("/"))
    auth.logout()

    def leave():
        patient = db.session.get(Patient, team["patient"])
        change_care_team(patient, {m for m in team_of(patient) if m[0] != team["other_therapist"]}, by=None,
                         reason="colleague moved to another clinic")
    make.run(leave)
    auth.sign_in("ther2")
    home = page_text(client.get("/"))
    assert "Scheduled" not in home and "My sessions to confirm" not in home, home
    auth.logout()
    auth.sign_in("desk")
    text = page_text(client.get("/worklist"))
    assert "Sessions to confirm (1)" in text and "Scheduled" in text


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
    auth.sign_in("coverage-check")
    by_page = {course_id: _page_coverage(client.get(f"/courses/{course_id}").get_data(as_text=True))
               for course_id in by_report}
    assert by_page == {course_id: +counts for course_id, counts in by_report.items()}
    total = sum(by_page.values(), Counter())
    # the demo shows every state: held, booked ahead, one awaiting its outcome, and windows to book
    assert total[Coverage.COVERED] > 10 and total[Coverage.UNCONFIRMED] == 1
    assert total[Coverage.PROVISIONAL] > 0 and total[Coverage.UNCOVERED] > 0
