"""Browser check (issue 24, point 6): on a phone-sized screen, a therapist opens the discharge summary
due on a completed course from its page, writes it by its visible labels, signs it and downloads its PDF
(checked with pypdf: its sections are there)."""
from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.domain.measures import MEASURES
from ketamine_integration.extensions import db
from ketamine_integration.notes.services import record_measure
from tests.browser.layout import has_no_horizontal_scroll
from tests.browser.test_patients_browser import sign_in

WRITTEN = {"Summary of the course": "Mood lifted over the series; sleep steadier.",
           "Relapse prevention: early warning signs": "Withdrawing from friends; waking at 4 am.",
           "Relapse prevention: practices to keep": "River walks three times a week.",
           "Relapse prevention: when to ask for a booster or return": "PHQ-9 above 10 twice in a row.",
           "Recommendations": "Consider a booster at the first warning sign."}


def test_a_therapist_writes_signs_and_downloads_the_discharge_summary_on_a_phone(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name="Discharged"), therapist, prescriber, phase="completed")

    def measured():  # a row of every measure: the summary's measures table, five columns, on a phone
        today = date.today()
        for key, measure in MEASURES.items():
            record_measure(db.session.get(TreatmentCourse, course), measure=key, by=db.session.get(User, therapist),
                           answers=[max(item.values) for item in measure.items], difficulty=None,
                           administered_on=today - timedelta(days=3), today=today)
    make.run(measured)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/courses/{course}")
    expect(page.get_by_text("Discharge summary due")).to_be_visible()
    # the ended course's next step is the summary (a new user's finding: it read "Nothing ... waits on you")
    page.get_by_role("region", name="Next on this course").get_by_role("link", name="Write the discharge summary").click()
    page.get_by_role("button", name="Start the discharge summary").click()
    expect(page.get_by_role("heading", name="Course dates and phases")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the discharge summary scrolls sideways at 375 px"
    # its measures stack: nothing (Change, Outcome) scrolls out of view inside the page either
    measures = page.locator("table.discharge-measures")
    assert measures.evaluate("t => t.scrollWidth <= t.clientWidth + 1 && t.getBoundingClientRect().right <= 375")
    assert measures.locator('td[data-label="Outcome"]').first.evaluate("td => getComputedStyle(td).display") == "block"
    # the screener reads as its triage level, never as a total
    screener = measures.get_by_role("row").filter(has_text="C-SSRS")
    expect(screener.locator('td[data-label="Baseline"]')).to_have_text(re.compile(r"^High risk, "))
    for label, text in WRITTEN.items():
        page.get_by_label(label, exact=True).fill(text)
    page.get_by_label("I understand this discharge summary will be locked").check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Discharge summary signed and locked.")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the signed summary scrolls sideways at 375 px"
    with page.expect_download() as download:
        page.get_by_role("link", name="Discharge summary on").click()
    pdf = PdfReader(BytesIO(download.value.path().read_bytes()))
    text = " ".join(" ".join((p.extract_text() or "") for p in pdf.pages).split())
    for heading in ("Course dates and phases", "Doses", "Measures from baseline to last", "Themes and insights",
                    "Relapse prevention: early warning signs", "Recommendations"):
        assert heading in text, heading
    assert "River walks three times a week." in text
