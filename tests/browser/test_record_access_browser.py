"""Browser check (issue 25, point 2): on a phone-sized screen, the patient's therapist follows "Patient record
export" from the patient page, records a personal representative's request by the form's visible labels (a
missing name is refused on its field first) and downloads the zip; the patient downloads theirs in the
portal. Both zips are opened: the readable PDF, the FHIR bundle and the manifest with each file's SHA-256."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in, sign_in_patient
from tests.browser.layout import has_no_horizontal_scroll


def _zip_of(download) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def _checked(files: dict[str, bytes]) -> dict:
    manifest = json.loads(files["manifest.json"])
    for listed in manifest["files"]:
        assert hashlib.sha256(files[listed["path"]]).hexdigest() == listed["sha256"], listed["path"]
    assert {"record-summary.pdf", "fhir/bundle.json"} <= {f["path"] for f in manifest["files"]}
    return manifest


def test_a_therapist_makes_the_copy_for_a_representative_on_a_phone(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    patient = make.patient(given_name="Wren", family_name="Access")
    make.course(patient, therapist, prescriber, phase="experience")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "ther", at=f"/patients/{patient}")
    page.get_by_role("link", name="Patient record export").click()
    expect(page.get_by_role("heading", name="Right of access: Wren Access")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the right-of-access page scrolls sideways at 375 px"
    page.get_by_label("A personal representative named in the request").check()
    page.get_by_label("Sent by post on a device or on paper").check()
    page.get_by_label("Where it goes").fill("1 Example Lane, Springfield")
    page.get_by_role("button", name="Make the copy (zip)").click()
    # refused on its field: the representative's name and authority are missing; nothing was made
    expect(page.get_by_text("Write the personal representative's name")).to_be_visible()
    expect(page.get_by_label("Personal representative's name")).to_have_attribute("aria-invalid", "true")
    assert has_no_horizontal_scroll(page), "the refused request scrolls sideways at 375 px"
    page.get_by_label("Personal representative's name").fill("Rowan Fictional")
    page.get_by_label("What makes them the patient's personal representative").fill("Health care power of attorney")
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the copy (zip)").click()
    manifest = _checked(_zip_of(download))
    assert "Rowan Fictional" in manifest["requested"]
    page.goto(f"/patients/{patient}/record-access")
    expect(page.get_by_text("Rowan Fictional, personal representative (Health care power of attorney)")).to_be_visible()
    assert has_no_horizontal_scroll(page), "the list of copies scrolls sideways at 375 px"


def test_the_patient_downloads_their_record_in_the_portal(live_server, page: Page):
    make = live_server.make
    therapist = make.user("therapist", username="ther2")
    prescriber = make.user("prescriber", username="pres2")
    patient = make.patient(given_name="Ada", family_name="Portal")
    make.course(patient, therapist, prescriber, phase="experience")
    account = make.portal_account(patient)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in_patient(page, account)
    page.goto("/portal/")
    page.get_by_role("link", name="Your record").first.click()
    expect(page.get_by_role("heading", name="Your record", exact=True)).to_be_visible()
    assert has_no_horizontal_scroll(page), "the portal's record page scrolls sideways at 375 px"
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my record").click()
    manifest = _checked(_zip_of(download))
    assert manifest["made_by"] == "the patient, in the portal"
    page.goto("/portal/record/")
    expect(page.get_by_text("2 left today")).to_be_visible()
