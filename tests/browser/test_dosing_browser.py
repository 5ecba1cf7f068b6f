"""Browser check: a prescriber records and signs a dosing session and sees its window drawn."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.test_patients_browser import sign_in

NY = ZoneInfo("America/New_York")


def test_prescriber_records_a_dosing_session_and_sees_its_window(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Windowed")
    course = make.course(patient, therapist, prescriber, phase="experience")
    make.room("Dosing Suite 1")
    sign_in(page, "pres")
    page.goto(f"/courses/{course}")
    # Two days ago: its window (opens 24 h after the end) is now open and in its optimal span.
    start = (datetime.now(NY) - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)

    # Plan one session, then open its record.
    page.get_by_text("Plan dosing sessions").click()
    page.get_by_label("First session (date and time)").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Number of sessions").fill("1")
    page.get_by_label("Clinician running the sessions").select_option(label="Orrin Vale")
    # the booking form below has a Room of its own (with its own id since issue 17)
    page.get_by_role("region", name="Dosing sessions").get_by_label("Room", exact=True).select_option(
        label="Dosing Suite 1")
    page.get_by_role("button", name="Plan").click()
    expect(page.get_by_text("Planned 1 dosing session(s).")).to_be_visible()
    # The plan booked the room and the clinician: the course lists the booking.
    expect(page.get_by_text(re.compile(r"Orrin Vale, Dosing Suite 1, 09:00–11:00"))).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Record")).click()

    page.get_by_label("Dosing started").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Dosing ended").fill((start + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Dose (mg)").fill("35")
    page.get_by_label("Weight used (kg)").fill("70")
    page.get_by_label("Administered by").select_option(label="Orrin Vale")
    page.get_by_label("Monitored by").select_option(label="Orrin Vale")
    for group, (sys_bp, dia_bp) in {"Before dosing": (128, 82), "About 40 minutes after dosing": (140, 88),
                                     "Before discharge": (124, 80)}.items():
        box = page.get_by_role("group", name=group)
        box.get_by_label("Systolic (mmHg)").fill(str(sys_bp))
        box.get_by_label("Diastolic (mmHg)").fill(str(dia_bp))
        box.get_by_label("Heart rate (/min)").fill("72")
        box.get_by_label("SpO2 (%)").fill("98")
    page.get_by_label("Sedation observed").select_option("mild")
    page.get_by_label("Dissociation observed").select_option("moderate")
    page.get_by_label("Total monitoring (minutes)").fill("90")
    page.get_by_label("Discharged at").fill((start + timedelta(minutes=130)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("group", name="Discharge criteria met").get_by_label("Yes").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved as a draft.")).to_be_visible()
    page.get_by_role("button", name="Sign and lock").click()

    expect(page.get_by_text("signed and locked")).to_be_visible()
    timeline = page.get_by_role("img", name="Integration windows of this course")
    expect(timeline).to_be_visible()
    row = page.get_by_role("table", name="Windows, in words").get_by_role("row").nth(1)
    expect(row).to_contain_text("#1")
    expect(row).to_contain_text("Open (optimal)")
    expect(row).to_contain_text("Nothing booked")
