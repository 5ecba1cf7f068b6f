"""Browser checks for sign-in, patient registration and search, sign-out and small screens."""
from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.browser.conftest import main_menu, sign_in  # noqa: F401  (the other browser suites import it from here)
from tests.browser.layout import has_no_horizontal_scroll, page_width

SIGN_IN_PATH = re.compile(r"/login(\?.*)?$")


def open_patients(page: Page) -> None:
    main_menu(page).get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()


def patient_count(live_server) -> int:
    return live_server.make.run(lambda: db.session.scalar(select(func.count()).select_from(Patient)))


def test_staff_registers_a_patient_with_a_therapist_and_finds_them_by_family_name(live_server, page):
    make = live_server.make
    make.user("staff", username="frontdesk", full_name="Dana Whitlow")
    make.user("therapist", username="rellery", full_name="Rowan Ellery")
    # A second patient, so the search below has something to leave out.
    make.patient(given_name="Other", family_name="Quillfeather")

    sign_in(page, "frontdesk")
    expect(page).to_have_url(re.compile(r"/$"))
    open_patients(page)
    page.get_by_role("link", name="Register a patient").click()
    expect(page.get_by_role("heading", level=1, name="Register a patient")).to_be_visible()

    page.get_by_label("Given name").fill("Marisol")
    page.get_by_label("Family name").fill("Brightwater")
    # WTForms' DateField renders <input type="date">, which takes ISO dates from fill().
    page.get_by_label("Date of birth").fill("1984-03-07")
    page.get_by_label("Integration therapists").select_option(label="Rowan Ellery")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Marisol Brightwater")
    demographics = page.get_by_role("region", name="Demographics")
    mrn = demographics.locator("dt:text-is('MRN') + dd")
    expect(mrn).to_have_text(re.compile(r"^KI-\d+$"))
    expect(demographics.locator("dt:text-is('Date of birth') + dd")).to_have_text("1984-03-07")
    expect(page.get_by_role("region", name="Care team")).to_contain_text(
        "Rowan Ellery — Integration therapist")
    generated_mrn = mrn.inner_text()

    open_patients(page)
    page.get_by_label("Search by name").fill("Brightwater")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=Brightwater"))
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="Marisol Brightwater")).to_be_visible()
    expect(rows.first).to_contain_text(generated_mrn)
    expect(rows.first).to_contain_text("Rowan Ellery")


def test_register_form_marks_missing_family_name_and_future_birth_date_and_saves_nothing(live_server, page):
    live_server.make.user("staff", username="frontdesk")
    sign_in(page, "frontdesk", at="/patients/new")

    page.get_by_label("Given name").fill("Marisol")
    page.get_by_label("Date of birth").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    family_name = page.get_by_label("Family name")
    expect(family_name).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#family_name-error")).to_be_visible()
    # The message is tied to its field, so a screen reader announces it with the input.
    expect(family_name).to_have_accessible_description(re.compile("This field is required"))
    birth_date = page.get_by_label("Date of birth")
    expect(birth_date).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#date_of_birth-error")).to_have_text(
        "Date of birth must be between 1900-01-01 and today.")
    expect(birth_date).to_have_accessible_description(re.compile("must be between 1900-01-01 and today"))
    # What was typed is kept, so only the marked fields need fixing.
    expect(page.get_by_label("Given name")).to_have_value("Marisol")
    assert patient_count(live_server) == 0


def test_login_page_and_patient_list_fit_a_375px_phone_screen(live_server, page):
    make = live_server.make
    make.user("staff", username="frontdesk", full_name="Dana Whitlow")
    therapist = make.user("therapist", full_name="Rowan Ellery", credentials="LMFT")
    # Long values in every column: the table may scroll in its own box, never the page.
    for n in range(3):
        make.patient(given_name="Maximiliana", family_name=f"Featherstonehaugh-Brightwater{n}",
                     phone="+1 (555) 010-0000", therapists=[therapist])
    page.set_viewport_size({"width": 375, "height": 740})

    page.goto("/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the sign-in page scrolls sideways at 375 px"

    sign_in(page, "frontdesk")
    open_patients(page)
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(3)
    assert has_no_horizontal_scroll(page), "the patient list scrolls sideways at 375 px"


def test_sign_out_returns_to_sign_in_and_patients_then_require_signing_in_again(live_server, page):
    live_server.make.user("staff", username="frontdesk")
    live_server.make.patient(given_name="Marisol", family_name="Brightwater")
    sign_in(page, "frontdesk")
    open_patients(page)
    expect(page.get_by_role("link", name="Marisol Brightwater")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(SIGN_IN_PATH)
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You have been signed out.")

    # Back must not show the list from the browser's memory (pages are sent no-store).
    page.go_back()
    expect(page).to_have_url(SIGN_IN_PATH)
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_text("Brightwater")).to_have_count(0)

    page.goto("/patients/")
    expect(page).to_have_url(SIGN_IN_PATH)
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)


def test_the_patient_pages_messages_fit_a_phone(live_server, page):
    """Issue 22: the message history at 375 px, each message a card with its labelled cells."""
    from ketamine_integration.messaging import services
    from ketamine_integration.messaging.models import FAILED

    make = live_server.make
    make.user("staff", username="frontdesk")
    patient = make.patient(given_name="Wren", family_name="Messaged")

    def history():
        failed = services.queue_sms("test:phone:failed", "(555) 010-0123", "See you Tuesday.", purpose="reminder",
                                    patient_id=patient)
        failed.status, failed.content = FAILED, None
        failed.last_error = "SMS provider 400: The To number +15550100123 is not a mobile number, check it with the patient."
        services.queue_email("test:phone:waiting", "wren.messaged@example.org", "s", "b", purpose="invitation",
                             patient_id=patient)
    make.run(history)
    sign_in(page, "frontdesk")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"/patients/{patient}")
    messages = page.get_by_role("region", name=re.compile(r"^Messages"))
    expect(messages).to_contain_text("Failed: SMS provider 400: The To number •••0123 is not a mobile number")
    expect(messages).to_contain_text("w•••@example.org")
    assert page_width(page) <= 375
