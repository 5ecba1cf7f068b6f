"""Browser check: a therapist sends an urgent note; the prescriber sees it at the top of their
worklist and acknowledges it with a reply."""
from __future__ import annotations

from datetime import date

from playwright.sync_api import Page, expect

from ketamine_integration.accounts.models import User
from ketamine_integration.coordination.services import create_release
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.browser.test_patients_browser import sign_in


def test_urgent_note_sent_and_acknowledged(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Urgent")
    course = make.course(patient, therapist, prescriber, phase="experience")
    make.run(lambda: create_release(db.session.get(Patient, patient), recipient_user_id=prescriber,
                                    recipient_name=None, categories=["safety", "measures"],
                                    purpose="Coordination of treatment", effective_on=date.today(), expires_on=None,
                                    by=db.session.get(User, therapist)))
    sign_in(page, "ther", at=f"/courses/{course}/coordination")
    page.get_by_label("To").select_option(label="Orrin Vale (prescriber)")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("About").select_option("safety")
    page.get_by_label("Message").fill("Passive thoughts of self-harm today; safety plan reviewed. Please call her.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Sent.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "pres", at="/prescriber/")
    note = page.get_by_role("article").first
    expect(note).to_contain_text("Urgent · Testa Urgent")
    note.get_by_label("Reply (optional)").fill("Calling her this afternoon.")
    note.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged.")).to_be_visible()
    expect(page.get_by_text("Passive thoughts of self-harm today")).to_have_count(0)
    page.goto(f"/courses/{course}/coordination")
    expect(page.get_by_text("Calling her this afternoon.")).to_be_visible()


def test_the_measures_chart_and_the_report_preview_fit_a_375px_phone_screen(live_server, page: Page):
    """The new-user review of issue 19: the trend chart (drawn 692 px wide) made the measures page and
    the report preview scroll sideways on a phone."""
    from datetime import timedelta

    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.notes.services import record_measure
    from tests.browser.layout import has_no_horizontal_scroll

    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Charted")
    course = make.course(patient, therapist, prescriber, phase="experience")

    def measures():
        by, treated = db.session.get(User, therapist), db.session.get(TreatmentCourse, course)
        for weeks, item in ((6, 3), (4, 2), (2, 1), (0, 1)):
            on = date.today() - timedelta(weeks=weeks)
            record_measure(treated, measure="phq9", answers=[item] * 8 + [0], difficulty=None, administered_on=on,
                           by=by, today=date.today())
        create_release(db.session.get(Patient, patient), recipient_user_id=prescriber, recipient_name=None,
                       categories=["measures"], purpose="Coordination of treatment", effective_on=date.today(),
                       expires_on=None, by=by)
    make.run(measures)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/courses/{course}/measures")
    expect(page.get_by_role("img", name="PHQ-9 totals over time")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the measures page scrolls sideways at 375 px"
    page.goto(f"/courses/{course}/coordination")
    page.get_by_label("For", exact=True).select_option(label="Orrin Vale")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Measures")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the report preview scrolls sideways at 375 px"
