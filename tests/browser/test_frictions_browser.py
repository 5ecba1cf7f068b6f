"""Browser checks of issue 21, point 5 (the smaller frictions): the feed address copied with its button;
the auto-schedule booked row by row from checkboxes, its result page naming what was booked and skipped."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.layout import page_width
from tests.browser.test_patients_browser import sign_in
from tests.browser.test_scheduling_browser import _signed_window


def test_a_new_feed_address_is_copied_with_the_copy_button(live_server, page: Page):
    live_server.make.user("therapist", username="ther", full_name="Hazel Quint")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, "ther")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar feeds").click()
    page.get_by_label("Name for this feed").fill("phone")
    page.get_by_role("button", name="Create a feed address").click()
    address = page.get_by_label("Feed address")
    url = address.input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/feeds/[\w-]+\.ics", url)
    page.get_by_role("button", name="Copy the address").click()
    expect(page.get_by_text("Copied: paste it into your calendar app.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    webcal = page.get_by_role("link", name="Subscribe with your calendar app")
    assert webcal.get_attribute("href") == "webcal://" + url.split("://", 1)[1]
    for app_name in ("Google Calendar", "Outlook", "Apple Calendar"):
        expect(page.get_by_role("heading", name=app_name, exact=True)).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page_width(page) <= 375


def test_staff_untick_one_proposed_session_and_the_result_lists_what_was_booked(live_server, page: Page):
    """Two patients' windows proposed; staff untick one by its row's box: only the other is booked,
    and the result page names both (booked: time, therapist, where; the other: not chosen)."""
    _signed_window(live_server, "Browserbooked", hour=9)
    _signed_window(live_server, "Leftunticked", hour=12)
    sign_in(page, "desk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Auto-schedule").click()
    proposal = page.get_by_role("table", name="Proposed sessions (2)")
    unwanted = proposal.get_by_role("row").filter(has_text="Leftunticked")
    expect(unwanted.get_by_role("checkbox", name=re.compile("^Book"))).to_be_checked()
    expect(unwanted).to_contain_text("In person, Dosing Suite")
    unwanted.get_by_role("checkbox", name=re.compile("^Book")).uncheck()
    page.get_by_role("button", name="Book the chosen sessions").click()
    expect(page.get_by_role("heading", level=1, name="Auto-schedule: what was booked")).to_be_visible()
    expect(page.get_by_text("Booked 1 integration session; 1 not chosen.")).to_be_visible()
    booked = page.get_by_role("table", name="Sessions booked")
    expect(booked).to_contain_text("Browserbooked")
    expect(booked).to_contain_text("Hazel Quint")
    expect(booked).not_to_contain_text("Leftunticked")
    expect(page.get_by_role("region", name="Not chosen (1)")).to_contain_text("Leftunticked")
    page.get_by_role("link", name="Propose again").click()
    expect(page.get_by_role("table", name="Proposed sessions (1)")).to_contain_text("Leftunticked")


def test_the_users_tables_action_cells_stay_table_cells_in_line_with_their_row(live_server, page: Page):
    """`.actions {display: flex}` once hit `td.actions`: the cell left the table's layout and its row's
    cells no longer lined up. The links now sit in a div inside an ordinary cell."""
    make = live_server.make
    make.user("admin", username="boss", full_name="Bo Admin")
    for n in range(3):
        make.user("therapist", username=f"ther{n}", full_name=f"Theo Rapist {n}")
    sign_in(page, "boss")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    table = page.get_by_role("table", name="Clinic user accounts")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    layout = rows.evaluate_all("""rows => rows.map(row => [...row.cells].map(cell => ({
        display: getComputedStyle(cell).display, top: Math.round(cell.getBoundingClientRect().top),
        bottom: Math.round(cell.getBoundingClientRect().bottom)})))""")
    for cells in layout:
        assert {c["display"] for c in cells} == {"table-cell"}
        assert len({c["top"] for c in cells}) == 1 and len({c["bottom"] for c in cells}) == 1  # one row, one band
    expect(rows.filter(has_text="Theo Rapist 1").get_by_role("link", name="Hours of ther1")).to_be_visible()


def test_a_therapist_goes_back_from_the_report_preview_with_the_text_kept(live_server, page: Page):
    from datetime import date

    from ketamine_integration.accounts.models import User
    from ketamine_integration.coordination.services import create_release
    from ketamine_integration.extensions import db
    from ketamine_integration.patients.models import Patient

    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(family_name="Previewed")
    course = make.course(patient, therapist, prescriber, phase="experience")
    make.run(lambda: create_release(db.session.get(Patient, patient), recipient_user_id=prescriber,
                                    recipient_name=None, categories=["measures"], purpose="Coordination",
                                    effective_on=date.today(), expires_on=None, by=db.session.get(User, therapist)))
    sign_in(page, "ther", at=f"/courses/{course}/coordination")
    page.get_by_label("For", exact=True).select_option(label="Orrin Vale")
    page.get_by_label("Questions for the prescriber").fill("Is a booster worth discussing?\nShe asked twice.")
    page.get_by_label("Recommendations").fill("Keep the 2-day spacing.")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1, name="Coordination report for Orrin Vale")).to_be_visible()
    page.get_by_role("button", name="← Back to the coordination page").click()
    expect(page.get_by_role("heading", level=1, name="Prescriber coordination")).to_be_visible()
    expect(page.get_by_label("Questions for the prescriber")).to_have_value("Is a booster worth discussing?\nShe asked twice.")
    expect(page.get_by_label("Recommendations")).to_have_value("Keep the 2-day spacing.")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Generate and store this report").click()
    expect(page.get_by_text("Report generated and stored")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Coordination report on Testa Previewed \(KI-\d+\) for Orrin Vale"))
           ).to_be_visible()
