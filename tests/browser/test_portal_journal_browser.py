"""Browser check at a phone's width (issue 23, point 4, "Done when"): the patient opens the portal's
journal, answers "What stood out?" and "What emotions came up?" about the dose that ended two days ago
(one save keeps both) and shares the first entry after reading what sharing means, all by the page's
visible labels; the therapist, signed in in another browser, then finds it on the
integration note form beside the experience review, marked as the patient's own words. Neither the
journal nor the note form scrolls sideways at 375 px."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, sign_in, sign_in_patient
from tests.browser.layout import has_no_horizontal_scroll
from tests.integration.test_dosing import local

PHONE = {"width": 375, "height": 800}
WORDS = "A long hallway with every door open. I kept expecting one to be locked, and none was."
FEELINGS = "Relief first, then a kind of grief I did not expect."


def _patient_after_a_dose(make) -> tuple[int, int]:
    """A KAP course whose dose ended two days ago, its therapist "ther"; the patient's portal account."""
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres")
    patient = make.patient(given_name="Wren", family_name="Journal")
    course = make.course(patient, therapist, prescriber, phase="experience", protocol="im-ketamine-kap")
    [dose] = make.dosing_plan(course, first_start=local(2), days_between=7, count=1)

    def given():
        session = db.session.get(DosingSession, dose)
        session.status, session.started_at, session.ended_at = "draft", local(2), local(2) + timedelta(minutes=40)
    make.run(given)
    return course, make.portal_account(patient)


def test_a_patient_writes_and_shares_an_entry_and_the_therapist_sees_it_on_the_note_form(
        live_server, page, chromium_browser):
    course, account = _patient_after_a_dose(live_server.make)
    page.set_viewport_size(PHONE)
    sign_in_patient(page, account)
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Journal").click()
    expect(page.get_by_role("heading", level=1, name="Your journal")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the journal scrolls sideways at 375 px"

    answer = page.get_by_label("What stood out?", exact=True)
    answer.fill(WORDS)
    expect(page.get_by_text(f"{len(WORDS)} of 4000 characters")).to_be_visible()  # static/portal_journal.js
    page.get_by_label("What emotions came up?", exact=True).fill(FEELINGS)  # a second box: saved with the first
    page.locator("form", has=answer).get_by_role("button", name="Save in my journal").click()
    expect(page.get_by_text("Saved in your journal: 2 entries, one for each box you wrote in")).to_be_visible()
    for words in (WORDS, FEELINGS):
        expect(page.get_by_role("listitem").filter(has_text=words).get_by_text("Private", exact=True)).to_be_visible()
    expect(page.get_by_label("What stood out?", exact=True)).to_have_count(0)  # answered: no longer offered
    expect(page.get_by_label("What emotions came up?", exact=True)).to_have_count(0)

    entry = page.get_by_role("listitem").filter(has_text=WORDS)
    entry.get_by_text("Share with my therapist", exact=True).click()  # first step: what sharing means
    expect(entry.get_by_text("can no longer be changed")).to_be_visible()
    entry.get_by_role("button", name="Yes, share this entry").click()
    expect(page.get_by_text("Shared with your therapist: they can read this entry now")).to_be_visible()
    entry = page.get_by_role("listitem").filter(has_text=WORDS)
    expect(entry.get_by_text("Shared with your therapist", exact=True)).to_be_visible()
    expect(entry.get_by_role("button", name="Stop sharing")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the journal with an entry scrolls sideways at 375 px"

    therapist = chromium_browser.new_context(viewport=PHONE, base_url=live_server.url)
    therapist.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        staff = therapist.new_page()
        sign_in(staff, "ther", at=f"/courses/{course}")
        staff.get_by_label("Note", exact=True).select_option("integration")
        staff.get_by_role("button", name="Start a note").click()
        panel = staff.get_by_role("complementary", name="From the patient's journal")
        expect(panel.get_by_text(WORDS)).to_be_visible()
        expect(panel.get_by_text("The patient's own words")).to_be_visible()
        expect(panel.get_by_role("button", name="Quote into the experience review")).to_be_visible()
        assert has_no_horizontal_scroll(staff), "the note form with the journal scrolls sideways at 375 px"
    finally:
        therapist.close()
