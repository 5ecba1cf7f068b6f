"""Browser check at a phone's width (issue 23, points 5 and 6), by visible labels: a patient signed in
to the portal logs a practice (a first try without saying how it went is refused on its field,
what was typed kept) and checks in on an action step; then the therapist, signed in in another
browser profile, sees the log on the course page and the check-in in the next note. No page
scrolls sideways at 375 px."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today
from ketamine_integration.extensions import db
from ketamine_integration.notes import services as notes
from ketamine_integration.practices.services import assign_practice
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, sign_in, sign_in_patient
from tests.browser.layout import has_no_horizontal_scroll

PHONE = {"width": 375, "height": 800}
OBSTACLE = "Rain all afternoon"
STEP_OBSTACLE = "Too tired after the late shift"


def _practice_and_step(make, course_id: int, therapist_id: int) -> None:
    """A practice assigned from today, and a signed integration note agreeing an action step."""
    def seed():
        course, therapist, today = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist_id), \
            clinic_today()
        assign_practice(course, practice_key="movement", times=3, per="week", starts_on=today,
                        ends_on=today + timedelta(days=27), instructions="A walk counts; ten minutes is enough.",
                        by=therapist, today=today)
        note = notes.create_note(course, kind="integration", session_date=today, by=therapist, today=today)
        notes.save_note(
            note, by=therapist, expected_version=note.version, today=today, session_date=today,
            content={"stood_out": "Floating above the house", "insights": "Rest is allowed", "practices": [],
                     "challenges": [], "host_theory": "act", "self_harm_thoughts": "no", "safety_plan_reviewed": "no",
                     "techniques": []},
            themes=[], new_steps=[{"what": "Walk by the river", "how_often": "3 times a week", "starts_on": today,
                                   "review_on": today + timedelta(days=14), "linked_insight": None,
                                   "success_criterion": "Three walks a week"}],
            check_ins=[], dosing_ids=[])
        notes.sign_note(note, by=therapist, expected_version=note.version)
    make.run(seed)


def test_a_patient_logs_a_practice_and_checks_in_and_the_therapist_sees_both(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(given_name="Robin", family_name="Practising")
    course = make.course(patient, therapist, prescriber, phase="integration")
    _practice_and_step(make, course, therapist)
    account = make.portal_account(patient)

    page.set_viewport_size(PHONE)
    sign_in_patient(page, account)
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Practices").click()
    expect(page.get_by_role("heading", level=1, name="Your practices")).to_be_visible()
    movement = page.get_by_role("region", name="Movement")
    expect(movement.get_by_text("A walk counts; ten minutes is enough.")).to_be_visible()
    movement.get_by_label("What got in the way? (optional)").fill(OBSTACLE)
    movement.get_by_role("button", name=re.compile("^Save this log")).click()
    # how it went was not said: refused on its field, the words kept
    expect(page.get_by_text("Choose done, partly or not done.")).to_be_visible()
    expect(page.get_by_label("What got in the way? (optional)")).to_have_value(OBSTACLE)
    assert has_no_horizontal_scroll(page), "the refused log scrolls sideways at 375 px"
    page.get_by_label("Partly").check()
    expect(page.get_by_label("Which day")).to_have_value(clinic_today_iso(make))
    page.get_by_role("button", name=re.compile("^Save this log")).click()
    expect(page.get_by_text("Logged: Movement, today — partly. Thank you.")).to_be_visible()
    movement = page.get_by_role("region", name="Movement")
    expect(movement).to_contain_text(f"Today: Partly. “{OBSTACLE}”")
    expect(movement).to_contain_text("1 of 3 logged so far")
    assert has_no_horizontal_scroll(page), "the practices page scrolls sideways at 375 px"

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Action steps").click()
    step = page.get_by_role("region", name="Walk by the river")
    expect(step).to_contain_text("3 times a week")
    expect(page.get_by_text("Floating above the house")).to_have_count(0)   # nothing else of the note
    step.get_by_label("Not done").check()
    step.get_by_label("What got in the way? (optional)").fill(STEP_OBSTACLE)
    step.get_by_role("button", name=re.compile("^Save this check-in")).click()
    expect(page.get_by_text("Checked in: today — not done. Thank you.")).to_be_visible()
    expect(page.get_by_role("region", name="Walk by the river")).to_contain_text(f"Today: Not done. “{STEP_OBSTACLE}”")
    assert has_no_horizontal_scroll(page), "the action steps page scrolls sideways at 375 px"

    # the therapist, in a browser profile of their own
    context = page.context.browser.new_context(viewport=PHONE, base_url=live_server.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        staff = context.new_page()
        sign_in(staff, "ther", at=f"/courses/{course}#practices")
        practices = staff.get_by_role("region", name="Self-guided practices")
        expect(practices).to_contain_text("This week so far: 1 of 3 logged.")
        expect(practices).to_contain_text(f"“{OBSTACLE}”")
        staff.get_by_label("Note", exact=True).select_option("integration")
        staff.get_by_role("button", name="Start a note").click()
        expect(staff.get_by_text("The patient's check-ins since the last note, in their words:")).to_be_visible()
        expect(staff.get_by_text(f"Not done — “{STEP_OBSTACLE}”")).to_be_visible()
        assert has_no_horizontal_scroll(staff), "the next note scrolls sideways at 375 px"
    finally:
        context.close()


def clinic_today_iso(make) -> str:
    return make.query(clinic_today).isoformat()
