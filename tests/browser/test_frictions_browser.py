"""Browser checks of issue 21, point 5 (the smaller frictions): the feed address copied with its button;
the auto-schedule booked row by row from checkboxes, its result page naming what was booked and skipped."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_patients_browser import sign_in


def test_a_new_feed_address_is_copied_with_the_copy_button(live_server, page: Page):
    live_server.make.user("therapist", username="ther", full_name="Hazel Quint")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, "ther")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar feeds").click()
    page.get_by_label("Name for this feed").fill("phone")
    page.get_by_role("button", name="Create a feed address").click()
    address = page.get_by_label("Feed address")
    url = address.input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/feeds/[\w-]+\.ics", url)
    page.get_by_role("button", name="Copy the address").click()
    expect(page.get_by_text("Copied: paste it into your calendar app.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    webcal = page.get_by_role("link", name="Subscribe with your calendar app")
    assert webcal.get_attribute("href") == "webcal://" + url.split("://", 1)[1]
    for app_name in ("Google Calendar", "Outlook", "Apple Calendar"):
        expect(page.get_by_role("heading", name=app_name, exact=True)).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
