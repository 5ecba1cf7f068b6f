"""Browser check at a phone's width (375 px): a therapist assigns a self-guided practice on the
course page by its visible labels, sees the patient's log in its adherence, and ends it."""
from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.practices.models import PracticeAssignment
from ketamine_integration.practices.patient import log_practice
from tests.browser.layout import page_width
from tests.browser.test_patients_browser import sign_in

PHONE = {"width": 375, "height": 800}


def test_therapist_assigns_a_practice_on_a_phone(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Practising")
    course = make.course(patient, therapist, prescriber, phase="integration")
    page.set_viewport_size(PHONE)
    sign_in(page, "ther", at=f"/courses/{course}#practices")
    practices = page.get_by_role("region", name="Self-guided practices")
    expect(practices.get_by_text("No practices assigned yet.")).to_be_visible()
    practices.get_by_label("Practice", exact=True).select_option(label="Movement")
    practices.get_by_label("How many times").fill("3")
    practices.get_by_label("Per").select_option(label="a week")
    practices.get_by_label("From").fill(date.today().isoformat())
    practices.get_by_label("To (last day)").fill((date.today() - timedelta(days=1)).isoformat())
    practices.get_by_label("Instructions for the patient").fill("A walk counts; ten minutes is enough.")
    practices.get_by_role("button", name="Assign practice").click()
    # refused on its field, what was typed kept
    expect(page.get_by_text("The last day cannot be before the first.")).to_be_visible()
    expect(page.get_by_label("Instructions for the patient")).to_have_value("A walk counts; ten minutes is enough.")
    page.get_by_label("To (last day)").fill((date.today() + timedelta(days=27)).isoformat())
    page.get_by_role("button", name="Assign practice").click()
    expect(page.get_by_text("Assigned: Movement, 3 times a week")).to_be_visible()
    assert page_width(page) <= PHONE["width"]

    assignment = make.query(lambda: db.session.scalar(db.select(PracticeAssignment.id)))
    make.run(lambda: log_practice(db.session.get(Patient, patient), assignment, "partly", date.today(),
                                  "Rain all afternoon", utcnow()))
    page.reload()
    practices = page.get_by_role("region", name="Self-guided practices")
    expect(practices).to_contain_text("This week so far: 1 of 3 logged.")
    expect(practices).to_contain_text("“Rain all afternoon”")
    practices.get_by_role("button", name="End this assignment").click()   # its hidden words name the practice
    expect(page.get_by_text("Ended: Movement. Its logs stay with the course.")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
