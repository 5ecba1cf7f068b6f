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
    sign_in(page, "ther")
    page.goto(f"/courses/{course}/coordination")
    page.get_by_label("To").select_option(label="Orrin Vale (prescriber)")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("About").select_option("safety")
    page.get_by_label("Message").fill("Passive thoughts of self-harm today; safety plan reviewed. Please call her.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Sent.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "pres")
    page.goto("/prescriber/")
    note = page.get_by_role("article").first
    expect(note).to_contain_text("Urgent · Testa Urgent")
    note.get_by_label("Reply (optional)").fill("Calling her this afternoon.")
    note.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged.")).to_be_visible()
    expect(page.get_by_text("Passive thoughts of self-harm today")).to_have_count(0)
    page.goto(f"/courses/{course}/coordination")
    expect(page.get_by_text("Calling her this afternoon.")).to_be_visible()
