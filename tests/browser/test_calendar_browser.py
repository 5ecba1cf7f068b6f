"""Browser checks of the time-grid calendar (issue 21, point 2), by visible labels: filters that apply
at once, a free slot booked through the patient picker and the filled-in form, the new block opened
and moved, an unconfirmed session marked attended from its block, the keyboard, and the widths."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from ketamine_integration.bookings.models import Appointment, AppointmentChange, WorkingHours
from ketamine_integration.extensions import db
from tests.browser.conftest import sign_in
from tests.browser.layout import page_width
from tests.browser.test_scheduling_browser import _shot

NY = ZoneInfo("America/New_York")


def _clinic(live_server) -> dict:
    """Hazel Quint works 9 to 5 every day; her patient's course is in integration (a session may be
    booked any time ahead); two rooms."""
    make = live_server.make
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk", full_name="Dana Whitlow")}
    ids["patient"] = make.patient(family_name="Gridded")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    ids["room"] = make.room("Cedar Room")
    make.run(lambda: db.session.add_all(WorkingHours(clinician_id=ids["therapist"], weekday=d, starts=time(9),
                                                     ends=time(17)) for d in range(7)))
    return ids


def _appointment(live_server, ids, starts_at: datetime) -> None:
    def add():
        a = Appointment(patient_id=ids["patient"], course_id=ids["course"], clinician_id=ids["therapist"],
                        kind="integration", starts_at=starts_at, ends_at=starts_at + timedelta(minutes=50),
                        modality="in_person", room_id=ids["room"], created_by_id=ids["staff"])
        a.changes.append(AppointmentChange(change="booked", by_user_id=ids["staff"]))
        db.session.add(a)
    live_server.make.run(add)


def _day_words(day) -> str:
    return f"{day:%a %b} {day.day}"


def _time_grid(page: Page):
    """The calendar's time grid. A day view names a session's link alike in the grid and in the list
    beside it (neither says the day), and only the stylesheet hides the list on a wide screen: until
    style.css has arrived, which a busy machine delays past the page's parsing, both links are visible
    and a page-wide locator finds two."""
    return page.get_by_role("region", name=re.compile("^Time grid"))


def test_staff_book_a_free_slot_see_the_block_open_it_and_move_it(live_server, page: Page):
    _clinic(live_server)
    sign_in(page, "desk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Calendar")
    # the filters apply as soon as one changes (no Apply click), once the deferred script has run
    page.wait_for_load_state()
    page.get_by_label("Clinician").select_option(label="Hazel Quint")
    expect(page).to_have_url(re.compile(r"therapist=\d+"))
    page.get_by_role("link", name="Next week").click()
    monday = datetime.now(NY).date() + timedelta(days=7 - datetime.now(NY).weekday())
    # a slot is named by the session it books: 50 minutes, all of them free
    slot = page.get_by_role("link", name=f"Book 10:00–10:50 with Hazel Quint in Cedar Room, {_day_words(monday)}")
    _shot(page, "calendar-week-1280")
    slot.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Book {monday:%a %b %d}, 10:00 with Hazel Quint in Cedar Room")
    page.get_by_role("link", name="Book for Testa Gridded").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book a session for Testa Gridded")
    expect(page.get_by_label("Date and time", exact=True)).to_have_value(f"{monday}T10:00")
    expect(page.get_by_label("Therapist", exact=True).locator("option:checked")).to_have_text("Hazel Quint")
    expect(page.get_by_label("Room", exact=True).locator("option:checked")).to_have_text("Cedar Room")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    # back to the view it was booked from: Hazel's week
    expect(page).to_have_url(re.compile(rf"view=week&date={monday}&by=clinician&therapist=\d+$"))
    block = page.get_by_role("link", name=re.compile(
        rf"{_day_words(monday)}, 10:00–10:50.*Testa Gridded.*Integration session.*with Hazel Quint.*Cedar Room.*Booked"))
    expect(block).to_be_visible()
    _shot(page.get_by_role("region", name=re.compile("^Time grid")), "calendar-week-booked")
    # the slot it took is gone
    expect(slot).to_have_count(0)
    block.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Integration session: Testa Gridded")
    page.get_by_label("New date and time").fill(f"{monday}T14:00")
    _shot(page, "appointment-page")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text("Appointment moved.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("14:00–14:50")
    page.get_by_role("link", name=re.compile(r"^Calendar, ")).click()
    expect(_time_grid(page).get_by_role("link", name=re.compile(r"14:00–14:50.*Testa Gridded"))).to_be_visible()


def test_a_therapist_marks_yesterdays_session_attended_from_its_block(live_server, page: Page):
    ids = _clinic(live_server)
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    _appointment(live_server, ids, datetime.combine(yesterday, time(11), NY))
    sign_in(page, "ther")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar", exact=True).click()
    page.wait_for_load_state()  # the filters apply on change once calendar.js listens (DOMContentLoaded)
    page.get_by_label("View", exact=True).select_option(label="Day")
    expect(page).to_have_url(re.compile(r"view=day"))
    page.wait_for_load_state()  # the day view's calendar.js listens from DOMContentLoaded on
    page.get_by_label("Date", exact=True).fill(yesterday.isoformat())   # applies once the date is left still
    expect(page).to_have_url(re.compile(rf"date={yesterday}"))
    block = _time_grid(page).get_by_role("link", name=re.compile(r"11:00–11:50.*Testa Gridded.*Unconfirmed"))
    # keyboard: focus the block and press Enter
    block.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Integration session: Testa Gridded")
    page.get_by_role("button", name=re.compile(r"^Attended")).click()
    expect(page.get_by_text("Outcome recorded: attended.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Attended")


def test_the_calendar_fits_a_phone_as_a_list_and_a_desktop_as_a_grid(live_server, page: Page):
    ids = _clinic(live_server)
    tomorrow = datetime.now(NY).date() + timedelta(days=1)
    _appointment(live_server, ids, datetime.combine(tomorrow, time(10), NY))
    for n in range(6):  # a day view with many columns scrolls inside its frame, not the page
        live_server.make.user("therapist", username=f"t{n}", full_name=f"Therapist Number{n}")
    sign_in(page, "desk", at="/calendar?view=day&by=clinician")
    assert page_width(page) <= 1280
    page.goto(f"/calendar?therapist={ids['therapist']}&date={tomorrow}")  # on a Sunday, tomorrow is next week
    expect(page.get_by_role("region", name=re.compile("^Time grid"))).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    assert page_width(page) <= 375
    expect(page.get_by_role("region", name=re.compile("^Time grid"))).to_be_hidden()
    day = page.locator("section.tg-list-col", has=page.get_by_role("heading", name=re.compile(_day_words(tomorrow))))
    expect(day.get_by_role("link", name=re.compile(r"10:00–10:50.*Testa Gridded"))).to_be_visible()
    day.get_by_text(re.compile(r"^Free slots")).click()
    expect(day.get_by_role("link", name=f"Book 11:00–11:50 with Hazel Quint in Cedar Room, {_day_words(tomorrow)}")
           ).to_be_visible()
    _shot(page, "calendar-week-375")
    page.emulate_media(media="print")
    expect(page.get_by_role("region", name=re.compile("^Time grid"))).to_be_hidden()
    expect(day.get_by_role("link", name=re.compile(r"10:00–10:50.*Testa Gridded"))).to_be_visible()
