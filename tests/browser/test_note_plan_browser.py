"""Browser check (issue 24, point 3): with a signed treatment plan, a therapist sees the plan in the
note, records progress on its objective, asks to move the stage (a reason is required), ties the new
step to the objective and signs; the stage moves only then, and the plan page shows the progress."""
from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.plans import services as plans
from tests.browser.test_note_techniques_browser import _sign, _start
from tests.browser.test_patients_browser import sign_in


def _signed_plan(course_id: int, therapist_id: int) -> None:
    today = date.today()
    course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist_id)
    plan = plans.start_revision(course, by=by)
    plans.save_plan(plan, by=by, expected_version=plan.version, today=today,
                    content={"problems_patient": "I stay in bed", "problems_clinician": "Withdrawal",
                             "goals": ["Re-engage with daily life"]},
                    objectives=[{"goal": "1", "target": "Walks 20 minutes, 3 times a week",
                                 "criterion": "Log shows 3 walks a week for 4 weeks",
                                 "by_when": today + timedelta(days=42), "mechanism": "Behavioural activation"}],
                    techniques=[], pathway="assimilative_integration", host_theory="psychodynamic",
                    stage="stabilise", review_on=today + timedelta(days=30), no_change=False)
    plans.sign_plan(plan, by=by, expected_version=plan.version, today=today)


def test_progress_and_a_stage_move_are_recorded_by_label_and_the_stage_moves_on_signing(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name="Planned"), therapist, prescriber, phase="integration")
    make.run(lambda: _signed_plan(course, therapist))
    sign_in(page, "ther")
    _start(page, course, date.today())
    expect(page.get_by_text("Follows treatment plan revision 1")).to_be_visible()
    objective = page.get_by_role("group", name="Objective 1")
    objective.get_by_label("Progress on this objective").select_option(label="Some progress")
    objective.get_by_label("Comment on the progress").fill("Two walks this week")
    page.get_by_label("Move the course to stage").select_option(label="2. Clarify the problem pattern")
    step = page.get_by_role("group", name="New action step 1")
    step.get_by_label("What, specifically").fill("Walk by the river")
    step.get_by_label("How often").fill("3 times a week")
    step.get_by_label("From").fill(date.today().isoformat())
    step.get_by_label("Review on").fill((date.today() + timedelta(days=14)).isoformat())
    step.get_by_label("Success criterion: how you will both know it worked").fill("Three walks logged a week")
    step.get_by_label("Plan objective it serves").select_option(label="1. Walks 20 minutes, 3 times a week")
    page.get_by_role("button", name="Save draft").click()              # no reason: refused on its field
    expect(page.get_by_text("Say why the stage changes")).to_be_visible()
    page.get_by_label("Why the stage changes").fill("Safety plan in place; mapping the pattern next")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(page.get_by_text("Decision-map stage now: 1. Stabilise and build safety")).to_be_visible()
    _sign(page)
    expect(page.get_by_text("Moved the course to 2. Clarify the problem pattern")).to_be_visible()
    page.goto(f"/courses/{course}/plan")
    expect(page.get_by_text("Now: 2. Clarify the problem pattern")).to_be_visible()
    expect(page.get_by_text("Some progress — Two walks this week", exact=False)).to_be_visible()
