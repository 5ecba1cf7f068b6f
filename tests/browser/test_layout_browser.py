"""Browser checks of pages that fit (issue 21, point 3): the menu folds behind a "Menu" button under
700 px (and stays open without the script); tables become labelled cards on a phone with their
actions in view; the note form's section index and sticky action bar; the course page's sections
and its next action first."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.browser.test_patients_browser import sign_in

PHONE = {"width": 375, "height": 740}


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


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

    page.set_viewport_size({"width": 1280, "height": 800})       # a wide screen shows the menu, no button
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
