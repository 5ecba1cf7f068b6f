"""Browser check at a phone's width (issue 23, points 1 and 8): a patient opens the invitation
link from the email, chooses a password and an authenticator app by the page's visible labels,
enrols it from the key the page shows, and lands on the home page showing their next session."""
from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from playwright.sync_api import expect

from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from tests.browser.layout import page_width
from tests.security.portal_world import invitation_token

PHONE = {"width": 375, "height": 800}


def _patient_with_a_session_ahead(make) -> str:
    """A patient on a course in preparation with a session booked in two days, invited to the portal;
    the token the invitation email carries."""
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.scheduling.services import book_session

    therapist = make.user("therapist", full_name="Hazel Quint")
    prescriber = make.user("prescriber")
    token = invitation_token(make, email="invita@example.org")
    patient = make.query(lambda: db.session.scalar(db.select(db.text("max(id)")).select_from(db.text("patients"))))
    course = make.course(patient, therapist, prescriber)

    def book():
        row = db.session.get(TreatmentCourse, course)
        starts = (utcnow() + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
        book_session(row, kind="preparation", clinician_id=therapist, starts_at=starts, minutes=None, by=row.therapist,
                     modality="telehealth", now=utcnow())
    make.run(book)
    return token


def test_a_patient_accepts_the_invitation_enrols_and_sees_the_next_session(live_server, page):
    token = _patient_with_a_session_ahead(live_server.make)
    page.set_viewport_size(PHONE)
    page.goto(f"/portal/accept/{token}")
    expect(page.get_by_role("heading", level=1, name="Set up your account")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("harbour kettle lilac window 83")
    page.get_by_label("Repeat the new password").fill("harbour kettle lilac window 83")
    page.get_by_label(re.compile("^An authenticator app")).check()
    page.get_by_role("button", name="Set password and continue").click()
    expect(page.get_by_role("heading", level=1, name="Set up your authenticator app")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1, name="Hello, Invita")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Upcoming sessions")).to_be_visible()
    expect(page.get_by_text("Hazel Quint")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Add to my calendar"))).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    # the link is spent: opened again it says so
    page.goto(f"/portal/accept/{token}")
    expect(page.get_by_text("has been used already")).to_be_visible()
