"""Recover-on-login: what a clinician submitted after their session timed out is not lost."""
from datetime import timedelta

from tests.conftest import Auth, page_text
from tests.integration.notes_edge_cases.helpers import SIGNING, _integration_data, _start, _version


def test_text_kept_after_a_timeout_is_not_lost_when_the_note_was_signed_meanwhile(team, make, auth, client, app):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note))).status_code == 302
    version = _version(make, note)
    make.age_login_sessions(last_seen_at=timedelta(minutes=30), created_at=timedelta(minutes=30))
    late = auth.post(f"/notes/{note}", _integration_data(version, insights="Late insight typed in the lapsed tab"))
    assert "/login" in late.headers["Location"]                      # kept for after sign-in
    other_device = Auth(app, app.test_client())
    other_device.login("ther")
    assert other_device.post(f"/notes/{note}", _integration_data(version, **SIGNING)).status_code == 302
    auth.sign_in("ther")
    page = client.get(f"/notes/{note}")
    # the note is signed: the kept text must still be offered (e.g. to become an addendum)
    assert "Late insight typed in the lapsed tab" in page.get_data(as_text=True), page_text(page)[:300]
