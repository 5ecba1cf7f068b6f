"""Browser check of a new user's findings on issue 24's forms, on a phone-sized screen and by visible
labels: each objective's and contact's controls have their own names ("Objective 2: by when"), a
"Sign and lock" refused for an unticked box keeps the draft and marks the box, and the signed plan's
objectives stack (no sideways scroll) with the linked measure's name."""
from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from tests.browser.layout import has_no_horizontal_scroll
from tests.browser.test_patients_browser import sign_in

OBJECTIVES = (
    {"goal it serves": "Goal 1", "specific target (who does what, how often or how many)": "Walks 20 minutes, 3 times a week",
     "measure and criterion of success": "PHQ-9 under 10 at the review", "by when": 42,
     "mechanism (why it should help)": "Behavioural activation", "linked measure (optional)": "PHQ-9"},
    {"goal it serves": "Goal 1", "specific target (who does what, how often or how many)": "Calls a friend weekly",
     "measure and criterion of success": "Four calls logged", "by when": 30,
     "mechanism (why it should help)": "Reconnecting counters withdrawal", "linked measure (optional)": "WSAS"},
)


def _fill_objective(page: Page, n: int, parts: dict) -> None:
    for part, value in parts.items():
        control = page.get_by_label(f"Objective {n}: {part}", exact=True)
        if part in ("goal it serves", "linked measure (optional)"):
            control.select_option(label=value)
        elif part == "by when":
            control.fill((date.today() + timedelta(days=value)).isoformat())
        else:
            control.fill(value)


def test_a_plan_with_two_objectives_is_written_by_its_row_labels_and_signed_on_a_phone(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther")
    prescriber = make.user("prescriber", username="pres")
    course = make.course(make.patient(family_name="Planned"), therapist, prescriber, phase="integration")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/courses/{course}/plan")
    page.get_by_role("button", name="Start the plan").click()
    expect(page.get_by_label("Reviewed, no change", exact=False)).to_have_count(0)   # the first revision
    page.get_by_label("Goal 1", exact=True).fill("Re-engage with daily life")
    for n, parts in enumerate(OBJECTIVES, 1):
        _fill_objective(page, n, parts)
    page.get_by_label("Main integration pathway").select_option(label="Assimilative integration")
    page.get_by_label("Decision-map stage").select_option(index=1)
    page.get_by_label("Review the plan on").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_label("Technique 1: why this technique").fill("Counter inertia")
    page.get_by_label("Technique 1: planned technique").select_option(index=1)
    page.get_by_role("button", name="Sign and lock").click()                        # the box left unticked
    expect(page.get_by_text("Draft saved, not signed")).to_be_visible()
    box = page.get_by_label("I understand this revision will be locked")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Objective 2: specific target (who does what, how often or how many)")
           ).to_have_value("Calls a friend weekly")                                 # what was typed, kept
    box.check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Signed and locked.")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the signed plan scrolls sideways at 375 px"
    objectives = page.get_by_role("table", name="Objectives")
    expect(objectives).to_contain_text("PHQ-9")
    expect(objectives).to_contain_text("WSAS")
    expect(objectives).not_to_contain_text("wsas")


def test_the_safety_plans_contacts_are_named_by_row_and_signing_asks_for_the_box(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther")
    prescriber = make.user("prescriber", username="pres")
    patient = make.patient(family_name="Safeplan")
    make.course(patient, therapist, prescriber, phase="integration")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/patients/{patient}/safety-plan/edit")
    page.get_by_label("1. Warning signs", exact=False).fill("Not sleeping")
    page.get_by_label("Person to ask for help 1: name", exact=True).fill("Dana (friend)")
    page.get_by_label("Person to ask for help 1: phone", exact=True).fill("555-0142")
    expect(page.get_by_label("Professional or crisis line 1: phone", exact=True)).to_have_value("988")
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Draft saved, not signed")).to_be_visible()
    box = page.get_by_label("I understand this revision will be locked")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("signed. Corrections are addenda")).to_be_visible()
    assert has_no_horizontal_scroll(page)
