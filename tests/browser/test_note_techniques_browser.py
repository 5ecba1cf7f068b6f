"""Browser check (issue 24, point 2): a therapist chooses a technique from the vocabulary by its
visible label (grouped by cluster), is told a technique needs its rationale, signs; at the next
note records how the patient responded; the course's techniques page lists both."""
from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from tests.browser.test_patients_browser import sign_in


def _start(page: Page, course: int, day: date) -> None:
    page.goto(f"/courses/{course}")
    page.get_by_label("Note", exact=True).select_option("integration")
    page.get_by_label("Session date").fill(day.isoformat())
    page.get_by_role("button", name="Start a note").click()
    expect(page.get_by_role("heading", name="Integration session note")).to_be_visible()
    page.get_by_label("Experience review: what stood out").fill("Waves on a grey beach")
    page.get_by_role("group", name="Risk screen: thoughts of self-harm").get_by_label("No").check()


def _sign(page: Page) -> None:
    page.get_by_label("I understand this note will be locked").check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Signed and locked.")).to_be_visible()


def test_techniques_are_chosen_by_label_and_their_responses_recorded_at_the_next_note(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name="Technique"), therapist, prescriber, phase="integration")
    sign_in(page, "ther")
    _start(page, course, date.today() - timedelta(days=7))
    first = page.get_by_role("group", name="Technique 1")
    select = first.get_by_label("Technique used")
    expect(select.locator("optgroup[label='Cognitive and behavioural']")).to_have_count(1)
    select.select_option(label="Behavioural activation")
    page.get_by_role("button", name="Sign and lock").click()          # no rationale yet: refused on its field
    expect(first.get_by_text("a technique needs its rationale")).to_be_visible()
    first.get_by_label("Rationale: why this technique, for this patient, now").fill("Mornings lost in bed")
    _sign(page)
    expect(page.get_by_text("Behavioural activation: Mornings lost in bed")).to_be_visible()

    _start(page, course, date.today())
    response = page.get_by_role("group", name="Response to technique 1")
    expect(response).to_contain_text("Behavioural activation")
    response.get_by_label("How the patient responded").select_option(label="Mixed")
    response.get_by_label("Comment on the response").fill("Two of five mornings")
    _sign(page)
    expect(page.get_by_text("Behavioural activation: mixed — Two of five mornings")).to_be_visible()

    page.goto(f"/courses/{course}/techniques")
    row = page.get_by_role("row", name="Behavioural activation")
    expect(row).to_contain_text("Mornings lost in bed")
    expect(row).to_contain_text("Mixed: Two of five mornings")
