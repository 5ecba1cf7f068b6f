"""The time-grid calendar (issue 21, point 2): week and day views with sessions as blocks, free slots
that open the booking form filled in, one appointment's page with its actions; who sees what, the
audit rows, and SQL statements that do not grow with the sessions shown."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from html import unescape
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment, AppointmentChange, WorkingHours
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import CareTeamMember
from tests.conftest import page_text, todays_world
from tests.statements import page_statements

NY = ZoneInfo("America/New_York")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NY)


def next_monday() -> date:
    """A Monday two to eight days ahead: never tomorrow, whose columns carry a "Tomorrow" tag between
    their heading and its count (these tests failed every Sunday, clinic time)."""
    today = datetime.now(NY).date()
    ahead = 7 - today.weekday()
    return today + timedelta(days=ahead if ahead > 1 else ahead + 7)


@pytest.fixture
def clinic(make):
    """Two therapists' courses in integration (a nurse on the first's care team), a prescriber, the desk, two
    rooms and every day's working hours. Built once per day and worker on each engine (reused_world): a file copy
    on SQLite, the rows written back by COPY on PostgreSQL."""
    return todays_world(make.app, "calendar_grid", lambda: _clinic(make))


def _clinic(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "other": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"),
           "nurse": make.user("nurse", username="nurse1", full_name="Nell Ward")}
    ids["patient"] = make.patient(family_name="Gridded", nurses=[ids["nurse"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    ids["other_patient"] = make.patient(family_name="Elsewhere")
    ids["other_course"] = make.course(ids["other_patient"], ids["other"], ids["prescriber"], phase="integration")
    ids["room"], ids["room2"] = make.room("Cedar Room"), make.room("Birch Room")

    def hours():
        for clinician in (ids["therapist"], ids["other"]):
            db.session.add_all(WorkingHours(clinician_id=clinician, weekday=d, starts=time(9), ends=time(17))
                               for d in range(7))
    make.run(hours)
    return ids


def add_appointment(make, clinic, when: datetime, *, minutes=50, clinician="therapist", course="course",
                    patient="patient", room="room", kind="integration", status="booked", outcome=None) -> int:
    def add():
        a = Appointment(patient_id=clinic[patient], course_id=clinic[course], clinician_id=clinic[clinician],
                        kind=kind, starts_at=when, ends_at=when + timedelta(minutes=minutes),
                        modality="in_person" if room else "telehealth", room_id=clinic[room] if room else None,
                        status=status, outcome=outcome, created_by_id=clinic["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=clinic["staff"]))
        db.session.add(a)
        db.session.flush()
        return a.id
    return make.run(add)


def words(inner_html: str) -> str:
    """What a screen reader reads of a link: its text but what is hidden from it, whitespace folded."""
    shown = re.sub(r'<span[^>]*aria-hidden="true"[^>]*>[^<]*</span>', "", inner_html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", shown))).strip()


def blocks(response) -> list[str]:
    """The text of each session's link on the grid (not the list)."""
    html = response.get_data(as_text=True)
    grid = html[html.index('class="tg-scroll"'):html.index('class="tg-list"')]
    return [words(m) for m in re.findall(r'<a class="tg-block[^"]*"[^>]*>(.*?)</a>', grid, flags=re.S)]


def slots(response) -> list[str]:
    """The names of the free slots' links on the grid."""
    html = response.get_data(as_text=True)
    grid = html[html.index('class="tg-scroll"'):html.index('class="tg-list"')]
    return [unescape(m) for m in re.findall(r'<a class="tg-free" href="[^"]*" aria-label="([^"]*)"', grid)]


def slot_href(response, label: str) -> str:
    html = response.get_data(as_text=True)
    [href] = {unescape(h) for h, name in re.findall(r'<a class="tg-free" href="([^"]*)" aria-label="([^"]*)"', html)
              if unescape(name) == label}
    return href


def item_classes(response, text: str) -> str:
    """The grid item (li) classes of the session whose link says `text`."""
    html = response.get_data(as_text=True)
    grid = html[html.index('class="tg-scroll"'):html.index('class="tg-list"')]
    for classes, inner in re.findall(r'<li class="([^"]*)"><a class="tg-block[^"]*"[^>]*>(.*?)</a>', grid, flags=re.S):
        if text in words(inner):
            return classes
    raise AssertionError(f"no block says {text!r}")


def test_the_week_shows_each_session_as_a_block_with_its_full_description(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday + timedelta(days=1), 10))
    add_appointment(make, clinic, at(monday + timedelta(days=2), 11), kind="follow_up", room=None, minutes=30)
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}&therapist={clinic['therapist']}")
    assert week.status_code == 200
    tuesday = monday + timedelta(days=1)
    assert blocks(week) == [
        f"{tuesday:%a %b} {tuesday.day}, 10:00–10:50, Testa Gridded, Integration session, with Hazel Quint, "
        "Cedar Room, Booked",
        f"{tuesday + timedelta(days=1):%a %b} {(tuesday + timedelta(days=1)).day}, 11:00–11:30, Testa Gridded, "
        "Follow-up, with Hazel Quint, Telehealth, Booked"]
    # hours down the side from the therapist's 9-to-5, a column per day
    assert "Time grid, 09:00 to 17:00, a column per day" in page_text(week)
    # sized by length: 50 minutes is ten five-minute rows, starting on the 10:00 row
    assert item_classes(week, "10:00–10:50").split()[:2] == ["tg-r13", "tg-s10"]


def test_overlapping_sessions_sit_side_by_side(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    add_appointment(make, clinic, at(monday, 10, 30), clinician="other", course="other_course",
                    patient="other_patient", room="room2")
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}")   # the whole clinic: both
    assert item_classes(week, "Testa Gridded").split()[2:] == ["tg-l1", "tg-w1"]
    assert item_classes(week, "Testa Elsewhere").split()[2:] == ["tg-l2", "tg-w1"]
    assert 'class="tg-body tg-lanes2"' in week.get_data(as_text=True)


def test_more_overlapping_sessions_than_a_column_shows_readably_are_one_more_link(clinic, make, auth, client):
    """Issue 21 review: twelve sessions on a Friday morning shrank to slivers reading "0…" in the week.
    A week's column shows two lanes side by side; past them, "+k more" links to that day's view,
    where each clinician has a column; the list (narrow screens, paper) still lists every one."""
    monday = next_monday()
    for n in range(3):  # three at 10:00, each with its own room and patient
        patient = make.patient(family_name=f"Crowd{n}")
        course = make.course(patient, clinic["other"] if n else clinic["therapist"], clinic["prescriber"],
                             phase="integration")
        clinic[f"p{n}"], clinic[f"c{n}"], clinic[f"r{n}"] = patient, course, make.room(f"Room {n}")
        add_appointment(make, clinic, at(monday, 10), clinician="other" if n else "therapist", course=f"c{n}",
                        patient=f"p{n}", room=f"r{n}")
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}&kind=integration")
    html = week.get_data(as_text=True)
    assert len(blocks(week)) == 1 and len(_listed(week)) == 3
    [(href, name)] = re.findall(r'<a class="tg-more" href="([^"]*)" aria-label="([^"]*)"', html)
    assert unescape(name) == f"2 more sessions, 10:00–10:50, {monday:%a %b} {monday.day}: open the view that shows them"
    path, query = unescape(href).split("?")
    assert path == "/calendar" and dict(parse_qsl(query)) == {"view": "day", "date": str(monday), "by": "clinician",
                                                              "kind": "integration"}
    assert f"{monday:%a %b} {monday.day} : 3 sessions" in page_text(week)  # the column's heading counts all
    assert 'class="tg-body tg-lanes2"' in html
    # the day view by clinician: Ivo's two side by side in his column (the day has two columns: seven lanes)
    day = client.get(unescape(href))
    assert len(blocks(day)) == 3 and 'class="tg-more"' not in day.get_data(as_text=True)


def _listed(response) -> list[str]:
    html = response.get_data(as_text=True)
    listed = html[html.index('class="tg-list"'):]
    return [words(m) for m in re.findall(r'<a class="tg-block[^"]*"[^>]*>(.*?)</a>', listed, flags=re.S)]


def test_cancelled_and_no_show_sessions_say_so_in_words(clinic, make, auth, client):
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    add_appointment(make, clinic, at(yesterday, 9), status="no_show", outcome="no_show")
    add_appointment(make, clinic, at(yesterday, 11), status="cancelled")
    add_appointment(make, clinic, at(yesterday, 13))  # its time came with no outcome
    auth.sign_in("desk")
    said = blocks(client.get(f"/calendar?date={yesterday}&view=day&therapist={clinic['therapist']}"))
    assert [b.rsplit(", ", 1)[1] for b in said] == ["No-show", "Cancelled", "Unconfirmed"]


def test_the_day_view_has_a_column_per_clinician_or_per_room(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    add_appointment(make, clinic, at(monday, 12), clinician="other", course="other_course", patient="other_patient",
                    room=None)
    auth.sign_in("desk")
    by_clinician = page_text(client.get(f"/calendar?date={monday}&view=day&by=clinician"))
    assert re.findall(r"(Hazel Quint|Ivo Second) : (\d) sessions?", by_clinician) == [
        ("Hazel Quint", "1"), ("Ivo Second", "1")]
    by_room = page_text(client.get(f"/calendar?date={monday}&view=day&by=room"))
    assert re.findall(r"(Birch Room|Cedar Room|Telehealth) : (\d) sessions?", by_room) == [
        ("Birch Room", "0"), ("Cedar Room", "1"), ("Telehealth", "1")]


def test_filters_narrow_what_is_shown_and_unreadable_ones_fall_back(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    add_appointment(make, clinic, at(monday, 13), kind="follow_up", room="room2")
    auth.sign_in("desk")
    assert len(blocks(client.get(f"/calendar?date={monday}"))) == 2
    assert [b.split(", ")[3] for b in blocks(client.get(f"/calendar?date={monday}&kind=follow_up"))] == [
        "Follow-up"]
    assert [b.split(", ")[1] for b in blocks(client.get(f"/calendar?date={monday}&room={clinic['room2']}"))] == [
        "13:00–13:50"]
    odd = client.get(f"/calendar?date={monday}&view=year&by=desk&kind=party&room=x&therapist=-1")
    assert odd.status_code == 200 and len(blocks(odd)) == 2   # a week of the whole clinic
    # previous / next / today keep the filters
    text = odd.get_data(as_text=True)
    assert f'href="/calendar?view=week&amp;date={monday - timedelta(days=7)}&amp;by=clinician" rel="prev"' in text


def test_the_hours_shown_come_from_the_clinics_hours_and_sessions(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 18, 15))   # an evening session
    auth.sign_in("desk")
    assert "Time grid, 09:00 to 20:00" in page_text(client.get(f"/calendar?date={monday}"))
    early = make.user("therapist", username="early", full_name="Early Bird")
    make.run(lambda: db.session.add(WorkingHours(clinician_id=early, weekday=monday.weekday(), starts=time(7),
                                                 ends=time(11))))
    assert "Time grid, 07:00 to 11:00" in page_text(client.get(f"/calendar?date={monday}&view=day&therapist={early}"))


def test_the_now_line_is_in_todays_column_at_the_clinics_time(clinic, make, auth, client):
    make.run(lambda: db.session.add_all(WorkingHours(clinician_id=clinic["therapist"], weekday=d, starts=time(0),
                                                     ends=time(23, 59)) for d in range(7)))
    auth.sign_in("ther")
    before = datetime.now(NY)
    html = client.get("/calendar").get_data(as_text=True)
    after = datetime.now(NY)
    [(row, said)] = re.findall(r'<li class="tg-now tg-r(\d+)"><span>Now (\d\d:\d\d)</span>', html)
    assert said in {f"{before:%H:%M}", f"{after:%H:%M}"}
    hour, minute = map(int, said.split(":"))
    assert int(row) == (hour * 60 + minute) // 5 + 1   # the grid starts at midnight here
    today = html[html.index('class="tg-col tg-today"'):]
    assert today.index("tg-now") < today.index("</section>")


def test_a_dst_day_keeps_sessions_on_their_wall_clock_rows(clinic, make, auth, client):
    spring, ordinary = date(2026, 3, 8), date(2026, 3, 1)   # a 23-hour Sunday and the one before
    add_appointment(make, clinic, at(spring, 10))
    add_appointment(make, clinic, at(ordinary, 10), patient="other_patient", course="other_course",
                    clinician="other")
    auth.sign_in("desk")
    on_spring = client.get(f"/calendar?date={spring}&view=day&therapist={clinic['therapist']}")
    on_ordinary = client.get(f"/calendar?date={ordinary}&view=day&therapist={clinic['other']}")
    assert item_classes(on_spring, "10:00–10:50").split()[:2] == ["tg-r13", "tg-s10"]
    assert item_classes(on_ordinary, "10:00–10:50").split()[:2] == ["tg-r13", "tg-s10"]


# -- who sees what ---------------------------------------------------------------------------

@pytest.mark.parametrize("who, sees, free_slots", [
    ("desk", {"Testa Gridded", "Testa Elsewhere"}, False),   # staff: the whole clinic; slots once a therapist is chosen
    ("ther", {"Testa Gridded"}, True),                       # a therapist: their own sessions and free time
    ("ther2", {"Testa Elsewhere"}, True),
    ("pres", set(), False),                                   # a prescriber: their own (none here); no therapist slots
    ("nurse1", {"Testa Gridded"}, False),                     # a nurse: their care-team patients'; books nothing
])
def test_each_role_sees_its_own_calendar(clinic, make, auth, client, who, sees, free_slots):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    add_appointment(make, clinic, at(monday, 11), clinician="other", course="other_course", patient="other_patient",
                    room="room2")
    auth.sign_in(who)
    week = client.get(f"/calendar?date={monday}&therapist={clinic['other']}")
    assert {b.split(", ")[2] for b in blocks(week)} == sees if who != "desk" else {"Testa Elsewhere"}
    assert bool(slots(week)) is (free_slots or who == "desk")
    if who != "desk":
        assert bool(slots(client.get(f"/calendar?date={monday}"))) is free_slots


def test_a_clinician_who_left_the_care_team_no_longer_reads_its_patients_sessions(clinic, make, auth, client):
    """Attacker review of issue 21 (D1): a session already held stays on the clinician's calendar
    only while the patient is on their care team (leaving is refused while a booking ahead stays)."""
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    add_appointment(make, clinic, at(yesterday, 10), status="attended", outcome="attended")
    auth.sign_in("ther")
    [held] = blocks(client.get(f"/calendar?date={yesterday}&view=day"))
    assert "Testa Gridded" in held
    make.run(lambda: db.session.execute(
        CareTeamMember.__table__.delete().where(CareTeamMember.patient_id == clinic["patient"],
                                                CareTeamMember.user_id == clinic["therapist"])))
    for view in ("day", "week"):
        page = client.get(f"/calendar?date={yesterday}&view={view}")
        assert page.status_code == 200 and blocks(page) == [] and "Gridded" not in page_text(page)


def test_free_slots_name_the_time_therapist_and_room_and_skip_busy_time(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))                       # Hazel, Cedar Room, 10:00-10:50
    add_appointment(make, clinic, at(monday, 13), clinician="other", course="other_course",
                    patient="other_patient", room="room2")              # Birch Room taken at 13:00
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}&therapist={clinic['therapist']}")
    labels = [s for s in slots(week) if s.endswith(f"{monday:%a %b} {monday.day}")]
    # a slot is a 50-minute integration session (the type booked when none is chosen), all of it
    # free, named by its real start and end
    assert labels[0] == f"Book 09:00–09:50 with Hazel Quint in Birch Room, {monday:%a %b} {monday.day}"
    starts = [label.split()[1][:5] for label in labels]
    # 09:30 would run into the 10:00 booking, 16:30 past the therapist's 17:00
    assert "09:30" not in starts and "10:00" not in starts and "10:30" not in starts and "11:00" in starts
    assert "16:00" in starts and "16:30" not in starts
    assert any(label.startswith("Book 13:00–13:50 with Hazel Quint in Cedar Room") for label in labels)
    assert len(labels) == 12
    # a room's day: free while the room is and some therapist is, for the whole session
    rooms = client.get(f"/calendar?date={monday}&view=day&by=room&room={clinic['room2']}")
    assert f"Book 12:00–12:50 in Birch Room, {monday:%a %b} {monday.day}" in slots(rooms)
    assert not any(s.startswith(("Book 12:30", "Book 13:00")) for s in slots(rooms))
    # a session type chosen: slots of its length (a 30-minute follow-up fits at 12:30 in Birch Room)
    follow_ups = client.get(f"/calendar?date={monday}&view=day&by=room&room={clinic['room2']}&kind=follow_up")
    assert f"Book 12:30–13:00 in Birch Room, {monday:%a %b} {monday.day}" in slots(follow_ups)
    assert "a 30-minute follow-up fits whole" in page_text(follow_ups)


# -- booking a free slot -------------------------------------------------------------------

def test_a_free_slot_opens_the_booking_form_filled_in_and_books_back_to_the_calendar(clinic, make, auth, client):
    monday = next_monday()
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}&therapist={clinic['therapist']}")
    label = f"Book 10:00–10:50 with Hazel Quint in Birch Room, {monday:%a %b} {monday.day}"
    picker = client.get(slot_href(week, label))
    assert picker.status_code == 200
    text = page_text(picker)
    assert f"Book {monday:%a %b %d}, 10:00 with Hazel Quint in Birch Room" in text
    # the slot's therapist's patients first
    assert text.index("Book for Testa Gridded") < text.index("Book for Testa Elsewhere")
    assert "Book for Testa Elsewhere" not in page_text(client.get(slot_href(week, label) + "&q=Gridded"))
    [href] = re.findall(r'href="([^"]*)">Book for Testa Gridded', picker.get_data(as_text=True))
    form = client.get(unescape(href))
    html = form.get_data(as_text=True)
    assert f'value="{monday}T10:00"' in html
    assert re.search(rf'<option selected value="{clinic["therapist"]}">Hazel Quint', html)
    assert re.search(rf'<option selected value="{clinic["room2"]}">Birch Room', html)
    assert 'name="return_to" value="calendar"' in html
    [calendar] = re.findall(r'name="calendar" value="([^"]*)"', html)
    booked = auth.post(f"/courses/{clinic['course']}/sessions", {
        "kind": "integration", "starts_at": f"{monday}T10:00", "clinician": clinic["therapist"],
        "modality": "in_person", "room": clinic["room2"], "return_to": "calendar", "calendar": unescape(calendar)})
    assert booked.status_code == 302
    assert booked.headers["Location"] == \
        f"/calendar?view=week&date={monday}&by=clinician&therapist={clinic['therapist']}"
    after = client.get(booked.headers["Location"])
    assert "Integration session booked." in page_text(after)
    assert any(b.startswith(f"{monday:%a %b} {monday.day}, 10:00–10:50, Testa Gridded") for b in blocks(after))
    assert make.audit_rows(action="appointment.create")[-1].patient_id == clinic["patient"]


def test_a_booking_from_a_day_view_comes_back_to_that_view_and_its_filters(clinic, make, auth, client):
    """Issue 21 review: booked from a free slot of the day view by room, the calendar came back as
    the week. The view, its columns and filters travel with the slot, to the day booked."""
    monday = next_monday()
    auth.sign_in("desk")
    day = client.get(f"/calendar?date={monday}&view=day&by=room&room={clinic['room2']}&kind=integration")
    href = slot_href(day, f"Book 11:00–11:50 in Birch Room, {monday:%a %b} {monday.day}")
    picker = client.get(href)
    back = f"/calendar?view=day&amp;date={monday}&amp;by=room&amp;room={clinic['room2']}&amp;kind=integration"
    assert f'href="{back}">Back to the calendar' in picker.get_data(as_text=True)
    [pick] = re.findall(r'href="([^"]*)">Book for Testa Gridded', picker.get_data(as_text=True))
    html = client.get(unescape(pick)).get_data(as_text=True)
    assert f'href="{back}">Back to the calendar' in html
    [calendar] = re.findall(r'name="calendar" value="([^"]*)"', html)
    form = {"kind": "integration", "starts_at": f"{monday}T11:00", "clinician": clinic["therapist"],
            "modality": "in_person", "room": clinic["room2"], "return_to": "calendar", "calendar": unescape(calendar)}
    booked = auth.post(f"/courses/{clinic['course']}/sessions", form)
    assert booked.headers["Location"] == unescape(back)
    assert any(b.startswith("11:00–11:50, Testa Gridded") for b in blocks(client.get(booked.headers["Location"])))
    # a refusal shows the form again, still carrying the way back
    refused = auth.post(f"/courses/{clinic['course']}/sessions", form)
    assert refused.status_code == 422 and f'href="{back}">Back to the calendar' in refused.get_data(as_text=True)
    # what else the field carries is dropped: only the calendar's own filters come back
    odd = dict(form, starts_at=f"{monday}T14:00", calendar="view=day&next=https://evil.example&by=nonsense")
    assert auth.post(f"/courses/{clinic['course']}/sessions", odd).headers["Location"] == \
        f"/calendar?view=day&date={monday}&by=clinician"


def test_a_refused_booking_from_the_calendar_comes_back_to_its_form(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    auth.sign_in("desk")
    refused = auth.post(f"/courses/{clinic['course']}/sessions", {
        "kind": "integration", "starts_at": f"{monday}T10:15", "clinician": clinic["therapist"],
        "modality": "in_person", "room": clinic["room2"], "return_to": "calendar"})
    assert refused.status_code == 422
    text = page_text(refused)
    assert "Book a session for Testa Gridded" in text and "That time overlaps" in text
    assert 'name="return_to" value="calendar"' in refused.get_data(as_text=True)


@pytest.mark.parametrize("query, status, said", [
    ("starts_at=not-a-time", 400, "Enter a real date and time"),             # unreadable
    ("starts_at=2026-03-08T02:30", 400, "does not exist"),              # the hour the clocks skip
    ("", 400, "This field is required"),                                # none
])
def test_an_unreadable_slot_says_why_and_books_nothing(clinic, auth, client, query, status, said):
    auth.sign_in("desk")
    response = client.get(f"/calendar/book?{query}")
    assert response.status_code == status and said in page_text(response)


def test_only_those_who_book_get_free_slots_and_the_booking_page(clinic, make, auth, client):
    monday = next_monday()
    auth.sign_in("nurse1")
    assert client.get(f"/calendar/book?starts_at={monday}T10:00").status_code == 403
    auth.logout()
    auth.sign_in("ther")   # a therapist picks among their own caseload
    picker = page_text(client.get(f"/calendar/book?starts_at={monday}T10:00&clinician={clinic['therapist']}"))
    assert "Book for Testa Gridded" in picker and "Testa Elsewhere" not in picker
    assert client.get(f"/calendar/book?starts_at={monday}T10:00&course={clinic['other_course']}").status_code == 403


# -- one appointment --------------------------------------------------------------------------

def test_a_block_opens_its_appointment_with_move_and_cancel(clinic, make, auth, client):
    monday = next_monday()
    appointment = add_appointment(make, clinic, at(monday, 10))
    auth.sign_in("desk")
    week = client.get(f"/calendar?date={monday}")
    assert f'href="/appointments/{appointment}"' in week.get_data(as_text=True)
    page = client.get(f"/appointments/{appointment}")
    text = page_text(page)
    assert "Integration session: Testa Gridded" in text and "Hazel Quint" in text and "Cedar Room" in text
    assert "Move it" in text and "Cancel it" in text
    [row] = make.audit_rows(action="appointment.view")
    assert (row.patient_id, row.object_id) == (clinic["patient"], str(appointment))
    moved = auth.post(f"/appointments/{appointment}/reschedule", {"starts_at": f"{monday}T14:00",
                                                                   "return_to": "appointment"})
    assert moved.headers["Location"] == f"/appointments/{appointment}"
    assert "14:00–14:50" in page_text(client.get(moved.headers["Location"]))
    cancelled = auth.post(f"/appointments/{appointment}/cancel", {"reason": "patient unwell",
                                                                   "return_to": "appointment"})
    assert cancelled.headers["Location"] == f"/appointments/{appointment}"
    assert "Cancelled: patient unwell" in page_text(client.get(f"/appointments/{appointment}"))


def test_an_appointment_whose_time_came_takes_its_outcome_from_its_page(clinic, make, auth, client):
    appointment = add_appointment(make, clinic, at(datetime.now(NY).date() - timedelta(days=1), 10))
    auth.sign_in("ther")
    page = page_text(client.get(f"/appointments/{appointment}"))
    assert "It has ended and no outcome is recorded" in page and "Status Unconfirmed : it has ended" in page
    marked = auth.post(f"/appointments/{appointment}/outcome", {"outcome": "attended", "return_to": "appointment"})
    assert marked.headers["Location"] == f"/appointments/{appointment}"
    assert "Status Attended" in page_text(client.get(marked.headers["Location"]))


def test_an_appointment_page_is_for_those_who_may_see_its_patient(clinic, make, auth, client):
    appointment = add_appointment(make, clinic, at(next_monday(), 10))
    auth.sign_in("ther2")   # not on the patient's care team
    assert client.get(f"/appointments/{appointment}").status_code == 403
    auth.logout()
    auth.sign_in("nurse1")  # on it: reads it, changes nothing
    page = page_text(client.get(f"/appointments/{appointment}"))
    assert "Testa Gridded" in page and "Move it" not in page and "What to do with it" not in page


def test_the_calendar_audits_one_list_row(clinic, make, auth, client):
    monday = next_monday()
    add_appointment(make, clinic, at(monday, 10))
    auth.sign_in("desk")
    client.get(f"/calendar?date={monday}")
    [row] = make.audit_rows(action="patient.list")
    assert row.detail == "calendar; 1 sessions" and row.patient_id is None


# -- statements -------------------------------------------------------------------------------



@pytest.mark.both_engines  # statement counts
@pytest.mark.parametrize("view", ["", "&therapist={therapist}", "&view=day&by=clinician", "&view=day&by=room"])
def test_the_calendar_runs_the_same_statements_however_many_sessions(clinic, make, auth, client, app, view):
    monday = next_monday()
    path = f"/calendar?date={monday}" + view.format(therapist=clinic["therapist"])
    add_appointment(make, clinic, at(monday, 9))
    auth.sign_in("desk")
    one = page_statements(app, client, path)
    for n in range(1, 6):
        patient = make.patient(family_name=f"More{n}")
        course = make.course(patient, clinic["therapist"], clinic["prescriber"], phase="integration")
        add_appointment(make, {**clinic, "p": patient, "c": course}, at(monday + timedelta(days=n % 3), 9 + n),
                        patient="p", course="c", room="room2" if n % 2 else "room")
    assert page_statements(app, client, path) == one
    assert len(make.query(lambda: db.session.scalars(select(Appointment)).all())) == 6
