"""Browser checks of pages that fit (issue 21, point 3): the menu folds behind a "Menu" button under
700 px (and stays open without the script); tables become labelled cards on a phone with their
actions in view; the note form's section index and sticky action bar; the course page's sections
and its next action first."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, DESKTOP, main_menu, start_an_integration_note
from tests.browser.layout import page_width
from tests.browser.test_patients_browser import sign_in
from tests.browser.test_scheduling_browser import _signed_window
from tests.integration.test_dosing import local

PHONE = {"width": 375, "height": 740}


def within_viewport(page: Page, locator) -> bool:
    """The element's box lies inside the viewport's width (no sideways scroll needed to reach it)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


def test_the_admins_menu_folds_behind_a_menu_button_on_a_phone(live_server, page: Page):
    live_server.make.user("admin", username="boss", full_name="Avery Quillfeather")
    page.set_viewport_size(PHONE)
    sign_in(page, "boss")
    menu = page.get_by_role("button", name="Menu", exact=True)
    audit_log = page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(audit_log).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    # folded, the header is the clinic's name (two lines at most) beside the button
    assert page.locator(".site-header").bounding_box()["height"] <= 2 * 24 + 24, "the folded header is too tall"

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(audit_log).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page_width(page) <= 375
    page.keyboard.press("Escape")                                  # Escape closes it from the menu's button
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(audit_log).to_be_hidden()
    menu.click()
    audit_log.click()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    expect(page.get_by_role("button", name="Menu", exact=True)).to_have_attribute("aria-expanded", "false")

    page.set_viewport_size(DESKTOP)  # a wide screen shows the menu, no button
    expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
    expect(audit_log).to_be_visible()


def test_without_the_script_the_menu_stays_open_on_a_phone(live_server, chromium_browser):
    live_server.make.user("staff", username="desk", full_name="Dana Whitlow")
    context = chromium_browser.new_context(viewport=PHONE, base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, "desk")
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert page_width(page) <= 375
    finally:
        context.close()


def in_view(page: Page, locator) -> bool:
    """The element's box lies inside the viewport, as the page is scrolled now."""
    box = locator.bounding_box()
    size = page.viewport_size
    return (box is not None and 0 <= box["y"] and box["y"] + box["height"] <= size["height"]
            and 0 <= box["x"] and box["x"] + box["width"] <= size["width"])


def test_the_note_forms_section_index_and_its_sticky_sign_button_send_the_whole_form(live_server, page: Page):
    start_an_integration_note(live_server, page, "Sectioned")
    expect(page.get_by_role("heading", level=1, name="Integration session note")).to_be_visible()

    index = page.get_by_role("navigation", name="Sections of this note")
    titles = ["Session", "Treatment plan and stage", "Experience review", "Themes and insights", "Action steps",
              "Practices and approach", "Risk screen", "Plan"]
    expect(index.get_by_role("link")).to_have_text(titles)
    for title in titles:                       # each link leads to its section's heading
        index.get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", level=2, name=title, exact=True)).to_be_in_viewport()
    expect(page.get_by_role("group", name="Risk screen", exact=True)).to_be_in_viewport()

    page.get_by_label("Experience review: what stood out").fill("The quiet after the music stopped")
    page.get_by_role("group", name="Risk screen: thoughts of self-harm").get_by_label("No").check()
    page.get_by_label("Plan for next session").fill("Return to the quiet; body scan first")
    page.evaluate("window.scrollTo(0, 0)")
    # at the top of a long form its actions are in view, in the bar at the bottom of the screen
    bar = page.get_by_role("group", name="Save or sign")
    sign = bar.get_by_role("button", name="Sign and lock")
    assert in_view(page, sign), "the Sign and lock button is not in view at the top of the form"
    bar.get_by_label("I understand this note will be locked").check()
    sign.click()
    expect(page.get_by_text("Signed and locked.")).to_be_visible()
    expect(page.get_by_text("The quiet after the music stopped")).to_be_visible()     # first section
    expect(page.get_by_text("Return to the quiet; body scan first")).to_be_visible()  # last section


def reachable(page: Page, locator) -> bool:
    """Scrolled to (down the page only), the element lies inside the viewport's width."""
    locator.scroll_into_view_if_needed()
    return within_viewport(page, locator)


def test_on_a_phone_the_worklist_and_the_course_page_keep_their_actions_in_view(live_server, page: Page):
    course_id, _ = _signed_window(live_server)
    live_server.make.dosing_plan(course_id, first_start=local(-3, 9), days_between=2, count=1,
                                 reason="A later dose for the layout check")
    page.set_viewport_size(PHONE)
    sign_in(page, "desk")
    main_menu(page).get_by_role("link", name="Worklist").click()
    find = page.get_by_role("link", name="Find a slot for Testa Browserbooked")
    assert reachable(page, find), "Find a slot lies off-screen"
    assert page_width(page) <= 375
    find.click()

    # the course page: the next action first, and every row's actions and coverage on the screen
    todo = page.get_by_role("region", name="Next on this course")
    expect(todo.get_by_role("link", name="Book an integration session").first).to_be_visible()
    expect(todo).to_contain_text("Dosing session #1's window closes")
    assert page_width(page) <= 375
    dosing = page.get_by_role("region", name="Dosing sessions")
    for action in ("Move session 2", "Cancel session 2"):
        assert reachable(page, dosing.get_by_text(action)), f"{action} lies off-screen"
    windows = page.get_by_role("table", name="Windows, in words")
    assert reachable(page, windows.get_by_role("cell", name=re.compile("Nothing booked"))), "coverage off-screen"
    index = page.get_by_role("navigation", name="Sections of this course")
    expect(index.get_by_role("link")).to_have_text(["Overview", "Preparation", "Dosing", "Windows and sessions",
                                                    "Questionnaires"])
    page.evaluate("window.scrollTo(0, 0)")
    todo.get_by_role("link", name="Book an integration session").first.click()
    booking = page.get_by_role("button", name=re.compile("^Book in person")).first
    assert reachable(page, booking), "the suggested time's Book in person lies off-screen"
    booking.click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    # what comes next now is the planned dose's provisional window, no longer the one just booked
    expect(page.get_by_role("region", name="Next on this course")).not_to_contain_text("Dosing session #1's window")
    expect(page.get_by_role("region", name="Next on this course")).to_contain_text(
        "Dosing session #2's provisional window closes")


def test_find_a_slot_lands_with_the_windows_heading_clear_of_the_sticky_section_index(live_server, page: Page):
    _signed_window(live_server)
    sign_in(page, "desk", at="/worklist")
    page.get_by_role("link", name="Find a slot for Testa Browserbooked").click()
    heading = page.get_by_role("heading", level=3, name="Integration windows", exact=True)
    expect(heading).to_be_in_viewport()
    index = page.get_by_role("navigation", name="Sections of this course").bounding_box()
    assert index["height"] < 100, "the section index takes more than two lines"
    assert heading.bounding_box()["y"] >= index["y"] + index["height"], "the heading lies under the sticky index"
