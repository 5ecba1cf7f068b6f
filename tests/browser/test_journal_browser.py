"""Browser check (issue 23, point 4): on a phone-sized screen the therapist sees, beside the experience
review of an integration draft, the journal entry the patient shared (marked as the patient's own
words, with its date) and quotes it into the review at the cursor by its visible labels; the private
entry shows nowhere; the quote is kept when the draft is saved. Neither page scrolls sideways at 375 px."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.journal import services as journal
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.patients.models import Patient
from tests.browser.layout import has_no_horizontal_scroll
from tests.browser.test_patients_browser import sign_in
from tests.integration.test_dosing import local

SHARED = "Sad at first, then a softness. I cried on the drive home and it felt clean."
PRIVATE = "Not for anyone yet: the thing about my father"


def test_therapist_sees_a_shared_entry_and_quotes_it_into_the_note_at_375px(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Journal")
    course = make.course(patient, therapist, prescriber, phase="experience", protocol="im-ketamine-kap")
    [dose] = make.dosing_plan(course, first_start=local(2), days_between=7, count=1)

    def given_and_written():
        """The dose's record (given two days ago); the patient's two entries, one shared."""
        session = db.session.get(DosingSession, dose)
        session.status, session.started_at, session.ended_at = "draft", local(2), local(2) + timedelta(minutes=40)
        db.session.flush()
        me = db.session.get(Patient, patient)
        shared = journal.write_entry(me, prompt="emotions", text=SHARED, now=utcnow(), dosing_session_id=dose)
        journal.share_entry(me, shared.id, utcnow())
        journal.write_entry(me, prompt="imagery", text=PRIVATE, now=utcnow(), dosing_session_id=dose)
    make.run(given_and_written)

    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/courses/{course}")
    journal_section = page.get_by_role("region", name="Journal shared by the patient")
    expect(journal_section.get_by_text(SHARED)).to_be_visible()
    expect(page.get_by_text(PRIVATE)).to_have_count(0)
    assert has_no_horizontal_scroll(page), "the course page scrolls sideways at 375 px"

    page.get_by_label("Note", exact=True).select_option("integration")
    page.get_by_role("button", name="Start a note").click()
    panel = page.get_by_role("complementary", name="From the patient's journal")
    expect(panel.get_by_text(SHARED)).to_be_visible()
    expect(panel.get_by_text("The patient's own words")).to_be_visible()
    expect(page.get_by_text(PRIVATE)).to_have_count(0)
    assert has_no_horizontal_scroll(page), "the note form with the journal scrolls sideways at 375 px"

    emotions = page.get_by_label("Emotions", exact=True)
    emotions.fill("Opened with the drive home.\nThen the week.")
    emotions.evaluate("area => area.setSelectionRange(27, 27)")  # the cursor after the first line
    assert panel.get_by_label("Quote into").input_value() == "emotions"  # the prompt the entry answered
    panel.get_by_role("button", name="Quote into the experience review").click()
    expect(page.get_by_text("Quoted into “Emotions”. Save the draft to keep it.")).to_be_attached()
    value = emotions.input_value()
    assert value.startswith(f"Opened with the drive home.\n\n“{SHARED}”\n— the patient's own words, journal entry of ")
    assert value.endswith("answering “What emotions came up?”\n\nThen the week.")

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    saved = make.query(lambda: db.session.query(SessionNote).filter_by(course_id=course).one().content)
    assert saved["emotions"].replace("\r\n", "\n") == value  # a form sends a text area's lines as CRLF
