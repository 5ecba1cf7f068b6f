"""Provisional windows (issue 20, point 1): an integration session booked ahead for a planned dose,
checked again when the dose is signed, moved or cancelled, and moved from the staff worklist."""
import re
from datetime import datetime, time, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment, AppointmentChange, WorkingHours
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.icons import after_icon
from tests.integration.test_dosing import NY, _sign, form_time, local

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): no test here races another; the
# stored windows' upsert runs on both engines in test_window_store.py.

OUTSIDE_REAL = "Booked for a provisional window, now outside the real one"
DOSE_MOVED = "Booked for a provisional window; the dose moved and this is now outside its window"
DOSE_CANCELLED = "Booked for a provisional window; the dose was cancelled"


@pytest.fixture
def team(make):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(family_name="Ahead")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")

    def hours():  # the therapist works 9:00-17:00 every day: suggestions and moves have times to offer
        db.session.add_all(WorkingHours(clinician_id=ids["therapist"], weekday=d, starts=time(9), ends=time(17))
                           for d in range(7))
    make.run(hours)
    return ids


def _book(auth, team, starts: datetime, **fields):
    return auth.post(f"/courses/{team['course']}/sessions", {
        "starts_at": form_time(starts), "minutes": "50", "clinician": team["therapist"], "modality": "telehealth",
        **fields})


def _integration(make) -> list[Appointment]:
    def read():
        rows = db.session.scalars(select(Appointment).where(Appointment.kind == "integration")
                                  .order_by(Appointment.starts_at)).all()
        db.session.expunge_all()
        return rows
    return make.query(read)


def _worklist_rows(client) -> list[str]:
    """The staff worklist's rows, as text."""
    html = client.get("/worklist").get_data(as_text=True)
    body = re.split(r"<tbody[^>]*>", html, maxsplit=1)[1].split("</tbody>", 1)[0] if "<tbody" in html else ""
    return [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip() for row in body.split("</tr>")[:-1]]


def _move_form(client) -> dict:
    """The worklist's one-click move: its action and the time it moves to."""
    html = client.get("/worklist").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" class="worklist-move">(.*?)</form>', html, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    return {"action": form.group(1), **{k: unescape(v) for k, v in fields.items() if k != "csrf_token"}}


def test_an_integration_session_is_booked_ahead_for_a_dose_planned_next_week(team, make, auth, client):
    [dose] = make.dosing_plan(team["course"], first_start=local(-7), days_between=2, count=1)
    auth.sign_in("desk")
    page = page_text(client.get(f"/courses/{team['course']}"))
    # planned 9:00 in a week, booked for 120 minutes: the window opens a day after 11:00
    assert "Provisional windows of planned doses" in page and "Provisional: not yet open" in page
    assert "Nothing booked" in page and "Windows, in words" not in page
    assert "Suggested times for dosing session #1's provisional window" in page
    # before the provisional window opens (the day of the dose): refused, naming the window
    early = _book(auth, team, local(-7, 15))
    assert early.status_code == 422
    assert "outside every open integration window (#1 (dose planned, provisional):" in page_text(early)
    assert _integration(make) == []
    # inside it, as a suggestion of that window books it: booked, and linked to the dose
    assert _book(auth, team, local(-9, 14), for_dose=str(dose)).status_code == 302
    [booked] = _integration(make)
    assert booked.booked_for_dose_id == dose
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Booked, not yet held (in the optimal span): " + local(-9, 14).strftime("%b %d 14:00 (booked)") in page
    assert "booked for dosing session #1's provisional window" in page
    assert "Nothing booked" not in page and "now outside that dose's integration window" not in page
    assert not any("provisional window" in row for row in _worklist_rows(client))


@pytest.mark.parametrize("sent, expected", [
    ("second", "second"),        # booked from the second dose's suggestions: that dose
    ("", "first"),               # typed by hand: the earliest-closing provisional window holding the time
    ("not-a-number", "first"),   # not an id: ignored, as if typed by hand
    ("999999", "first"),         # no such dose of this course: ignored the same way
])
def test_the_dose_a_suggestion_names_is_only_a_preference(team, make, auth, sent, expected):
    """Two doses planned two days apart: their provisional windows overlap, and a session in both
    is linked to the one whose suggestions it was booked from, else to the one closing first."""
    doses = dict(zip(("first", "second"), make.dosing_plan(team["course"], first_start=local(-7),
                                                            days_between=2, count=2)))
    auth.sign_in("desk")
    assert _book(auth, team, local(-12, 10), for_dose=str(doses.get(sent, sent))).status_code == 302
    assert [a.booked_for_dose_id for a in _integration(make)] == [doses[expected]]


def _signed_ahead(make, auth, team) -> tuple[int, datetime]:
    """A dose planned three days ago (9:00, booked 120 minutes), two sessions booked for its provisional
    window (tomorrow 10:00, and half an hour before the window closes), then signed with dosing
    ended at 9:40: the real window closes 80 minutes before the provisional one did."""
    [dose] = make.dosing_plan(team["course"], first_start=local(3, 9), days_between=2, count=1)
    near_close = local(3, 11) + timedelta(days=14) - timedelta(minutes=30)
    auth.sign_in("desk")
    tomorrow = (datetime.now(NY) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    assert _book(auth, team, tomorrow).status_code == 302
    assert _book(auth, team, near_close).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    assert _sign(make, auth, dose, team["prescriber"]).status_code == 302
    return dose, near_close


def test_signing_checks_the_bookings_against_the_real_window(team, make, auth, client):
    dose, near_close = _signed_ahead(make, auth, team)
    # the signer is told, and the course page marks the one the real window leaves out
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "1 integration session booked for its provisional window is outside the dose's window now" in page
    assert page.count("It is now outside that dose's integration window and needs moving (the staff worklist "
                      "offers a time).") == 1
    assert "Windows, in words" in page and "Provisional windows of planned doses" not in page
    auth.logout()
    auth.sign_in("desk")
    [row] = [r for r in _worklist_rows(client) if "provisional window" in r]
    assert OUTSIDE_REAL in row and "Testa Ahead" in row and "for dose #1" in row
    assert f"session at {near_close.strftime('%Y-%m-%d %H:%M')}" in row and "Move to" in row
    html = client.get("/worklist").get_data(as_text=True)  # the why and the button each with its icon
    assert after_icon(html, "Move to ") == 1 and after_icon(html, OUTSIDE_REAL) == 1
    # the booking inside the real window stays as it was, linked to the dose it was booked for
    assert [a.booked_for_dose_id for a in _integration(make)] == [dose, dose]


def test_the_worklist_moves_the_booking_into_the_real_window(team, make, auth, client):
    _dose, near_close = _signed_ahead(make, auth, team)
    [stranded_id] = [a.id for a in _integration(make) if a.starts_at == near_close]
    auth.logout()
    auth.sign_in("desk")
    move = _move_form(client)
    assert move["action"] == f"/appointments/{stranded_id}/reschedule"
    moved = auth.post(move.pop("action"), move)
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/worklist")
    assert "Appointment moved." in page_text(client.get("/worklist"))
    assert not any("provisional window" in row for row in _worklist_rows(client))
    [later] = [a for a in _integration(make) if a.id == stranded_id]
    target = datetime.strptime(move["starts_at"], "%Y-%m-%dT%H:%M").replace(tzinfo=NY)
    assert later.starts_at == target and target < local(3, 9) + timedelta(days=14, minutes=40)
    changes = make.query(lambda: [(c.change, c.previous_start, c.reason) for c in db.session.scalars(
        select(AppointmentChange).where(AppointmentChange.appointment_id == later.id)
        .order_by(AppointmentChange.id))])
    assert changes[-1] == ("rescheduled", near_close,
                           "Moved into the window of the dose it was booked for (worklist)")
    [audited] = make.audit_rows(action="appointment.update", object_id=str(later.id))
    assert audited.detail == "reschedule from the worklist" and audited.outcome == "success"


def test_the_worklist_move_is_conflict_checked(team, make, auth, client):
    """Someone books the therapist at the suggested time after the worklist was shown: the move is
    refused, the booking stays where it was, and the refusal is audited."""
    _dose, near_close = _signed_ahead(make, auth, team)
    auth.logout()
    auth.sign_in("desk")
    move = _move_form(client)
    other = make.course(make.patient(family_name="Other"), team["therapist"], team["prescriber"],
                        phase="integration")
    taken = datetime.strptime(move["starts_at"], "%Y-%m-%dT%H:%M").replace(tzinfo=NY)
    assert auth.post(f"/courses/{other}/sessions", {
        "starts_at": form_time(taken), "minutes": "50", "clinician": team["therapist"],
        "modality": "telehealth"}).status_code == 302
    refused = auth.post(move.pop("action"), move)
    assert refused.status_code == 302
    assert "That time overlaps: Integration session with Hazel Quint" in page_text(client.get("/worklist"))
    stranded = [a for a in _integration(make) if a.course_id == team["course"]][-1]
    assert stranded.starts_at == near_close
    failure = make.audit_rows(action="appointment.update", object_id=str(stranded.id))[-1]
    assert failure.outcome == "failure" and failure.detail == "reschedule from the worklist refused"


def test_a_moved_dose_moves_its_provisional_window_and_flags_its_booking(team, make, auth, client):
    [dose] = make.dosing_plan(team["course"], first_start=local(-7), days_between=2, count=1)
    auth.sign_in("desk")
    assert _book(auth, team, local(-9, 14), for_dose=str(dose)).status_code == 302
    assert not any("provisional window" in row for row in _worklist_rows(client))
    moved = auth.post(f"/dosing/{dose}/reschedule", {"planned_start": form_time(local(-14)), "reason": ""})
    assert moved.status_code == 302
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "Dosing session 1 moved." in page
    assert "1 integration session booked for its provisional window is outside the dose's window now" in page
    # the provisional window moved with the dose: it opens the day after the new date
    assert f"#1, planned for {local(-14).strftime('%Y-%m-%d %H:%M')}" in page
    assert "Nothing booked" in page and "It is now outside that dose's integration window and needs moving" in page
    [row] = [r for r in _worklist_rows(client) if "provisional window" in r]
    assert DOSE_MOVED in row and "Move to" in row
    move = _move_form(client)
    assert auth.post(move.pop("action"), move).status_code == 302
    [booking] = _integration(make)
    assert booking.starts_at >= local(-15, 11) and booking.booked_for_dose_id == dose
    assert not any("provisional window" in row for row in _worklist_rows(client))
    assert "Booked, not yet held" in page_text(client.get(f"/courses/{team['course']}"))


def test_a_cancelled_dose_flags_its_provisional_booking(team, make, auth, client):
    [dose] = make.dosing_plan(team["course"], first_start=local(-7), days_between=2, count=1)
    auth.sign_in("desk")
    assert _book(auth, team, local(-9, 14)).status_code == 302
    assert auth.post(f"/dosing/{dose}/cancel", {"reason": "Patient unwell this week"}).status_code == 302
    page = page_text(client.get(f"/courses/{team['course']}"))
    assert "1 integration session booked for its provisional window has no window now" in page
    [row] = [r for r in _worklist_rows(client) if "provisional window" in r]
    assert DOSE_CANCELLED in row and "Move to" not in row and "Open the course" in row
    # cancelling the booking takes it off the list
    [booking] = _integration(make)
    assert auth.post(f"/appointments/{booking.id}/cancel", {"reason": "Dose cancelled"}).status_code == 302
    assert not any("provisional window" in row for row in _worklist_rows(client))


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_books_an_integration_session_ahead_for_a_planned_booster(make, auth, client):
    from ketamine_integration.experience.models import DosingSession

    rows = make.query(lambda: db.session.execute(
        select(Appointment.course_id, Appointment.starts_at, DosingSession.sequence, DosingSession.status,
               DosingSession.planned_start)
        .join(DosingSession, DosingSession.id == Appointment.booked_for_dose_id)
        .where(Appointment.kind == "integration", Appointment.status == "booked")).all())
    assert rows and all(status == "planned" and planned < starts for _c, starts, _s, status, planned in rows)
    make.user("staff", username="ahead-check")
    auth.sign_in("ahead-check")
    course_id, _starts, sequence, _status, _planned = rows[0]
    page = page_text(client.get(f"/courses/{course_id}"))
    assert "Provisional windows of planned doses" in page and "Booked, not yet held" in page
    assert f"booked for dosing session #{sequence}'s provisional window" in page
    assert not any("provisional window" in row for row in _worklist_rows(client))


def _window_rows(client, course_id) -> dict[str, str]:
    """The course page's window table rows, as text, by their first cell's dose number ("#1")."""
    html = client.get(f"/courses/{course_id}").get_data(as_text=True)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        if text.startswith("#"):
            rows[text.split(",", 1)[0]] = text
    return rows


def test_a_session_booked_for_a_planned_dose_counts_for_its_window_not_an_earlier_one(team, make, auth, client):
    """IM KAP (one session per dose, none shared): dose #1 signed three days ago, its window open a
    week more; dose #2 planned in two days. A session booked from #2's suggestions in the days both
    windows hold is #2's: #1 stays to be booked, on the course page and the staff worklist."""
    from tests.integration.test_note_windows import _signed_dose

    course = make.course(make.patient(family_name="Pinned"), team["therapist"], team["prescriber"],
                         phase="experience", protocol="im-ketamine-kap")
    first = _signed_dose(make, course, 1, ended=local(3, 10))
    [second] = make.dosing_plan(course, first_start=local(-2, 9), days_between=5, count=1)
    auth.sign_in("desk")
    both = local(-4, 14)  # inside #1's window (closes in a week) and #2's provisional one
    assert auth.post(f"/courses/{course}/sessions", {
        "starts_at": form_time(both), "minutes": "50", "clinician": team["therapist"], "modality": "telehealth",
        "for_dose": str(second)}).status_code == 302
    [booked] = [a for a in _integration(make) if a.course_id == course]
    assert booked.booked_for_dose_id == second
    rows = _window_rows(client, course)
    assert "Nothing booked" in rows["#1"] and "Booked, not yet held" in rows["#2"]
    assert both.strftime("%b %d 14:00 (booked)") in rows["#2"]
    # the worklist flags #1's window (read from the stored windows: they honour the pin too)
    assert any("Testa Pinned" in row and "dose #1:" in row for row in _worklist_rows(client))
    assert first != second
    # the dose moves so that its window no longer holds the session: the pin lapses, #1's window takes it
    assert auth.post(f"/dosing/{second}/reschedule", {"planned_start": form_time(local(-6, 9)),
                                                      "reason": "Patient asked for later"}).status_code == 302
    rows = _window_rows(client, course)
    assert "Booked, not yet held" in rows["#1"] and "Nothing booked" in rows["#2"]
    assert not any("Testa Pinned" in row and "dose #1:" in row for row in _worklist_rows(client))
