"""Browser checks: a therapist types a whole integration note with a theme and an action step and
signs it without saving first (a refused signature keeps every word), then finds the theme on the
patient's theme view; a therapist discards a draft."""
from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import Theme
from tests.browser.conftest import start_an_integration_note
from tests.browser.test_patients_browser import sign_in


def test_therapist_writes_signs_and_sees_the_theme(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Themed")
    course = make.course(patient, therapist, prescriber, phase="integration")
    make.run(lambda: db.session.add(Theme(name="Safety in the body")))
    sign_in(page, "ther", at=f"/courses/{course}")
    page.get_by_label("Note", exact=True).select_option("integration")
    page.get_by_label("Session date").fill(date.today().isoformat())
    page.get_by_role("button", name="Start a note").click()
    expect(page.get_by_role("heading", name="Integration session note")).to_be_visible()

    page.get_by_label("Experience review: what stood out").fill("Warmth spreading from the chest to the hands")
    theme_one = page.get_by_role("group", name="Theme 1")
    theme_one.get_by_label("Theme from the clinic's list").select_option(label="Safety in the body")
    theme_one.get_by_label("In the patient's words").fill("my chest finally unclenched")
    step = page.get_by_role("group", name="New action step 1")
    step.get_by_label("What, specifically").fill("Walk by the river")
    step.get_by_label("How often").fill("3 times a week")
    step.get_by_label("From").fill(date.today().isoformat())
    step.get_by_label("Review on").fill((date.today() + timedelta(days=14)).isoformat())
    step.get_by_label("Success criterion: how you will both know it worked").fill("Three walks logged a week")
    step.get_by_label("Why it should help").fill("Movement lifts mood before insight does")
    page.get_by_role("group", name="Risk screen: thoughts of self-harm").get_by_label("No").check()
    # never saved: "Sign and lock" sends the whole form, and asks first for the confirmation
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Draft saved, not signed")).to_be_visible()
    expect(page.get_by_text("Tick this box to confirm that the note will be locked")).to_be_visible()
    expect(page.get_by_label("Experience review: what stood out")).to_have_value(
        "Warmth spreading from the chest to the hands")
    page.get_by_label("I understand this note will be locked").check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Signed and locked.")).to_be_visible()
    expect(page.get_by_text("Walk by the river — 3 times a week")).to_be_visible()

    page.goto(f"/patients/{patient}/themes")
    row = page.get_by_role("row", name="Safety in the body")
    expect(row).to_be_visible()
    expect(row).to_contain_text("my chest finally unclenched")


def test_therapist_discards_a_draft(live_server, page: Page):
    start_an_integration_note(live_server, page, "Discarded", session_date=date.today())
    page.get_by_label("Insights", exact=True).fill("Started on the wrong patient")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()

    page.get_by_role("button", name="Discard draft").click()               # not confirmed: refused
    expect(page.get_by_text("Tick this box to confirm, then discard the draft.")).to_be_visible()
    page.get_by_label("I understand the text of this draft will not be kept").check()
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_text("Draft discarded; its text was not kept.")).to_be_visible()
    notes = page.get_by_role("region", name="Session notes")
    expect(notes.get_by_text("No notes yet.")).to_be_visible()


def test_after_a_jump_down_the_note_form_what_a_save_did_shows_where_the_therapist_is(live_server, page: Page):
    """The form comes back at the section jumped to (the address keeps its #section), where the
    flash at the top of the page is out of sight: the action bar says what happened, in view."""
    start_an_integration_note(live_server, page, "Jumped", session_date=date.today())
    # no dosing session is signed: the empty choice says so, and why
    expect(page.get_by_role("group", name="Dosing sessions whose window this session serves")).to_contain_text(
        "none of this course's dosing sessions is signed yet")

    page.get_by_role("navigation", name="Sections of this note").get_by_role("link", name="Plan", exact=True).click()
    page.get_by_label("Plan for next session").fill("Body scan first, then the letter to her sister")
    bar = page.get_by_role("group", name="Save or sign")
    status = bar.get_by_role("status")
    expect(status).to_have_text("Not saved since it was started.")
    bar.get_by_role("button", name="Save draft").click()
    expect(status).to_contain_text("Saved as a draft at")
    expect(status).to_be_in_viewport()
    expect(page.get_by_role("heading", level=2, name="Plan", exact=True)).to_be_in_viewport()  # back where it was
    expect(page.get_by_text("Draft saved. Sign it when it is complete.")).not_to_be_in_viewport()  # the flash
    expect(page.get_by_label("Plan for next session")).to_have_value("Body scan first, then the letter to her sister")

    bar.get_by_role("button", name="Sign and lock").click()     # unconfirmed: saved, not signed
    expect(status).to_contain_text("not signed: complete the fields marked")
    expect(status).to_be_in_viewport()
