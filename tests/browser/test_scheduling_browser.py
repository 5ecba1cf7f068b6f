"""Browser checks: book from a suggestion and see the window covered provisionally; book an integration
session for a dose planned next week; confirm an auto-schedule; mark yesterday's session attended from
the worklist; enter a session that was held."""
from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.services import plan_series, save_record, sign
from ketamine_integration.extensions import db
from ketamine_integration.bookings.models import Appointment, AppointmentChange, Room, WorkingHours
from ketamine_integration.scheduling.services import book_integration_session
from tests.browser.conftest import main_menu
from tests.browser.layout import page_width
from tests.browser.test_patients_browser import sign_in
from tests.factories import DISCHARGE_MET

NY = ZoneInfo("America/New_York")


def _signed_window(live_server, family_name: str = "Browserbooked", hour: int = 9) -> tuple[int, int]:
    """A course in experience with a dosing session signed two days ago at `hour` (window open); the
    clinic's therapist, prescriber and staff user, their hours and the dosing room made the first time."""
    make = live_server.make
    known = make.query(lambda: {u.username: u.id for u in db.session.scalars(select(User))})
    first = "ther" not in known
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint") if first else known["ther"]
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale") if first else known["pres"]
    if first:
        make.user("staff", username="desk", full_name="Dana Whitlow")
    course_id = make.course(make.patient(family_name=family_name), therapist, prescriber, phase="experience")

    def setup():
        if first:
            for weekday in range(7):
                db.session.add(WorkingHours(clinician_id=therapist, weekday=weekday, starts=time(9), ends=time(17)))
        course = db.session.get(TreatmentCourse, course_id)
        start = (datetime.now(NY) - timedelta(days=2)).replace(hour=hour, minute=0, second=0, microsecond=0)
        room = db.session.scalar(select(Room).where(Room.name == "Dosing Suite")) or Room(name="Dosing Suite")
        db.session.add(room)
        db.session.flush()
        [session] = plan_series(course, first_start=start, days_between=2, count=1, reason=None,
                                clinician_id=prescriber, room_id=room.id, by=db.session.get(User, prescriber))
        vitals = {tp: {"systolic": 125, "diastolic": 80, "heart_rate": 70, "spo2": 98}
                  for tp in ("baseline", "post_40", "discharge")}
        save_record(session, values=dict(
            started_at=start, ended_at=start + timedelta(minutes=40), route="iv", medication="ketamine", dose_mg=35,
            weight_kg=70, lot_number="L1", administered_by_id=prescriber, monitored_by_id=prescriber, sedation="mild",
            dissociation="mild", concomitant_sedating_medications=None,
            discharged_at=start + timedelta(minutes=130), ready_to_leave_at=None,
            vitals_acceptable_before_dosing=None, vitals_acceptable_before_discharge=None),
            vitals=vitals, adverse_events=[], expected_version=session.version, by=db.session.get(User, prescriber),
            discharge_checks=DISCHARGE_MET)
        sign(session, by=db.session.get(User, prescriber), expected_version=session.version)
    make.run(setup)
    return course_id, therapist


def test_staff_book_a_suggested_slot_and_the_window_turns_provisionally_covered(live_server, page: Page):
    course_id, _ = _signed_window(live_server)
    sign_in(page, "desk", at=f"/courses/{course_id}")
    windows = page.get_by_role("table", name="Windows, in words")
    expect(windows).to_contain_text("Nothing booked")
    first = page.locator("form.suggestion").first
    expect(first).to_contain_text("Hazel Quint")
    first.get_by_role("button", name="Book telehealth").click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    expect(page.get_by_role("table", name="Windows, in words")).to_contain_text("Booked, not yet held")
    expect(page.get_by_role("table", name="Windows, in words")).not_to_contain_text("Nothing booked")


def test_staff_book_an_integration_session_for_a_dose_planned_next_week(live_server, page: Page):
    """Issue 20, point 1: the planned dose's provisional window offers times from the day it is planned."""
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    make.user("staff", username="desk", full_name="Dana Whitlow")
    course_id = make.course(make.patient(family_name="Plannedahead"), therapist, prescriber, phase="experience")
    make.run(lambda: db.session.add_all(WorkingHours(clinician_id=therapist, weekday=d, starts=time(9), ends=time(17))
                                        for d in range(7)))
    next_week = (datetime.now(NY) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    make.dosing_plan(course_id, first_start=next_week, days_between=2, count=1)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "desk", at=f"/courses/{course_id}")
    provisional = page.get_by_role("table", name="Provisional windows of planned doses")
    expect(provisional).to_contain_text("Provisional: not yet open")
    expect(provisional).to_contain_text("Nothing booked")
    page.get_by_text("Suggested times for dosing session #1's provisional window").click()
    offered = page.locator("details", has_text="Suggested times for dosing session #1's provisional window")
    assert page_width(page) <= 375
    offered.get_by_role("button", name="Book telehealth").first.click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    expect(page.get_by_role("table", name="Provisional windows of planned doses")).to_contain_text(
        "Booked, not yet held")
    expect(page.get_by_text("booked for dosing session #1's provisional window")).to_be_visible()
    _shot(page.locator("#windows"), "provisional-window-booked")


def _booked_outside_the_real_window(live_server) -> None:
    """A dose planned two days ago with an integration session booked for its provisional window half
    an hour before that window closed, then signed with dosing ended at 9:40: the real window closes
    80 minutes earlier, leaving the session outside it."""
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    make.user("staff", username="desk", full_name="Dana Whitlow")
    course_id = make.course(make.patient(family_name="Leftout"), therapist, prescriber, phase="experience")

    def setup():
        db.session.add_all(WorkingHours(clinician_id=therapist, weekday=d, starts=time(9), ends=time(17))
                           for d in range(7))
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, prescriber)
        start = (datetime.now(NY) - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
        room = Room(name="Dosing Suite")
        db.session.add(room)
        db.session.flush()
        [session] = plan_series(course, first_start=start, days_between=2, count=1, reason=None,
                                clinician_id=prescriber, room_id=room.id, by=by)
        book_integration_session(course, clinician_id=therapist, starts_at=start + timedelta(days=14, minutes=90),
                                 minutes=50, modality="telehealth", by=by, now=utcnow())
        vitals = {tp: {"systolic": 125, "diastolic": 80, "heart_rate": 70, "spo2": 98}
                  for tp in ("baseline", "post_40", "discharge")}
        save_record(session, values=dict(
            started_at=start, ended_at=start + timedelta(minutes=40), route="iv", medication="ketamine", dose_mg=35,
            weight_kg=70, lot_number="L1", administered_by_id=prescriber, monitored_by_id=prescriber, sedation="mild",
            dissociation="mild", concomitant_sedating_medications=None,
            discharged_at=start + timedelta(minutes=130), ready_to_leave_at=None,
            vitals_acceptable_before_dosing=None, vitals_acceptable_before_discharge=None),
            vitals=vitals, adverse_events=[], expected_version=session.version, by=by, discharge_checks=DISCHARGE_MET)
        sign(session, by=by, expected_version=session.version)
    make.run(setup)


def test_staff_move_a_session_left_outside_the_real_window_from_the_worklist(live_server, page: Page):
    _booked_outside_the_real_window(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "desk")
    main_menu(page).get_by_role("link", name="Worklist").click()
    row = page.get_by_role("row", name=re.compile("Booked for a provisional window, now outside the real one"))
    expect(row).to_contain_text("Testa Leftout")
    assert page_width(page) <= 375
    _shot(page, "worklist-outside-real-window")
    row.get_by_role("button", name=re.compile("^Move to ")).click()
    expect(page.get_by_text("Appointment moved.")).to_be_visible()
    expect(page.get_by_text("Booked for a provisional window, now outside the real one")).to_have_count(0)


def test_staff_confirm_an_auto_schedule_proposal(live_server, page: Page):
    course_id, _ = _signed_window(live_server)
    sign_in(page, "desk")
    main_menu(page).get_by_role("link", name="Auto-schedule").click()
    proposal = page.get_by_role("table", name="Proposed sessions (1)")
    expect(proposal).to_contain_text("Browserbooked")
    page.get_by_role("button", name="Book the chosen sessions").click()
    expect(page.get_by_text("Booked 1 integration session.")).to_be_visible()
    page.goto(f"/courses/{course_id}")
    expect(page.get_by_role("table", name="Windows, in words")).to_contain_text("Booked, not yet held")


def _booked_yesterday(live_server, course_id: int, therapist: int) -> None:
    """An integration session booked for yesterday afternoon (inside the window), its outcome not recorded."""
    def add():
        course = db.session.get(TreatmentCourse, course_id)
        starts = (datetime.now(NY) - timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0)
        appointment = Appointment(patient_id=course.patient_id, course_id=course_id, clinician_id=therapist,
                                  kind="integration", starts_at=starts, ends_at=starts + timedelta(minutes=50),
                                  modality="telehealth", created_by_id=therapist)
        appointment.changes.append(AppointmentChange(change="booked", by_user_id=therapist))
        db.session.add(appointment)
    live_server.make.run(add)


def test_staff_mark_yesterdays_session_attended_from_the_worklist(live_server, page: Page):
    course_id, therapist = _signed_window(live_server)
    _booked_yesterday(live_server, course_id, therapist)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "desk")
    main_menu(page).get_by_role("link", name="Worklist").click()
    to_confirm = page.get_by_role("region", name="Sessions to confirm (1)")
    expect(to_confirm).to_contain_text("Integration session with Testa Browserbooked")
    assert page_width(page) <= 375  # four buttons wrap on a phone
    to_confirm.get_by_role("button", name="Attended").click()
    expect(page.get_by_text("Outcome recorded: attended.")).to_be_visible()
    expect(page.get_by_role("heading", name="Sessions to confirm (0)")).to_be_visible()
    page.goto(f"/courses/{course_id}")
    windows = page.get_by_role("table", name="Windows, in words")
    expect(windows).to_contain_text("Covered (in the optimal span)")
    expect(windows).to_contain_text("(attended)")


def test_a_therapist_enters_a_session_that_was_held_without_a_booking(live_server, page: Page):
    course_id, _ = _signed_window(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "ther", at=f"/courses/{course_id}")
    expect(page.get_by_role("table", name="Windows, in words")).to_contain_text("Nothing booked")
    page.get_by_text("Enter a session that was held").click()
    held = page.locator("details", has_text="Enter a session that was held")
    assert page_width(page) <= 375
    yesterday = (datetime.now(NY) - timedelta(days=1)).replace(hour=11, minute=0)
    held.get_by_label("When it started").fill(yesterday.strftime("%Y-%m-%dT%H:%M"))
    held.get_by_label("Why it is entered afterwards").fill("Walk-in after a hard week")
    held.get_by_role("button", name="Enter the session").click()
    expect(page.get_by_text("Only a session the patient attended is entered here")).to_be_visible()
    expect(page.get_by_text("Say whether the session was held in person or by telehealth")).to_be_visible()
    held = page.locator("details", has_text="Enter a session that was held")
    held.get_by_label("Telehealth").check()
    held.get_by_label("The patient attended this session").check()
    held.get_by_role("button", name="Enter the session").click()
    expect(page.get_by_text("Integration session entered as attended")).to_be_visible()
    expect(page.get_by_role("table", name="Windows, in words")).to_contain_text("Covered")
    expect(page.get_by_text("entered after it was held: Walk-in after a hard week")).to_be_visible()


def test_scheduling_pages_fit_a_375px_phone_screen(live_server, page: Page):
    course_id, _ = _signed_window(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "desk")
    for path in ("/worklist", "/schedule/auto", "/calendar", f"/courses/{course_id}"):
        page.goto(path)
        width = page_width(page)
        assert width <= 375, f"{path} is {width}px wide"


def test_staff_book_a_covering_therapist_only_by_adding_them_to_the_care_team(live_server, page: Page):
    """Issue 17: the clinician field refuses an outsider until the form asks for the membership."""
    course_id, _ = _signed_window(live_server)
    live_server.make.user("therapist", username="cover", full_name="Cass Cover")
    sign_in(page, "desk", at=f"/courses/{course_id}")
    page.get_by_text("Book a session (integration, preparation or follow-up)").click()
    tomorrow = (datetime.now(NY) + timedelta(days=1)).replace(hour=14, minute=0)
    page.get_by_label("Date and time", exact=True).fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Therapist", exact=True).select_option(label="Cass Cover")
    page.get_by_label("Modality").select_option(label="Telehealth")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("Cass Cover is not on this patient's care team")).to_be_visible()
    booking = page.locator("details", has_text="Book a session")  # the dosing plan offers the same pair
    booking.get_by_label("Add this clinician to the care team").check()
    booking.get_by_label("Reason for adding them").fill("covering while Hazel is away")
    booking.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()


SHOTS = Path(os.environ.get("KI_SHOTS_DIR", "")) if os.environ.get("KI_SHOTS_DIR") else None


def _shot(what, name: str) -> None:
    """Screenshots of a page or a part of it for a person to look at, when KI_SHOTS_DIR names a folder
    (not asserted)."""
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        what.screenshot(path=str(SHOTS / f"{name}.png"), **({"full_page": True} if isinstance(what, Page) else {}))


@pytest.mark.parametrize("width", [375, 1280])
def test_the_join_box_reads_as_a_line_with_its_hint_below(live_server, page: Page, width):
    """The checkbox's label takes the rest of its line and the hint sits under it (at 375 px the
    label used to wrap into a five-line column with the hint squeezed beside it)."""
    course_id, _ = _signed_window(live_server)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "desk", at=f"/courses/{course_id}")
    page.get_by_text("Book a session (integration, preparation or follow-up)").click()
    booking = page.locator("details", has_text="Book a session")
    box = booking.get_by_label("Add this clinician to the care team")
    label = booking.locator("label", has_text="Add this clinician to the care team").bounding_box()
    hint = booking.get_by_text("Only for a clinician not on the team yet").bounding_box()
    row = booking.locator(".field-check", has_text="Add this clinician to the care team").bounding_box()
    assert label["height"] < 2 * 24 + 1, label                     # at most two lines of text
    assert hint["y"] >= label["y"] + label["height"] - 1, (label, hint)   # below the label, not beside it
    assert hint["x"] >= box.bounding_box()["x"] + box.bounding_box()["width"], hint  # aligned under the label text
    assert hint["x"] + hint["width"] <= row["x"] + row["width"] + 1, (hint, row)    # and inside the form
    _shot(booking, f"join-box-{width}")


@pytest.mark.parametrize("width", [375, 1280])
def test_a_refused_calendar_upload_stays_in_its_card_under_my_hours(live_server, page: Page, width, tmp_path):
    _, therapist = _signed_window(live_server)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "ther")
    main_menu(page).get_by_role("link", name="My hours").click()
    upload = tmp_path / "weekly1900.ics"
    upload.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:bomb\r\n"
                      "DTSTART:19000101T090000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;BYHOUR=9,10\r\n"
                      "END:VEVENT\r\nEND:VCALENDAR\r\n")
    page.get_by_label("Calendar export (.ics)").set_input_files(str(upload))
    page.get_by_role("button", name="Upload calendar").click()
    expect(page.get_by_text("weekly1900.ics: event 1 (UID bomb)")).to_be_visible()
    nav = main_menu(page)
    expect(nav.get_by_role("link", name="My hours")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Calendar feeds")).not_to_have_attribute("aria-current", "page")
    card = page.locator("section.card", has_text="Busy time from another calendar").bounding_box()
    field = page.get_by_label("Calendar export (.ics)").bounding_box()
    assert card["x"] <= field["x"] and field["x"] + field["width"] <= card["x"] + card["width"], (card, field)
    _shot(page, f"import-refused-{width}")
