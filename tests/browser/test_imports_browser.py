"""The import page in Chromium, by its visible labels: a file with refused rows is reported row by row
and imports nothing; the corrected file is checked, confirmed and imported whole; both widths fit."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.browser.conftest import main_menu, sign_in
from tests.browser.layout import has_no_horizontal_scroll

HEADER = "mrn,given_name,family_name,date_of_birth,email\n"
GOOD = HEADER + "EXT-501,Wren,Quillfeather,1984-03-07,wren@example.org\nEXT-502,Moss,Ivybank,1990-11-30,\n"
BROKEN = HEADER + "EXT-501,Wren,Quillfeather,1984-03-07,wren@example.org\nEXT-502,Moss,Ivybank,1990-13-30,not-mail\n"


def _count(live_server) -> int:
    return live_server.make.run(lambda: db.session.scalar(select(func.count()).select_from(Patient)))


@pytest.mark.parametrize("width", [375, 1280])
def test_staff_import_a_patients_file_after_fixing_what_the_report_refused(live_server, page: Page, tmp_path, width):
    live_server.make.user("staff", username="frontdesk", full_name="Dana Whitlow")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "frontdesk")
    main_menu(page).get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Import from a file").click()
    expect(page.get_by_role("heading", level=1, name="Import patients or measures")).to_be_visible()

    broken = tmp_path / "clinic-export.csv"
    broken.write_text(BROKEN, encoding="utf-8")
    page.get_by_label("Patients (CSV or FHIR Patient)").check()
    page.get_by_label("File to import").set_input_files(str(broken))
    page.get_by_role("button", name="Check the file").click()
    refused = page.get_by_role("table", name="Refused rows")
    expect(refused.get_by_role("row")).to_have_count(3)                  # the head, then row 3's two fields
    expect(refused).to_contain_text("date_of_birth")
    expect(refused).to_contain_text("email")
    expect(page.get_by_role("button", name=re.compile("^Import "))).to_have_count(0)
    assert has_no_horizontal_scroll(page)
    before = _count(live_server)

    good = tmp_path / "clinic-export-fixed.csv"
    good.write_text(GOOD, encoding="utf-8")
    page.get_by_label("File to import").set_input_files(str(good))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("table", name="Refused rows")).to_have_count(0)
    page.get_by_label("The same file again, to import it").set_input_files(str(good))
    assert has_no_horizontal_scroll(page)
    page.get_by_role("button", name="Import 2 patients").click()
    expect(page.get_by_text("Imported 2 patients from clinic-export-fixed.csv. They have no care team yet: choose it with Edit on each patient's page.")).to_be_visible()
    assert _count(live_server) == before + 2
