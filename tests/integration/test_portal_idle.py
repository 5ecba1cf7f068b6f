"""The portal page's idle timer (issue 23, new-user review point 4), its server side: a signed-in page
carries the seconds its session has left and the script; "Stay signed in" touches the session; at the
limit the timer's post ends the session (audited) and keeps the text of the form the patient had changed,
on a page that keeps text, offered back after signing in. The script itself: tests/browser/
test_portal_idle_browser.py. On both engines."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.portal.models import PortalKeptText, PortalSession
from tests.conftest import Auth, csrf_token, page_text
# test_portal_journal's world (test_journal's, and the patient's portal account), loaded from the same
# snapshot on SQLite instead of built through the factories for every test
from tests.integration.test_portal_journal import world  # noqa: F401 (a fixture)


JOURNAL = "/portal/journal/"
TYPED = {"prompt": "free", "dosing_session_id": "", "text": "Half a thought about the lake"}


@pytest.fixture
def patient(app, world) -> Auth:
    browser = Auth(app, app.test_client())
    browser.portal_sign_in(world["account"])
    return browser


def _session(make) -> PortalSession:
    return make.query(lambda: db.session.scalars(select(PortalSession).order_by(PortalSession.id.desc())).first())


def _age(make, minutes: float) -> None:
    def age():
        for row in db.session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))):
            row.last_seen_at -= timedelta(minutes=minutes)
    make.run(age)


def _kept(make) -> list[PortalKeptText]:
    return make.query(lambda: db.session.scalars(select(PortalKeptText).order_by(PortalKeptText.id)).all())


def test_a_signed_in_page_carries_its_seconds_left_and_the_script_and_the_sign_in_page_does_not(app, patient):
    html = patient.client.get("/portal/").get_data(as_text=True)
    left = int(re.search(r'data-seconds-left="(\d+)"', html).group(1))
    assert 590 <= left <= 600  # KI_PORTAL_IDLE_MINUTES (10) from the activity this page just was
    assert 'data-warn-seconds="60"' in html and "/static/portal_idle.js" in html
    assert ">Stay signed in</button>" in html
    signed_out = Auth(app, app.test_client()).client.get("/portal/sign-in").get_data(as_text=True)
    assert "portal_idle.js" not in signed_out and "idle-warning" not in signed_out


def test_the_seconds_left_stop_at_the_sessions_absolute_limit(app, make, patient):
    def near_limit():
        row = db.session.scalars(select(PortalSession)).first()
        row.created_at = utcnow() - timedelta(hours=4) + timedelta(minutes=3)
    make.run(near_limit)
    html = patient.client.get("/portal/").get_data(as_text=True)
    assert 170 <= int(re.search(r'data-seconds-left="(\d+)"', html).group(1)) <= 180


def test_stay_signed_in_touches_the_session_and_needs_the_pages_token(app, make, patient):
    _age(make, 8)
    forged = patient.client.post("/portal/keep-alive")
    assert forged.status_code == 400
    answer = patient.client.post("/portal/keep-alive", headers={"X-CSRFToken": csrf_token(app, patient.client)})
    assert answer.status_code == 200 and 595 <= answer.get_json()["seconds_left"] <= 600
    assert (utcnow() - _session(make).last_seen_at).total_seconds() < 5
    # too late: the session had ended, the script is sent to the sign-in page (and signs out)
    _age(make, 11)
    late = patient.client.post("/portal/keep-alive", headers={"X-CSRFToken": csrf_token(app, patient.client)})
    assert late.status_code == 302 and late.headers["Location"].startswith("/portal/sign-in")


def test_at_the_limit_the_session_ends_and_the_changed_forms_text_is_kept_and_offered_back(make, world, patient):
    sent = patient.post("/portal/timed-out", {"page": JOURNAL, "kept_for": JOURNAL, **TYPED})
    assert sent.status_code == 302 and sent.headers["Location"] == "/portal/sign-in?next=/portal/journal/"
    row = _session(make)
    assert row.ended_at is not None and row.end_reason == "idle"
    [expired] = make.audit_rows(action="portal.session_expired")
    assert expired.detail == "idle (the page's timer)" and expired.patient_id == world["patient"]
    assert expired.portal_account_id == world["account"]
    said = page_text(patient.client.get(sent.headers["Location"]))
    assert "You were signed out after a period of inactivity." in said and "What you wrote is kept" in said
    [kept] = _kept(make)
    assert kept.path == JOURNAL and kept.form == {k: [v] for k, v in TYPED.items()}  # the form's own fields only
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(JournalEntry))) == 0
    patient.portal_sign_in(world["account"])
    page = patient.client.get(JOURNAL)
    assert "What you wrote before you were signed out is back" in page_text(page)
    assert TYPED["text"] in page.get_data(as_text=True)


def test_a_session_the_server_had_found_idle_keeps_the_text_too(make, world, patient):
    _age(make, 11)
    sent = patient.post("/portal/timed-out", {"page": JOURNAL, "kept_for": JOURNAL, **TYPED})
    assert sent.headers["Location"] == "/portal/sign-in?next=/portal/journal/"
    assert [k.path for k in _kept(make)] == [JOURNAL]
    assert [r.detail for r in make.audit_rows(action="portal.session_expired")] == ["idle"]


@pytest.mark.parametrize("kept_for", ["/portal/account/password", "/portal/nowhere", "/patients/1",
                                      "https://elsewhere.example/portal/journal/", ""])
def test_nothing_is_kept_for_a_page_that_keeps_no_text(make, world, patient, kept_for):
    sent = patient.post("/portal/timed-out", {"page": "/portal/account", "kept_for": kept_for, **TYPED})
    assert sent.headers["Location"] == "/portal/sign-in?next=/portal/account"
    assert _kept(make) == [] and _session(make).end_reason == "idle"


def test_signed_out_the_timers_post_only_leads_to_the_sign_in_page(app, make, world):
    browser = Auth(app, app.test_client())
    sent = browser.post("/portal/timed-out", {"page": "//elsewhere.example/x", "kept_for": JOURNAL, **TYPED})
    assert sent.status_code == 302 and sent.headers["Location"] == "/portal/sign-in"
    assert _kept(make) == []
