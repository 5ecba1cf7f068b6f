"""Home page per role (issue 21, point 1): the day first (today's and tomorrow's sessions on the
calendar's time grid, with the list the grid gives way to on small screens), then what waits on the
user as counts linking to where the work is done, then the lists; the menu's badge with their sum;
answers to one's notes new until opened; every count audited; the caseload's next session."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.coordination.models import ReplySeen
from ketamine_integration.extensions import db
from ketamine_integration.demo.clinic import DEMO_PASSWORD
from ketamine_integration.home.waiting import waiting_for
from tests.conftest import page_text
from tests.home_world import NY, REPLY, URGENT, at, reused_home_world
from tests.integration.test_calendar_grid import words


@pytest.fixture
def world(make):
    return reused_home_world(make)


def _home(auth, client, username) -> tuple[str, str]:
    auth.sign_in(username)
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True), page_text(response)


def _counts(html: str) -> dict[str, tuple[int, str]]:
    """The count cards: their words -> (number, link)."""
    return {re.sub(r"\s+", " ", words).strip(): (int(number), href) for href, number, words in re.findall(
        r'<a class="count-card[^"]*" href="([^"]+)"><span class="count-number">(\d+)</span> '
        r'<span class="count-words">(.*?)</span>(?:<svg .*?</svg>)?</a>', html, re.S)}


def _unconfirmed_today() -> int:
    """The therapist's session of today (00:30–01:20) waits for its outcome once it has ended (while
    it is under way it waits for nothing)."""
    return int(datetime.now(NY) >= at(0, 1, 20))


def _day(html: str, prefix: str = "home-grid") -> dict[str, list[str]]:
    """The home page's time grid (prefix "home-grid") or the list it gives way to on a small screen
    ("home-list"): each column's tag ("Today", "Tomorrow") -> what each session's link says, then
    under it what the page adds (a note to write, a dosing record), each as a screen reader reads it."""
    found = {}
    for column in re.findall(rf'<section class="[^"]*" aria-labelledby="{prefix}-\d{{4}}-\d\d-\d\d">(.*?)</section>',
                             html, re.S):
        tag = re.search(r'<span class="tag">(\w+)</span>', column).group(1)
        found[tag] = [words(link) + (f" | {words(extra)}" if extra else "") for link, extra in re.findall(
            r'<a class="tg-block[^"]*"[^>]*>(.*?)</a>\s*(?:<div class="tg-extra">(.*?)</div>)?', column, re.S)]
    return found


def _session(times: str, patient: str, what: str, clinician: str, place: str) -> re.Pattern:
    """A session's link as a screen reader reads it, whatever became of it by now."""
    return re.compile(rf"(\w{{3}} \w{{3}} \d+, )?{times}, {patient}, {what}, with {clinician}, {place}, "
                      rf"(Booked|Under way|Unconfirmed)")


def _badge(html: str) -> str | None:
    found = re.search(r'<span class="badge">(\d+)<span class="visually-hidden"> (items? waiting)</span></span>', html)
    return f"{found.group(1)} {found.group(2)}" if found else None


def test_staff_land_on_the_clinics_day_then_the_windows_to_book_not_on_recent_registrations(world, auth, client, make):
    html, text = _home(auth, client, "desk")
    assert text.index("The clinic's sessions") < text.index("Waiting for you") < text.index("Recently registered")
    # the clinic's day on the calendar's grid: the therapist's session today, the prescriber's dose tomorrow
    day = _day(html)
    assert list(day) == ["Today", "Tomorrow"]
    [today], [tomorrow] = day["Today"], day["Tomorrow"]
    assert _session("00:30–01:20", "Tate Today", "Integration session", "Hazel Quint", "Telehealth").fullmatch(today)
    dose = _session("09:00–11:00", "Tate Today", r"Dosing session \d+", "Orrin Vale", "Dosing Suite")
    assert dose.fullmatch(tomorrow)
    counts = _counts(html)
    assert counts["window closing with nothing booked"] == (1, "/worklist")
    unconfirmed = _unconfirmed_today()
    if unconfirmed:
        assert counts["session to confirm"] == (1, "/worklist#unconfirmed")
    # nothing clinical, nothing addressed to staff
    assert not any(words in text for words in ("notes to sign", "coordination note", "safety alert", "REMS"))
    # the front desk hands the tablet over: the live courses with forms still to sign, as each course's packet says
    to_sign = make.query(_live_courses_with_forms_to_sign)
    assert to_sign, "the world enrols patients on protocols naming forms"
    assert counts[f"course{'s' if len(to_sign) > 1 else ''} with forms still to sign"] == (len(to_sign), "/#forms-to-sign")
    listed = html.split('id="forms-to-sign"')[1].split("</section>")[0]
    for course_id, name in to_sign:
        assert f"/courses/{course_id}/forms" in listed and name in listed
    assert _badge(html) == f"{1 + unconfirmed + len(to_sign)} items waiting"


def _live_courses_with_forms_to_sign() -> list:
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.signed_forms.status import packet_status
    courses = db.session.scalars(select(TreatmentCourse)).all()
    return [(c.id, c.patient.display_name) for c in courses if not c.current_phase.ended and not c.patient.is_archived
            and (status := packet_status(c)) is not None and status.to_sign]


def test_a_therapist_starts_the_day_with_their_sessions_notes_and_answers(world, auth, client):
    html, text = _home(auth, client, "ther")
    assert text.index("My sessions") < text.index("Waiting for you") < text.index("My patients")
    day = _day(html)  # their own only: not the prescriber's dose tomorrow
    assert day["Tomorrow"] == [] and len(day["Today"]) == 1
    assert day["Today"][0].endswith(" | Write note for Tate Today, 00:30")
    counts = _counts(html)
    assert counts["note to sign"] == (1, "/#drafts")
    assert counts["coordination note waiting for your acknowledgement"] == (1, "/#to-acknowledge")
    assert counts["new reply to your notes"] == (1, "/#replies")
    assert "windows closing" not in text and "planned dose" not in text
    assert "Cleo Closing: integration session note of" in text and f"/notes/{world['draft']}" in html
    assert f"/courses/{world['closing']}/coordination#cn-{world['note_to_therapist']}" in html
    assert f"/courses/{world['today']}/coordination#cn-{world['answered_note']}" in html
    assert "Orrin Vale replied" in text
    assert _badge(html) == f"{3 + _unconfirmed_today()} items waiting"


@pytest.mark.parametrize("username, heading", [
    ("desk", "The clinic's sessions"),   # the therapists' hours: around the clock here
    ("ther", "My sessions"),
    ("pres", "My sessions"),             # the clinic's default hours and their dose's: a now-line only in them
    ("nurse", "Dosing sessions of my patients"),
])
def test_each_roles_day_is_the_calendars_grid_of_today_and_tomorrow(world, auth, client, username, heading):
    """The calendar's own grid: a column per day, hours down the side, blocks sized by length, the key
    to their colours, the now-line; the list a small screen shows instead holds the same sessions; ids
    stay unique with both on the page."""
    html, text = _home(auth, client, username)
    assert f'<h2 id="sessions-heading">{heading}</h2>' in html
    grid = _day(html)
    assert list(grid) == ["Today", "Tomorrow"]
    undated = {tag: [re.sub(r"^\w{3} \w{3} \d+, ", "", b) for b in found] for tag, found in grid.items()}
    assert _day(html, "home-list") == undated
    first_hour, last_hour = map(int, re.search(r"Time grid, (\d\d):00 to (\d\d):00, a column per day", text).groups())
    sized = re.findall(r'<li class="tg-r\d+ tg-s(\d+)[^"]*"><a class="tg-block[^>]*>.*?'
                       r'<span class="tg-time">(\d\d):(\d\d)–(\d\d):(\d\d)</span>', html, re.S)
    assert len(sized) == sum(map(len, grid.values()))
    for rows, *hhmm in sized:  # a block's five-minute rows: its length
        h1, m1, h2, m2 = map(int, hhmm)
        assert int(rows) * 5 == (h2 * 60 + m2) - (h1 * 60 + m1)
    legend = html[html.index('aria-labelledby="home-legend"'):]
    assert re.findall(r"</span> ([^<]+)</li>", legend[:legend.index("</section>")]) == [
        "Preparation session", "Dosing session", "Integration session", "Follow-up", "Attended", "Under way",
        "Unconfirmed: it has ended, no outcome recorded",
        "Not recorded: a dose whose time is over with no record (or one not signed)",
        "No-show"]  # no "Cancelled": left off the day
    today = html[html.index('class="tg-col tg-today"'):]
    today = today[:today.index("</section>")]
    now = datetime.now(NY)  # the now-line is drawn when now falls in the hours shown
    assert bool(re.search(r'<li class="tg-now tg-r\d+"><span>Now \d\d:\d\d</span>', today)) is \
        (first_hour <= now.hour < last_hour), (first_hour, last_hour, now)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert '<a href="/calendar">Open the calendar</a>' in html


def test_cancelled_sessions_are_left_off_the_day_but_stay_on_the_calendar(world, make, auth, client):
    def cancelled_tomorrow():
        a = Appointment(patient_id=world["closing_patient"], course_id=world["closing"], kind="integration",
                        clinician_id=world["therapist"], starts_at=at(1, 15), ends_at=at(1, 15, 50),
                        modality="telehealth", status="cancelled", created_by_id=world["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=world["staff"]))
        db.session.add(a)
    make.run(cancelled_tomorrow)
    html, _ = _home(auth, client, "ther")
    assert _day(html)["Tomorrow"] == []
    week = client.get(f"/calendar?date={at(1, 15).date()}&view=day").get_data(as_text=True)
    assert re.search(r"15:00–15:50.*?Cleo Closing.*?Cancelled</span>", week, re.S)


def test_todays_note_is_started_from_the_day_and_then_opened_as_a_draft(world, auth, client):
    html, _ = _home(auth, client, "ther")
    form = re.search(r'<form method="post" action="(/courses/\d+/notes)" class="tg-note">(.*?)</form>', html, re.S)
    fields = dict(re.findall(r'name="(note-kind|note-session_date)" value="([^"]+)"', form.group(2)))
    assert form.group(1) == f"/courses/{world['today']}/notes"
    assert fields == {"note-kind": "integration", "note-session_date": datetime.now(NY).date().isoformat()}
    started = auth.post(form.group(1), fields)
    assert started.status_code == 302
    note_id = int(started.headers["Location"].rsplit("/", 1)[1])
    html, text = _home(auth, client, "ther")
    for prefix in ("home-grid", "home-list"):  # the grid, and the list a small screen shows instead
        assert _day(html, prefix)["Today"][0].endswith(" | Continue note for Tate Today, 00:30")
    assert html.count(f'class="button small" href="/notes/{note_id}"') == 2 and "Write note" not in text


def test_a_prescriber_is_told_of_the_urgent_note_and_acknowledges_it_from_the_worklist(world, auth, client):
    html, text = _home(auth, client, "pres")
    counts = _counts(html)
    assert counts["coordination note waiting for your acknowledgement (1 urgent)"] == (1, "/prescriber/#notes-h")
    assert counts["planned dose not recorded"] == (1, "/prescriber/#overdue-h")
    [dose] = _day(html)["Tomorrow"]  # their own: the dose tomorrow, opening its record
    assert re.search(r"Orrin Vale, Dosing Suite, Booked \| Dosing record of Tate Today, \w{3} \d\d 09:00$", dose)
    assert "notes to sign" not in text
    assert _badge(html) == "2 items waiting"
    worklist = page_text(client.get("/prescriber/"))
    assert URGENT in worklist
    assert auth.post(f"/coordination/{world['urgent_note']}/acknowledge",
                     {"reply": "Seeing her tomorrow.", "next_page": "worklist"}).status_code == 302
    html, text = _home(auth, client, "pres")
    assert "coordination note" not in "".join(_counts(html)) and _badge(html) == "1 item waiting"
    assert "Nothing waiting: sessions to confirm, coordination notes waiting for your acknowledgement" in text


@pytest.mark.both_engines  # the answer marked seen by an INSERT ... ON CONFLICT DO NOTHING of each engine
def test_an_answer_is_new_until_its_author_opens_the_conversation(world, make, auth, client):
    auth.sign_in("pres")  # the recipient opening the conversation does not see it for the author
    assert client.get(f"/courses/{world['today']}/coordination").status_code == 200
    auth.logout()
    html, _ = _home(auth, client, "ther")
    assert _counts(html)["new reply to your notes"][0] == 1
    page = page_text(client.get(f"/courses/{world['today']}/coordination"))
    assert REPLY in page
    html, text = _home(auth, client, "ther")
    assert "new reply" not in "".join(_counts(html)) and "New replies to your notes" not in text
    assert "Nothing waiting:" in text and "new replies to your notes" in text
    client.get(f"/courses/{world['today']}/coordination")  # again: nothing more to mark
    seen = make.query(lambda: db.session.execute(select(ReplySeen.note_id, func.count()).group_by(ReplySeen.note_id))
                      .all())
    assert seen == [(world["answered_note"], 1)]


def test_a_nurse_sees_the_doses_of_their_patients_and_nothing_to_count(world, auth, client):
    html, text = _home(auth, client, "nurse")
    assert "Dosing sessions of my patients" in text
    day = _day(html)  # doses only: not the therapist's integration session today
    assert day["Today"] == [] and len(day["Tomorrow"]) == 1
    assert "Dosing session" in day["Tomorrow"][0] and " | Dosing record of Tate Today" in day["Tomorrow"][0]
    assert "Waiting for you" not in text and _badge(html) is None


def test_the_counts_built_once_for_a_user_are_of_the_moment_asked_and_of_the_roles_held(world, make):
    """home.waiting builds a user's statements once and binds the clock into them each time: the therapist's
    session of today waits for its outcome from its end, not from when they were built; and a role given
    since brings its counts (a user's statements are kept by their id and roles)."""
    ends = at(0, 1, 20)

    def counts(when: datetime) -> dict[str, int]:
        return waiting_for(db.session.get(User, world["therapist"]), when.astimezone(timezone.utc), when.date()).counts
    under_way, over = make.query(lambda: (counts(ends - timedelta(minutes=5)), counts(ends)))
    assert over["unconfirmed"] == under_way["unconfirmed"] + 1
    assert "overdue_doses" not in over
    make.run(lambda: db.session.get(User, world["therapist"]).set_roles({"therapist", "prescriber"}))
    assert "overdue_doses" in make.query(lambda: counts(ends))


def test_counts_are_the_users_own(world, auth, client):
    """A therapist not on these patients' team, and staff, count nothing of the therapist's notes or
    the prescriber's; the counts they see name no patient."""
    html, text = _home(auth, client, "ther2")
    assert all(n == 0 for n, _ in _counts(html).values()) and _badge(html) is None
    assert "Tate Today" not in text and "Cleo Closing" not in text
    assert _day(html) == {"Today": [], "Tomorrow": []}
    auth.logout()
    html, text = _home(auth, client, "desk")
    assert "coordination" not in text and "reply" not in text


def test_the_badge_is_on_every_page_with_the_menu_but_not_on_error_pages(world, auth, client):
    auth.sign_in("pres")
    protocols = client.get("/protocols/").get_data(as_text=True)
    assert _badge(protocols) == "2 items waiting"
    assert re.search(r'>Home <span class="badge">2<span class="visually-hidden"> items waiting</span></span></a>',
                     protocols)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and _badge(missing.get_data(as_text=True)) is None


def test_the_home_page_audits_what_it_lists_and_counts(world, make, auth, client):
    _home(auth, client, "pres")
    [row] = [r for r in make.audit_rows(action="patient.list") if r.detail.startswith("home page")]
    assert row.detail == "home page; listed: patients 2, sessions 1; waiting: to_acknowledge 1, overdue_doses 1"
    assert "Tate" not in row.detail and "Cleo" not in row.detail


def test_the_caseloads_next_session_is_the_first_not_yet_over(world, make, auth, client):
    """A session under way is still the patient's next one (asked as "starts from now on", the column
    said "—" the moment it began)."""
    def under_way():
        now = datetime.now(NY)
        a = Appointment(patient_id=world["closing_patient"], course_id=world["closing"], kind="integration",
                        clinician_id=world["therapist"], starts_at=now - timedelta(minutes=10),
                        ends_at=now + timedelta(minutes=40), modality="telehealth", created_by_id=world["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=world["staff"]))
        db.session.add(a)
        db.session.flush()
        return a.starts_at
    starts = make.run(under_way)
    html, _ = _home(auth, client, "ther")
    row = re.search(r"<tr><td><a href=\"/patients/\d+\">Cleo Closing</a>.*?</tr>", html, re.S).group(0)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    with make.app.test_request_context():
        from ketamine_integration.db.clinic_time import format_local
        assert cells[2] == format_local(starts)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_gives_every_role_a_day_and_something_waiting(app, auth, client):
    """Staff have a window closing, a therapist a reply from the prescriber and another a note to
    acknowledge, the prescriber the urgent note; every live course outside its series comes again."""
    def home_of(username):
        auth.login(username, DEMO_PASSWORD)
        auth.enrol()
        html = client.get("/").get_data(as_text=True)
        auth.logout()
        return html, _counts(html)
    _, staff = home_of("staff1")
    assert staff["window closing with nothing booked"][0] >= 1
    therapists = [home_of(f"therapist{n}") for n in range(1, 5)]
    assert any(counts.get("new reply to your notes", (0,))[0] for _, counts in therapists)
    assert any(counts.get("coordination note waiting for your acknowledgement", (0,))[0] for _, counts in therapists)
    assert any("(1 urgent)" in words for n in (1, 2) for words in home_of(f"prescriber{n}")[1])
    for html, _ in therapists:  # each patient in preparation, integration or maintenance comes again
        for row in re.findall(r"<tr><td>.*?</tr>", html, re.S):
            cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            if cells[1] in ("Preparation", "Integration", "Maintenance"):
                assert cells[2] != "—", cells


@pytest.mark.demo_clinic
def test_the_badge_counts_exactly_what_the_home_page_lists_as_waiting(app, auth, client):
    """Issue 21 review: therapist1's badge said 1 beside 3 items on the home page (2 reports due),
    prescriber2's 5 beside 7 (2 REMS forms due). For every demo user the badge, on the home page
    and on any other page, is the sum of the home page's counts, and they are worked out once."""
    counted = {}
    for username in ("staff1", "therapist1", "therapist2", "prescriber1", "prescriber2", "nurse1", "admin"):
        auth.login(username, DEMO_PASSWORD)
        auth.enrol()
        html = client.get("/").get_data(as_text=True)
        counted[username] = _counts(html)
        total = sum(number for number, _ in counted[username].values())
        said = f"{total} item{'' if total == 1 else 's'} waiting" if total else None
        assert _badge(html) == said, username
        assert _badge(client.get("/protocols/").get_data(as_text=True)) == said, username
        auth.logout()
    # the two kinds the review found missing from the badge are among what it sums
    assert counted["therapist1"]["prescriber reports called for"][0] >= 1
    assert next(n for words, (n, _) in counted["prescriber2"].items() if "REMS form" in words) >= 1
