"""Browser check of issue 24 end to end, by visible labels only: a therapist writes a treatment plan
with two SMART objectives and signs it, writes the next integration note recording progress on both
(and a process note on it) and signs it, completes the course from its page, writes and signs the
discharge summary and downloads its PDF: its sections are there, both objectives with the progress
recorded on them, and nothing of the process note (checked with pypdf)."""
from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.test_discharge_browser import WRITTEN
from tests.browser.test_note_techniques_browser import _sign as _sign_note
from tests.browser.test_note_techniques_browser import _start as _start_note
from tests.browser.test_patients_browser import sign_in

#: the visible labels this test drives, in one place (forms whose labels change are adjusted here)
PLAN_LABELS = {"goal": "Goal 1", "serves": "Goal it serves",
               "target": "Specific target (who does what, how often or how many)",
               "criterion": "Measure and criterion of success", "by_when": "By when",
               "mechanism": "Mechanism (why it should help)", "measure": "Linked measure (optional)",
               "problems_patient": "Problems, in the patient's words",
               "problems_clinician": "Problems, in the clinician's words",
               "pathway": "Main integration pathway", "host_theory": "Host theory",
               "technique": "Planned technique", "technique_why": "Why this technique",
               "stage": "Decision-map stage", "review_on": "Review the plan on",
               "lock": "I understand this revision will be locked"}
#: the row groups of the plan form and of the note form, by their accessible names (row n: format(n))
OBJECTIVE_GROUP, TECHNIQUE_GROUP = "Objective {}", "Technique {}"
NOTE_LABELS = {"progress": "Progress on this objective", "comment": "Comment on the progress",
               "process": "Process notes (only you will ever see these)"}
END_LABELS = {"move_to": "Move to", "reason": "Reason"}
DISCHARGE_LOCK = "I understand this discharge summary will be locked"

OBJECTIVES = ({"target": "Walks 20 minutes, 3 times a week", "criterion": "Log shows 3 walks a week for 4 weeks",
               "mechanism": "Behavioural activation before insight", "measure": "PHQ-9",
               "progress": "Achieved", "comment": "Walked three times a week for a month"},
              {"target": "Calls one friend a week", "criterion": "4 calls in 4 weeks",
               "mechanism": "Reconnection tests the belief of being a burden", "measure": "WSAS",
               "progress": "Some progress", "comment": "Two calls to her sister"})
#: written in a process note on the integration note: must never reach the discharge summary's PDF
PROCESS_CANARY = "Canary-e2e-5093 my own countertransference"


def _write_and_sign_the_plan(page: Page, course: int) -> None:
    today = date.today()
    page.goto(f"/courses/{course}")
    page.get_by_role("link", name="Treatment plan", exact=True).click()
    page.get_by_role("button", name="Start the plan").click()
    page.get_by_label(PLAN_LABELS["problems_patient"]).fill("I can't get out of bed")
    page.get_by_label(PLAN_LABELS["problems_clinician"]).fill("Low activation, withdrawal from friends")
    page.get_by_label(PLAN_LABELS["goal"], exact=True).fill("Re-engage with daily life")
    for n, objective in enumerate(OBJECTIVES, start=1):
        row = page.get_by_role("group", name=OBJECTIVE_GROUP.format(n), exact=True)
        row.get_by_label(PLAN_LABELS["serves"]).select_option(label="Goal 1")
        row.get_by_label(PLAN_LABELS["target"]).fill(objective["target"])
        row.get_by_label(PLAN_LABELS["criterion"]).fill(objective["criterion"])
        row.get_by_label(PLAN_LABELS["by_when"]).fill((today + timedelta(days=42)).isoformat())
        row.get_by_label(PLAN_LABELS["mechanism"]).fill(objective["mechanism"])
        row.get_by_label(PLAN_LABELS["measure"]).select_option(label=objective["measure"])
    page.get_by_label(PLAN_LABELS["pathway"]).select_option(label="Assimilative integration")
    page.get_by_label(PLAN_LABELS["host_theory"]).select_option(label="Psychodynamic")
    technique = page.get_by_role("group", name=TECHNIQUE_GROUP.format(1), exact=True)
    technique.get_by_label(PLAN_LABELS["technique"]).select_option(label="Behavioural activation")
    technique.get_by_label(PLAN_LABELS["technique_why"]).fill("Counter the morning inertia")
    page.get_by_label(PLAN_LABELS["stage"]).select_option(label="1. Stabilise and build safety")
    page.get_by_label(PLAN_LABELS["review_on"]).fill((today + timedelta(days=30)).isoformat())
    page.get_by_label(PLAN_LABELS["lock"]).check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Signed and locked. Corrections are addenda")).to_be_visible()


def _write_and_sign_the_note(page: Page, course: int) -> None:
    _start_note(page, course, date.today())
    expect(page.get_by_text("Follows treatment plan revision 1")).to_be_visible()
    for n, objective in enumerate(OBJECTIVES, start=1):
        row = page.get_by_role("group", name=OBJECTIVE_GROUP.format(n), exact=True)
        expect(row).to_contain_text(objective["target"])
        row.get_by_label(NOTE_LABELS["progress"]).select_option(label=objective["progress"])
        row.get_by_label(NOTE_LABELS["comment"]).fill(objective["comment"])
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    note = page.url
    page.get_by_role("link", name="Process notes (private to you)").click()
    page.get_by_label(NOTE_LABELS["process"]).fill(PROCESS_CANARY)
    page.get_by_role("button", name="Save process notes").click()
    expect(page.get_by_label(NOTE_LABELS["process"])).to_have_value(PROCESS_CANARY)
    page.goto(note)
    _sign_note(page)
    for objective in OBJECTIVES:
        expect(page.get_by_text(f"{objective['target']}: {objective['progress'].lower()}")).to_be_visible()


def _complete_the_course(page: Page, course: int) -> None:
    page.goto(f"/courses/{course}")
    form = page.locator("form", has=page.get_by_role("button", name="Change phase"))
    form.get_by_label(END_LABELS["move_to"]).select_option(label="Completed")
    form.get_by_label(END_LABELS["reason"], exact=True).fill("Series and integration sessions done")
    form.get_by_role("button", name="Change phase").click()
    expect(page.get_by_role("heading", name="Mark the course completed?")).to_be_visible()
    page.get_by_role("button", name="Mark").click()
    expect(page.get_by_text("Discharge summary due")).to_be_visible()


def test_a_plan_with_two_objectives_to_a_signed_discharge_summary_pdf(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name="Endtoend"), therapist, prescriber, phase="integration")
    sign_in(page, "ther")
    _write_and_sign_the_plan(page, course)
    _write_and_sign_the_note(page, course)
    _complete_the_course(page, course)

    page.get_by_role("region", name="Next on this course").get_by_role(
        "link", name="Write the discharge summary").click()
    page.get_by_role("button", name="Start the discharge summary").click()
    for label, text in WRITTEN.items():
        page.get_by_label(label, exact=True).fill(text)
    page.get_by_label(DISCHARGE_LOCK).check()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Discharge summary signed and locked.")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Discharge summary on").click()
    pdf = PdfReader(BytesIO(download.value.path().read_bytes()))
    text = " ".join(" ".join((p.extract_text() or "") for p in pdf.pages).split())
    for heading in ("Course dates and phases", "Doses", "Integration sessions and windows",
                    "Measures from baseline to last", "Treatment plan objectives", "Themes and insights",
                    "Summary of the course", "Relapse prevention: early warning signs", "Recommendations"):
        assert heading in text, heading
    recorded = f"(recorded {date.today().isoformat()})"
    for objective in OBJECTIVES:
        assert objective["target"] in text, objective["target"]
        assert f"{objective['progress']} {recorded}: {objective['comment']}" in text, objective["progress"]
    assert "Canary-e2e-5093" not in text and "countertransference" not in text
