"""Browser check: a first sign-in sets up an authenticator from what the page shows, under the CSP."""
from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_with_forms
from tests.conftest import PASSWORD


def test_first_sign_in_enrols_an_authenticator_read_off_the_page(live_server, page):
    live_server.make.user("therapist", username="newther", full_name="Noor Ashdown", mfa=False)
    csp_violations = []
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)

    page.goto("/login")
    page.get_by_label("Username").fill("newther")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Set up your authenticator")).to_be_visible()
    expect(page.locator("svg.qr-code")).to_be_visible()
    assert page.locator("svg.qr-code").bounding_box()["width"] > 100  # scaled by the stylesheet, readable
    # What a person types into their app when they cannot scan: the key shown on the page.
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    expect(page.get_by_role("link", name="Open in an authenticator app")).to_have_attribute(
        "href", re.compile(rf"^otpauth://totp/Ketamine%20Integration:newther\?secret={secret}&"))

    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Finish setting up").click()
    expect(page.get_by_role("heading", level=1, name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(10)
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page.get_by_role("heading", level=1, name="Good to see you, Noor")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill("newther")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The code step now. The enrolment used the current code, which never works twice: the next one.
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Two-step sign-in").click()
    expect(page.get_by_text("Recovery codes left: 10 of 10")).to_be_visible()
    assert csp_violations == []


def test_the_sign_in_helper_completes_the_code_step_for_enrolled_users(live_server, page):
    live_server.make.user("staff", username="frontdesk", full_name="Dana Whitlow")
    sign_in_with_forms(page, "frontdesk")
    page.get_by_role("button", name="Sign out").click()
    sign_in_with_forms(page, "frontdesk")  # twice within 30 s: the helper picks a code not used yet
