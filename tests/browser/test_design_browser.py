"""The design system in Chromium (issue 21, point 6): the icons the heroicons package draws inline
break no rule of the page's Content Security Policy (no style attribute, no script), show at the
text's size, and are hidden from assistive technology unless they carry a name; status shows an
icon beside its word."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, DESKTOP, sign_in
from tests.browser.key_pages import DEMO_PASSWORD, USERS, demo_clinic, open_key_page, pages_for

#: the pages whose icons are checked, per role: status badges, alerts, action buttons, the calendar
PAGES = {
    "staff": ("Home", "Calendar (week)", "Patient page"),
    "therapist": ("Home", "Coordination", "Note (signed)"),
    "prescriber": ("Home", "Prescriber worklist", "Measures"),
}
#: what each icon reports: its box, whether it is hidden from assistive technology or else its name
ICONS = """() => [...document.querySelectorAll('svg.icon')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {width: box.width, height: box.height, hidden: svg.getAttribute('aria-hidden'),
          name: svg.getAttribute('aria-label'), style: svg.hasAttribute('style'),
          shown: !!svg.closest('body') && svg.checkVisibility()};
})"""
WATCH_CSP = "document.addEventListener('securitypolicyviolation', e => " \
            "(window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"


@pytest.fixture(scope="module")
def demo(browser_databases, tmp_path_factory):
    with demo_clinic(browser_databases, tmp_path_factory.mktemp("design-demo")) as clinic:
        yield clinic


@pytest.mark.parametrize("role", sorted(PAGES))
def test_icons_are_drawn_inline_without_breaking_the_csp(role, chromium_browser, demo):
    context = chromium_browser.new_context(viewport=DESKTOP, base_url=demo.live.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.add_init_script(script=WATCH_CSP)
    console = []
    try:
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text) if message.type in ("error", "warning") else None)
        sign_in(page, USERS[role], DEMO_PASSWORD)
        keys = {key.label: key for key in pages_for(role)}
        drawn = 0
        for label in PAGES[role]:
            response = open_key_page(page, keys[label], demo.ids[role])
            assert response.status == 200, label
            icons = page.evaluate(ICONS)
            shown = [i for i in icons if i["shown"]]
            assert shown, f"{role} · {label}: no icon shown"
            for i in shown:
                assert not i["style"], f"{label}: an icon with a style attribute"
                assert 10 <= i["width"] <= 28 and 10 <= i["height"] <= 28, f"{label}: an icon {i['width']}×{i['height']} px"
                assert i["hidden"] == "true" or i["name"], f"{label}: an icon neither hidden nor named: {i}"
            drawn += len(shown)
            assert page.evaluate("window.__csp || []") == [], f"{role} · {label}: CSP violations"
        assert drawn
        assert not [text for text in console if "Content Security Policy" in text], console
        # the watch catches what it is there to catch: a style attribute is refused and reported
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">canary</p>')")
        page.wait_for_function("(window.__csp || []).length > 0")
    finally:
        context.close()


def test_a_status_badge_says_its_status_in_words_and_an_icon(chromium_browser, demo):
    """The prescriber's worklist: 'Urgent' on the waiting note is a word in a pill with an icon,
    not a colour alone."""
    context = chromium_browser.new_context(viewport=DESKTOP, base_url=demo.live.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, USERS["prescriber"], DEMO_PASSWORD, at="/prescriber/")
        badge = page.locator(".status-badge.tone-danger", has_text="Urgent").first
        assert badge.is_visible()
        assert badge.locator("svg.icon[aria-hidden='true']").count() == 1
        colour, background = badge.evaluate(
            "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
        assert colour != background
    finally:
        context.close()
