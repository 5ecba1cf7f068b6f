"""Signing intake and consent forms in Chromium at a phone's width, by the pages' visible labels (issue 26,
"Done when"): a patient signs their IV consent in the portal and reads the signed form; a therapist starts
an in-clinic signing on the course's forms page and confirms it on the step that says what happens (by the
keyboard), the device goes to the patient, who signs the transport agreement on the tablet view, cannot open
a staff page from it, and hands it back with "Done"."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_in, sign_in_patient
from tests.browser.layout import page_width

PHONE = {"width": 375, "height": 800}
CONSENT = "Consent to intravenous (IV) ketamine treatment"
TRANSPORT = "Transport and no-driving agreement"


def _patient_on_an_iv_course(make, *, portal: bool) -> dict:
    therapist = make.user("therapist", username="hazel", full_name="Hazel Quint")
    prescriber = make.user("prescriber")
    patient = make.patient(given_name="Wren", family_name="Fictional")
    course = make.course(patient, therapist, prescriber)  # enrolment makes the protocol's packet
    return {"course": course, "account": make.portal_account(patient) if portal else None}


def test_a_patient_signs_a_consent_in_the_portal(live_server, page):
    made = _patient_on_an_iv_course(live_server.make, portal=True)
    page.set_viewport_size(PHONE)
    sign_in_patient(page, made["account"])
    expect(page.get_by_role("heading", level=2, name="Forms to sign")).to_be_visible()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name=re.compile(r"^Forms to sign")).click()
    expect(page.get_by_role("heading", level=1, name="Your forms")).to_be_visible()
    page.get_by_role("link", name=CONSENT).click()
    expect(page.get_by_role("heading", level=1, name=CONSENT)).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.get_by_role("group", name=re.compile(r"^I have read this form")).get_by_label("Yes", exact=True).check()
    page.get_by_role("group", name=re.compile(r"^I have been told how long")).get_by_label("Yes", exact=True).check()
    page.get_by_label(re.compile(r"^I have read this consent, my questions have been answered")).check()
    page.get_by_label("Type your full name").fill("wren fictional")  # the match ignores case; the page shows both
    page.get_by_role("button", name="Sign this form").click()
    expect(page.get_by_text(f"Thank you: you signed “{CONSENT}”")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name=CONSENT)).to_be_visible()
    expect(page.get_by_text(re.compile(r"Signed by Wren Fictional \(typed signature: wren fictional\) on .* in the portal"))
           ).to_be_visible()
    expect(page.get_by_role("link", name="Download this form (PDF)")).to_be_visible()
    assert page_width(page) <= PHONE["width"]


def test_staff_start_an_in_clinic_signing_and_the_patient_signs_on_the_tablet(live_server, page):
    made = _patient_on_an_iv_course(live_server.make, portal=False)
    page.set_viewport_size(PHONE)
    sign_in(page, "hazel", at=f"/courses/{made['course']}")
    page.get_by_role("link", name="Intake and consent forms", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Intake and consent forms")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.get_by_role("link", name="Start in-clinic signing").click()
    # the confirmation step: what the patient will sign, and that this device signs its user out
    expect(page.get_by_role("heading", level=1, name="Start in-clinic signing?")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=TRANSPORT)).to_be_visible()
    expect(page.get_by_text("You are signed out on this device.")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.get_by_role("link", name="Cancel").click()  # nothing started: the packet page, still signed in
    expect(page.get_by_role("heading", level=1, name="Intake and consent forms")).to_be_visible()
    page.get_by_role("link", name="Start in-clinic signing").click()
    hand_over = page.get_by_role("button", name="Sign me out and hand over this device")
    hand_over.focus()
    page.keyboard.press("Enter")  # keyboard operable

    expect(page.get_by_role("heading", level=1, name="Forms to sign")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.get_by_role("link", name=TRANSPORT).click()
    expect(page.get_by_role("heading", level=1, name=TRANSPORT)).to_be_visible()
    page.get_by_label("Name of the adult who usually takes you home").fill("Rowan Fictional")
    page.get_by_label("Their phone number").fill("555-0100")
    page.get_by_role("group", name="They are your").get_by_label("Partner or spouse").check()
    page.get_by_label(re.compile(r"^I agree to be taken home by an adult")).check()
    page.get_by_label("Type your full name").fill("Wren Fictional")
    page.get_by_role("button", name="Sign this form").click()
    expect(page.get_by_text(f"Thank you: “{TRANSPORT}” is signed.")).to_be_visible()
    assert page_width(page) <= PHONE["width"]

    # the staff pages are out of reach from the tablet: each address brings the patient back to it
    for url in ("/", "/patients/", f"/courses/{made['course']}/forms"):
        page.goto(url)
        expect(page.get_by_role("heading", level=1, name="Forms to sign")).to_be_visible()
    expect(page.get_by_role("link", name="Patients")).to_have_count(0)

    page.get_by_role("button", name="Done: return the tablet to the clinic").click()
    expect(page.get_by_role("heading", level=1, name="Please return the tablet to the clinic staff")).to_be_visible()
    expect(page.get_by_text("Wren")).to_have_count(0)
    page.goto("/patients/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
