"""Browser check at a phone's width (issue 23, point 3): a patient signed in to the portal finds the
PHQ-9 due before their next dose, answers it by the page's visible labels with item 9 = "Several
days", and sees the crisis page at once: 988 to call or text, 911, the clinic's phone, and that the
care team has been told."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from ketamine_integration.clinic_settings.models import ClinicSetting
from ketamine_integration.domain.measures import PHQ9
from ketamine_integration.extensions import db
from tests.browser.conftest import sign_in_patient
from tests.browser.layout import page_width

PHONE = {"width": 375, "height": 800}
NY = ZoneInfo("America/New_York")


def _patient_with_a_dose_tomorrow(make) -> int:
    """A patient on an IV course with a dose tomorrow at 10:00 (its PHQ-9 is open), with a portal account."""
    admin = make.user("admin", username="boss")
    make.run(lambda: db.session.add(ClinicSetting(key="clinic_phone", value="(555) 010-0199", updated_by_id=admin)))
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    patient = make.patient(given_name="Wren", family_name="Fictional")
    course = make.course(patient, therapist, prescriber, phase="experience")
    day = (datetime.now(NY) + timedelta(days=1)).date()
    make.dosing_plan(course, first_start=datetime(day.year, day.month, day.day, 10, tzinfo=NY), days_between=7,
                     count=1, reason="Test plan: one dose.")
    return make.portal_account(patient)


def test_a_patient_completes_a_phq9_with_item_9_and_sees_the_crisis_page(live_server, page):
    account = _patient_with_a_dose_tomorrow(live_server.make)
    page.set_viewport_size(PHONE)
    sign_in_patient(page, account)
    expect(page.get_by_role("heading", level=2, name="Questionnaires due")).to_be_visible()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Questionnaires").click()
    expect(page.get_by_role("heading", level=1, name="Your questionnaires")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^PHQ-9 ?: Before your dosing session on ")).click()
    expect(page.get_by_role("heading", level=1, name="PHQ-9 questionnaire")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    for n, item in enumerate(PHQ9.items, 1):
        answer = "Several days" if n == 9 else "Not at all"
        page.get_by_role("group", name=f"{n}. {item.text}").get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", level=1,
                            name="If you are thinking about harming yourself, help is available now")).to_be_visible()
    expect(page.get_by_role("link", name="Call 988")).to_have_attribute("href", "tel:988")
    expect(page.get_by_role("link", name="Text 988")).to_have_attribute("href", "sms:988")
    expect(page.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(page.get_by_role("link", name="Call (555) 010-0199")).to_be_visible()
    expect(page.get_by_text("Your answers have been sent to your care team")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
