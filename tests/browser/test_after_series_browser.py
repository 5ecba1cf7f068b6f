"""Browser check (issue 20, point 7): staff find a course's first session after the series on the
worklist, book it from a suggestion on the course page at phone width, and see it booked ahead."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Room, WorkingHours
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import change_phase
from ketamine_integration.domain.phases import Phase
from ketamine_integration.experience.services import plan_series, save_record, sign
from ketamine_integration.extensions import db
from tests.browser.conftest import main_menu
from tests.browser.layout import page_width
from tests.browser.test_patients_browser import sign_in
from tests.factories import DISCHARGE_MET

NY = ZoneInfo("America/New_York")


def _series_ended_ten_days_ago(live_server) -> int:
    """An IM KAP course whose (one-dose) series ended ten days ago, now in integration."""
    make = live_server.make
    therapist = make.user("therapist", username="ther", full_name="Hazel Quint")
    prescriber = make.user("prescriber", username="pres", full_name="Orrin Vale")
    make.user("staff", username="desk", full_name="Dana Whitlow")
    course_id = make.course(make.patient(family_name="Afterseries"), therapist, prescriber,
                            protocol="im-ketamine-kap", phase="experience")

    def setup():
        for weekday in range(7):
            db.session.add(WorkingHours(clinician_id=therapist, weekday=weekday, starts=time(9), ends=time(17)))
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, prescriber)
        start = (datetime.now(NY) - timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
        room = Room(name="Dosing Suite")
        db.session.add(room)
        db.session.flush()
        [session] = plan_series(course, first_start=start, days_between=7, count=1, reason=None,
                                clinician_id=prescriber, room_id=room.id, by=by)
        vitals = {tp: {"systolic": 125, "diastolic": 80, "heart_rate": 70, "spo2": 98}
                  for tp in ("baseline", "post_40", "discharge")}
        save_record(session, values=dict(
            started_at=start, ended_at=start + timedelta(minutes=40), route="im", medication="ketamine", dose_mg=35,
            weight_kg=70, lot_number="L1", administered_by_id=prescriber, monitored_by_id=prescriber, sedation="mild",
            dissociation="mild", concomitant_sedating_medications=None,
            discharged_at=start + timedelta(minutes=130), ready_to_leave_at=None,
            vitals_acceptable_before_dosing=None, vitals_acceptable_before_discharge=None),
            vitals=vitals, adverse_events=[], expected_version=session.version, by=by, discharge_checks=DISCHARGE_MET)
        sign(session, by=by, expected_version=session.version)
        change_phase(course, Phase.INTEGRATION, by=by, expected_version=course.version,
                     reason="One dose was enough for now; the team agreed.", override=True)
    make.run(setup)
    return course_id


def test_staff_book_the_first_session_after_the_series_from_a_suggestion_on_a_phone(live_server, page: Page):
    course_id = _series_ended_ten_days_ago(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "desk")
    main_menu(page).get_by_role("link", name="Worklist").click()
    windows = page.get_by_role("table", name="Windows and sessions after the series needing a booking, and bookings "
                                             "to put right")  # not the treatment plans' table below it
    expect(windows).to_contain_text("Session after the series due, nothing booked")
    assert page_width(page) <= 375
    # the row of the session after the series (the last dose's window may be closing too, by the hour)
    page.get_by_role("row", name=re.compile("Session after the series due")).get_by_role(
        "link", name="Find a slot for Testa Afterseries").click()
    after = page.get_by_role("table", name="Sessions after the series")
    expect(after).to_contain_text("1 of 3")
    expect(after).to_contain_text("Nothing booked")
    assert page_width(page) <= 375
    suggestions = page.get_by_role("region", name="Suggested times for session 1 after the series")
    first = suggestions.locator("form.suggestion").first
    expect(first).to_contain_text("Hazel Quint")
    first.get_by_role("button", name="Book telehealth").click()
    expect(page.get_by_text("Integration session booked.")).to_be_visible()
    expect(page.get_by_role("table", name="Sessions after the series")).to_contain_text("Booked, not yet held")
    page.goto("/worklist")
    expect(page.get_by_text("Session after the series due, nothing booked")).to_have_count(0)
