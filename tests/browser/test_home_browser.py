"""Issue 21, "Done when": each role drives its main job from the home page by visible labels only, and
the clicks are counted: staff book a closing window's session in at most 3, a therapist reaches today's
note in at most 2, a prescriber acknowledges an urgent note in at most 2."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from ketamine_integration.bookings.models import Appointment
from ketamine_integration.coordination.models import CoordinationNote
from ketamine_integration.extensions import db
from tests.browser.conftest import main_menu, sign_in
from tests.browser.layout import page_width
from tests.home_world import home_world


class Clicks:
    """A person's clicks from the home page, each on a control found by its visible label (role and
    accessible name), counted."""

    def __init__(self, page: Page):
        self.page, self.count = page, 0

    def on(self, role: str, name, *, first: bool = False) -> None:
        control = self.page.get_by_role(role, name=name)
        (control.first if first else control).click()
        self.count += 1


def _at_home(page: Page, username: str) -> Clicks:
    sign_in(page, username)
    expect(page.get_by_role("heading", level=1, name=re.compile("^Good to see you"))).to_be_visible()
    return Clicks(page)


def test_staff_book_a_closing_windows_session_in_three_clicks_from_home(live_server, page: Page):
    world = home_world(live_server.make)
    clicks = _at_home(page, "desk")
    expect(page.get_by_role("link", name=re.compile(r"^Home \d+ items? waiting$"))).to_be_visible()
    clicks.on("link", "1 window closing with nothing booked")
    expect(page.get_by_role("heading", level=1, name="Scheduling worklist")).to_be_visible()
    clicks.on("link", "Find a slot for Cleo Closing")
    expect(page.get_by_role("heading", name="Integration windows")).to_be_visible()
    clicks.on("button", re.compile(r"^Book telehealth"), first=True)
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    assert clicks.count <= 3
    booked = live_server.make.query(lambda: db.session.scalars(select(Appointment.status).where(
        Appointment.course_id == world["closing"], Appointment.kind == "integration")).all())
    assert booked == ["booked"]
    page.goto("/")
    expect(page.get_by_text(re.compile(r"Nothing waiting: windows closing with nothing booked"))).to_be_visible()


def test_a_therapist_reaches_todays_note_in_two_clicks_from_home(live_server, page: Page):
    home_world(live_server.make)
    clicks = _at_home(page, "ther")
    # the day's time grid: today's column holds the session, its note right under it
    today = page.get_by_role("region", name=re.compile(r"Today ?: 1 session$"))
    expect(today.get_by_role("link", name=re.compile(r"00:30–01:20 ?, Tate Today ?, Integration session ?, "))) \
        .to_be_visible()
    expect(page.get_by_role("region", name=re.compile(r"Tomorrow ?: 0 sessions$"))).to_be_visible()
    clicks.on("button", "Write note for Tate Today, 00:30")
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Integration session note"))).to_be_visible()
    assert clicks.count <= 2
    page.goto("/")  # the day now opens the draft, not a second note
    expect(page.get_by_role("link", name="Continue note for Tate Today, 00:30")).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})  # a phone: the list the grid gives way to, same link
    expect(page.get_by_role("region", name=re.compile(r"^Time grid"))).to_be_hidden()
    expect(page.get_by_role("link", name="Continue note for Tate Today, 00:30")).to_be_visible()


def test_a_prescriber_acknowledges_an_urgent_note_in_two_clicks_from_home(live_server, page: Page):
    world = home_world(live_server.make)
    clicks = _at_home(page, "pres")
    clicks.on("link", "1 coordination note waiting for your acknowledgement (1 urgent)")
    expect(page.get_by_role("heading", level=1, name="Prescriber worklist")).to_be_visible()
    page.get_by_label("Reply (optional)").fill("I will see her before the next dose.")  # typing, not a click
    clicks.on("button", "Acknowledge the note about Tate Today")
    expect(page.get_by_text("Acknowledged.")).to_be_visible()
    assert clicks.count <= 2
    reply = live_server.make.query(lambda: db.session.scalar(
        select(CoordinationNote.reply).where(CoordinationNote.id == world["urgent_note"])))
    assert reply == "I will see her before the next dose."
    page.goto("/")
    expect(page.get_by_text(re.compile(r"Nothing waiting: .*coordination notes waiting for your acknowledgement"))) \
        .to_be_visible()


def test_the_home_pages_fit_a_375px_phone_screen(live_server, page: Page):
    home_world(live_server.make)
    page.set_viewport_size({"width": 375, "height": 800})
    for username in ("desk", "ther", "pres", "nurse"):
        _at_home(page, username)
        assert page_width(page) <= 375, username
        main_menu(page)  # the phone's folded menu holds "Sign out"
        page.get_by_role("button", name="Sign out").click()
