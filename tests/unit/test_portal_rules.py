"""The portal's pure rules (domain/portal.py): an invitation's state, the emails' words, and a
course's phase told in plain words; tables with a comment per row."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.domain import portal
from ketamine_integration.domain.reminders import ClinicalWordInMessage

SENT = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
EXPIRES = SENT + portal.INVITATION_LIFETIME
LATER = SENT + timedelta(hours=1)


@pytest.mark.parametrize("now, used, revoked, why, expected", [
    (SENT, None, None, None, portal.PENDING),                                # just sent
    (EXPIRES - timedelta(seconds=1), None, None, None, portal.PENDING),     # the last second of 72 hours
    (EXPIRES, None, None, None, portal.EXPIRED),                             # the 72 hours are up
    (EXPIRES + timedelta(days=9), None, None, None, portal.EXPIRED),         # long after
    (LATER, LATER, None, None, portal.USED),                                 # accepted
    (EXPIRES + timedelta(days=1), LATER, None, None, portal.USED),           # accepted, seen after expiry: still used
    (LATER, None, LATER, "revoked", portal.REVOKED),                         # revoked by staff
    (LATER, None, LATER, "replaced", portal.REPLACED),                       # sent again: a newer link
    (EXPIRES + timedelta(days=1), None, LATER, "revoked", portal.REVOKED),   # revoked, then its time ran out
])
def test_invitation_state(now, used, revoked, why, expected):
    assert portal.invitation_state(expires_at=EXPIRES, used_at=used, revoked_at=revoked, revoked_why=why,
                                   now=now) == expected


def test_every_state_has_words_for_staff_and_for_a_dead_link():
    assert set(portal.STATE_WORDS) == {portal.PENDING, portal.USED, portal.EXPIRED, portal.REVOKED, portal.REPLACED}
    assert set(portal.DEAD_LINK_WORDS) == {portal.USED, portal.EXPIRED, portal.REVOKED, portal.REPLACED, None}


def test_the_emails_are_discreet_and_refuse_a_clinical_sender():
    invitation = portal.invitation_email(sender="Harbor Light", link="https://x.example/portal/accept/T",
                                         expires_text="2026-03-04 07:00 EST")
    assert "https://x.example/portal/accept/T" in invitation.body and "Harbor Light" in invitation.subject
    # what the portal offers, all of it (the new-user review: it promised only appointments)
    for offer in ("upcoming appointments", "questionnaires", "private journal", "practices and action steps"):
        assert offer in invitation.body
    assert "123456" in portal.code_email(sender="Harbor Light", code="123456").body
    with pytest.raises(ClinicalWordInMessage):
        portal.invitation_email(sender="Ketamine Care", link="https://x.example/a/T", expires_text="soon")
    with pytest.raises(ClinicalWordInMessage):
        portal.code_email(sender="Harbor Therapy", code="123456")


OUTLINE = portal.CourseOutline(name="IV ketamine induction series", dosing_sessions=(6, 6), preparation_sessions=1,
                               window_opens="24 hours", window_optimal="72 hours", after_series_sessions=2,
                               after_series_every_days=14)


@pytest.mark.parametrize("phase, title, now_has, next_has", [
    ("preparation", "Preparation", "1 preparation session", "series of 6 dosing sessions"),   # before the first dose
    ("experience", "Dosing sessions", "series of 6", "between 24 hours and 72 hours"),         # the series
    ("integration", "Integration", "dosing series is done", "2 more sessions about every 14 days"),  # after it
    ("maintenance", "Maintenance", "occasional sessions", "plans each further session"),        # boosters
    ("completed", "Completed", "complete", "Nothing is planned"),                                # ended well
    ("discontinued", "Ended", "has ended", "Nothing is planned"),                                # stopped
])
def test_phase_words(phase, title, now_has, next_has):
    words = portal.phase_words(phase, OUTLINE)
    assert words.title == title and now_has in words.now and next_has in words.next


def test_phase_words_for_a_range_of_sessions_and_no_preparation_sessions():
    outline = portal.CourseOutline(name="KAP", dosing_sessions=(3, 6), preparation_sessions=0, window_opens="1 day",
                                   window_optimal="3 days", after_series_sessions=0, after_series_every_days=7)
    assert "3 to 6 dosing sessions" in portal.phase_words("preparation", outline).next
    assert "more session" not in portal.phase_words("integration", outline).next
