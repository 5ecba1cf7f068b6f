"""Browser check: on a phone-sized screen, the therapist present at a KAP dose opens its record,
writes the dosing-session note by its visible labels and signs it with the lock confirmation; the
record then links the note. Neither page scrolls sideways at 375 px."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from tests.browser.layout import has_no_horizontal_scroll
from tests.browser.test_patients_browser import sign_in
from tests.integration.test_dosing import local


def test_therapist_writes_and_signs_the_dosing_session_note_at_375px(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name="Present"), therapist, prescriber, phase="experience",
                         protocol="im-ketamine-kap")
    [dose] = make.dosing_plan(course, first_start=local(2), days_between=7, count=1)

    def given():
        """The prescriber's draft record of the dose given (the note documents a dose that was given)."""
        session = db.session.get(DosingSession, dose)
        session.status, session.route, session.medication, session.dose_mg = "draft", "im", "ketamine", Decimal(35)
        session.started_at, session.ended_at = local(2), local(2) + timedelta(minutes=40)
    make.run(given)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/dosing/{dose}")
    page.get_by_role("button", name="Write the dosing-session note").click()
    expect(page.get_by_role("heading", name="Dosing session note")).to_be_visible()
    expect(page.get_by_text("Written by Hazel Quint, present at the dose as the course's therapist.")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the dosing-session note scrolls sideways at 375 px"

    page.get_by_label("Set and setting: how they were prepared").fill("Dim light, eyeshades, her own playlist")
    page.get_by_label("Your observations during the session").fill("Tearful at minute 30, then settled")
    page.get_by_label("Support given").fill("Grounding by voice at minute 25")
    page.get_by_label("The patient's immediate reflections").fill("It was sad, but it was mine to feel")
    page.get_by_label("I understand this note will be locked").check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Signed and locked.")).to_be_visible()
    expect(page.get_by_text("Tearful at minute 30, then settled")).to_be_visible()

    page.get_by_role("link", name="its record").click()
    expect(page.get_by_role("link", name="Dosing-session note by Hazel Quint, signed")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the dosing record scrolls sideways at 375 px"
