"""Browser checks: a prescriber records and signs a dosing session and sees its window drawn; a flagged
blood pressure blocks the signature until a clinical response is documented."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.layout import has_no_horizontal_scroll
from tests.browser.test_patients_browser import sign_in

NY = ZoneInfo("America/New_York")


def fill_record(page: Page, start: datetime, pressures: dict[str, tuple[int, int]]) -> None:
    """Fill a complete IV dosing record, by the labels a clinician reads, with these blood pressures."""
    page.get_by_label("Dosing started").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Dosing ended").fill((start + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Dose (mg)").fill("35")
    page.get_by_label("Weight used (kg)").fill("70")
    page.get_by_label("Administered by").select_option(label="Orrin Vale")
    page.get_by_label("Monitored by").select_option(label="Orrin Vale")
    for group, (sys_bp, dia_bp) in pressures.items():
        box = page.get_by_role("group", name=group, exact=True)
        box.get_by_label("Systolic (mmHg)").fill(str(sys_bp))
        box.get_by_label("Diastolic (mmHg)").fill(str(dia_bp))
        box.get_by_label("Heart rate (/min)").fill("72")
        box.get_by_label("SpO2 (%)").fill("98")
        box.get_by_label("Respiratory rate (/min)").fill("14")
    page.get_by_label("Sedation observed").select_option("mild")
    page.get_by_label("Dissociation observed").select_option("moderate")
    # no minutes to type: monitoring is counted from the start of dosing to discharge
    expect(page.get_by_label("Total monitoring (minutes)")).to_have_count(0)
    page.get_by_label("Discharged at").fill((start + timedelta(minutes=130)).strftime("%Y-%m-%dT%H:%M"))
    for criterion in ("Alert and oriented", "Walks steadily without help", "Nausea and vomiting controlled",
                      "Leaves with a responsible adult and will not drive today"):
        page.get_by_role("group", name=criterion).get_by_label("Yes").check()


def open_course_two_days_after_dosing(live_server, page: Page, family_name: str) -> datetime:
    """A patient's IV course in its experience phase, opened by its prescriber; returns 09:00 two days ago."""
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    course = make.course(make.patient(family_name=family_name), therapist, prescriber, phase="experience")
    make.room("Dosing Suite 1")
    sign_in(page, "pres", at=f"/courses/{course}")
    return (datetime.now(NY) - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def plan_one(page: Page, start: datetime) -> None:
    page.get_by_text("Plan dosing sessions").click()
    page.get_by_label("First session (date and time)").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Number of sessions").fill("1")
    page.get_by_label("Clinician running the sessions").select_option(label="Orrin Vale")
    page.get_by_role("region", name="Dosing sessions").get_by_label("Room", exact=True).select_option(
        label="Dosing Suite 1")
    page.get_by_role("button", name="Plan").click()
    expect(page.get_by_text("Planned 1 dosing session(s).")).to_be_visible()


def test_prescriber_records_a_dosing_session_and_sees_its_window(live_server, page: Page):
    # Two days ago: its window (opens 24 h after the end) is now open and in its optimal span.
    start = open_course_two_days_after_dosing(live_server, page, "Windowed")

    # Plan one session, then open its record.
    plan_one(page, start)
    # The plan booked the room and the clinician: the course lists the booking.
    expect(page.get_by_text(re.compile(r"Orrin Vale, Dosing Suite 1, 09:00–11:00"))).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Record")).click()

    fill_record(page, start, {"Before dosing": (128, 82), "About 40 minutes after dosing": (140, 88),
                              "Before discharge": (124, 80)})
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as a draft.")).to_be_visible()
    page.get_by_role("button", name="Sign and lock").click()

    expect(page.get_by_text("signed and locked")).to_be_visible()
    page.wait_for_load_state()
    # drawn twice, for a wide screen and for a phone; the stylesheet shows the one that fits
    timeline = page.get_by_role("img", name="Integration windows of this course").filter(visible=True)
    expect(timeline).to_have_count(1)
    expect(timeline).to_be_visible()
    row = page.get_by_role("table", name="Windows, in words").get_by_role("row").nth(1)
    expect(row).to_contain_text("#1")
    expect(row).to_contain_text("Open (optimal)")
    expect(row).to_contain_text("Nothing booked")


def test_a_flagged_blood_pressure_blocks_signing_until_a_clinical_response_is_documented(live_server, page: Page):
    start = open_course_two_days_after_dosing(live_server, page, "Flagged")
    plan_one(page, start)
    page.get_by_role("link", name=re.compile(r"^Record")).click()

    # The review: 182/112 before dosing. Saving is allowed (it happened) and the flag shows at once.
    fill_record(page, start, {"Before dosing": (182, 112), "About 40 minutes after dosing": (150, 92),
                              "Before discharge": (130, 84)})
    # flagged at once, as typed (the page's script applies the protocol's limits; saving checks them again)
    typed = page.get_by_role("group", name="Before dosing", exact=True).locator("[data-live-flag]")
    expect(typed).to_contain_text("Flagged as typed:")
    expect(typed).to_contain_text("systolic pressure 182 mmHg is at or above 180 mmHg (the protocol's limit for "
                                  "starting a dose).")
    expect(typed).to_contain_text("diastolic pressure 112 mmHg is at or above 110 mmHg")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as a draft.")).to_be_visible()
    before = page.get_by_role("group", name="Before dosing", exact=True)
    expect(before.get_by_role("status").filter(has_text="systolic")).to_contain_text(
        "systolic pressure 182 mmHg is at or above 180 mmHg (the protocol's limit for starting a dose)")
    expect(before.get_by_role("status").filter(has_text="diastolic")).to_contain_text("diastolic pressure 112 mmHg")

    # Signing (which saves the form first) is refused and says what the response still lacks.
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text(re.compile(r"Not signed\. Still needed: .*the flagged reading before dosing"))
           ).to_be_visible()

    # The clinical response: what was done, who decided, the later reading (the form fits a phone too).
    page.set_viewport_size({"width": 375, "height": 740})
    response = page.get_by_role("group", name="Clinical response to the flagged reading before dosing")
    expect(response).to_be_visible()
    assert has_no_horizontal_scroll(page), "the dosing record with a response scrolls sideways at 375 px"
    response.get_by_label("What was done").fill("Rested 20 minutes in a quiet room; prescriber reviewed and "
                                                "proceeded once below the do-not-start limit.")
    response.get_by_label("Who decided").select_option(label="Orrin Vale")
    response.get_by_label("Later reading taken at").fill((start - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    response.get_by_label("Later systolic (mmHg)").fill("158")
    response.get_by_label("Later diastolic (mmHg)").fill("96")
    # Review of issue 19: a saved reading is a fact; changing it needs a reason and keeps the earlier one.
    during = page.get_by_role("group", name="About 40 minutes after dosing", exact=True)
    during.get_by_label("Systolic (mmHg)").fill("152")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("You changed a reading already saved (about 40 minutes after dosing)")).to_be_visible()
    page.get_by_label("Why a saved reading is changed").fill("Typed 150; the monitor printout shows 152.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as a draft.")).to_be_visible()
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("signed and locked")).to_be_visible()

    # The course page shows the flag with its response.
    dosing = page.get_by_role("region", name="Dosing sessions")
    expect(dosing).to_contain_text("Flagged vital signs: Before dosing: systolic pressure 182 mmHg")
    expect(dosing).to_contain_text("Response: Before dosing: Rested 20 minutes in a quiet room")
    expect(dosing).to_contain_text("decided by Orrin Vale")
    assert has_no_horizontal_scroll(page), "the course page with a flagged session scrolls sideways at 375 px"
    dosing.get_by_role("link", name=re.compile(r"^Open record")).click()
    expect(page.get_by_role("heading", name="Clinical responses to flagged readings")).to_be_visible()
    earlier = page.get_by_role("list", name="Earlier readings")
    expect(earlier).to_contain_text("About 40 minutes after dosing: blood pressure 150/92 mmHg")
    expect(earlier).to_contain_text("Typed 150; the monitor printout shows 152.")
    assert has_no_horizontal_scroll(page), "the signed record with its flags scrolls sideways at 375 px"
    # The vitals table fits the phone: the flag of the reading before dosing is in view, not past a sideways scroll.
    vitals = page.get_by_role("table", name="Vital signs")
    flag = vitals.get_by_role("cell").filter(has_text="systolic pressure 182 mmHg")
    expect(flag).to_be_visible()   # (not scrolled into view: that would scroll the table's box sideways too)
    assert fits_the_viewport_width(page, flag), "the vitals table's flag is off-screen at 375 px"
    assert vitals.evaluate("table => table.parentElement.scrollWidth <= table.parentElement.clientWidth"), \
        "the vitals table scrolls sideways in its box at 375 px"


def fits_the_viewport_width(page: Page, locator) -> bool:
    """The element lies between the viewport's left and right edges (nothing to scroll to see it)."""
    box, width = locator.bounding_box(), page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
