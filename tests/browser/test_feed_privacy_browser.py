"""The admin's feed settings in Chromium (issue 25, point 5): initials only with the warning's box
ticked, the refusal on that box, the warning kept in view while initials are on; a phone's width."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.layout import page_width


def test_the_admin_chooses_initials_only_after_the_warning(live_server, page: Page):
    live_server.make.user("admin", username="boss", full_name="Ada Admin")
    sign_in(page, "boss")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar feeds").click()
    settings = page.get_by_role("region", name="What feeds show (whole clinic)")
    expect(settings.get_by_label("Session type only")).to_be_checked()           # the default
    expect(settings.get_by_label("Calendar name shown in subscribers' calendar apps")).to_have_value("Appointments")
    settings.get_by_label("Session type and patient initials").check()
    settings.get_by_role("button", name="Save").click()
    box = page.get_by_label("I understand that with initials")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("To put patients' initials in feeds, tick this box")).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page_width(page) <= 375
    box.check()
    page.get_by_label("Calendar name shown in subscribers' calendar apps").fill("Work diary")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Feeds now show: session type and patient initials.")).to_be_visible()
    expect(page.get_by_text("Feeds now carry patients' initials.")).to_be_visible()
    expect(page.get_by_label("Session type and patient initials")).to_be_checked()
    expect(page.get_by_label("Calendar name shown in subscribers' calendar apps")).to_have_value("Work diary")
    assert page_width(page) <= 375
