"""Measuring a page's width the way a phone would show it.

A page measured before its stylesheet arrives is laid out unstyled, and an unstyled form is
wider than any phone: a visible heading only proves the HTML was parsed. Both helpers wait
for the document's "load" event (stylesheets applied) before they measure.
"""
from playwright.sync_api import Page


def page_width(page: Page) -> int:
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth")


def has_no_horizontal_scroll(page: Page) -> bool:
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
