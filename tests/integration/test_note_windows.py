"""Notes serve only windows they fall in (issue 20, point 5): an integration note's dosing links
name sessions whose clinic protocol window includes the session date; another one only as a stated
exception with its reason, kept on the link, audited and signed with the note."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.notes.services import verify_signed_notes
from tests.conftest import page_text
from tests.integration.test_notes import SIGNING, TODAY, _integration_data, _start, _version, make_team

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): the links' triggers are probed with
# raw SQL in tests/security/test_append_only.py, on both engines.


@pytest.fixture
def team(make):
    """The note team's course (IV induction: windows open 24 h after a dose and close 14 days after)
    with two signed doses: the first's window closed before today, the second's is open."""
    ids = make_team(make)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids["closed"] = _signed_dose(make, ids["course"], 1, ended=now - timedelta(days=20))
    ids["open"] = _signed_dose(make, ids["course"], 2, ended=now - timedelta(days=3))
    return ids


def _signed_dose(make, course_id: int, sequence: int, *, ended: datetime) -> int:
    def add():
        session = DosingSession(course_id=course_id, sequence=sequence, status="signed",
                                started_at=ended - timedelta(minutes=40), ended_at=ended, signed_at=ended)
        db.session.add(session)
        db.session.flush()
        return session.id
    return make.run(add)


def _offered(page: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}"[^>]*value="(\d+)"', page) + \
        re.findall(rf'value="(\d+)"[^>]*name="{name}"', page)


def _links(make, note_id):
    return make.query(lambda: sorted((link.dosing_session_id, link.exception_reason)
                                     for link in db.session.get(SessionNote, note_id).dosing_links))


def test_the_form_offers_exactly_the_windows_that_include_the_session_date(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    page = client.get(f"/notes/{note}").get_data(as_text=True)
    assert _offered(page, "dosing_sessions") == [str(team["open"])]
    assert _offered(page, "dosing_exceptions") == [str(team["closed"])]       # only as an exception
    assert "Dosing session 2 (window " in page


def test_a_note_cannot_claim_a_window_that_closed_before_its_date(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Typed",
                                                           dosing_sessions=[str(team["closed"]), str(team["open"])]))
    assert answer.status_code == 422
    assert "Dosing session 1's window" in page_text(answer) and "does not include the session date" in page_text(answer)
    assert _links(make, note) == [] and make.query(lambda: db.session.get(SessionNote, note).content) == {}


def test_moving_the_session_date_out_of_a_window_is_refused_on_the_links(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note),
                                                         dosing_sessions=[str(team["open"])])).status_code == 302
    # a date before the second dose: its window had not opened
    early = (TODAY - timedelta(days=10)).isoformat()
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note), session_date=early,
                                                           **{"new_steps-0-starts_on": early},
                                                           dosing_sessions=[str(team["open"])]))
    assert answer.status_code == 422 and "Dosing session 2's window" in page_text(answer)
    assert _links(make, note) == [(team["open"], None)]


@pytest.mark.parametrize("reason, message", [
    ("", "Say why this note serves a window that does not include its date"),      # no reason
    ("  late  ", "Say why this note serves a window that does not include its date"),  # too short once trimmed
])
def test_an_exception_needs_its_reason(team, make, auth, reason, message):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note),
                                                           dosing_exceptions=[str(team["closed"])],
                                                           dosing_exception_reason=reason))
    assert answer.status_code == 422 and message in page_text(answer)
    assert _links(make, note) == []


def test_a_reason_without_an_exception_is_refused_not_dropped(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note), dosing_sessions=[str(team["open"])],
                                                           dosing_exception_reason="Late review after illness"))
    assert answer.status_code == 422 and "clear the reason" in page_text(answer)


def test_an_exception_with_its_reason_is_kept_audited_and_signed_with_the_note(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    reason = "Late review: the patient was in hospital for a week"
    answer = auth.post(f"/notes/{note}", _integration_data(
        _version(make, note), dosing_sessions=[str(team["open"])], dosing_exceptions=[str(team["closed"])],
        dosing_exception_reason=reason, **SIGNING))
    assert answer.status_code == 302
    assert _links(make, note) == sorted([(team["closed"], reason), (team["open"], None)])
    [row] = make.audit_rows(action="note.sign", object_id=str(note))
    assert "window exception: serves dosing session 1 outside its window" in row.detail
    assert reason not in row.detail                                      # the reason is on the record
    view = page_text(client.get(f"/notes/{note}"))
    assert f"dosing session 1 (outside its window, as an exception: {reason})" in view
    assert (note, True) in make.query(verify_signed_notes)              # the digest covers the exception


def test_a_saved_exception_is_offered_back_with_its_reason(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(
        _version(make, note), dosing_exceptions=[str(team["closed"])],
        dosing_exception_reason="Late review after a family emergency")).status_code == 302
    page = client.get(f"/notes/{note}").get_data(as_text=True)
    assert re.search(rf'checked[^>]*name="dosing_exceptions"[^>]*value="{team["closed"]}"|'
                     rf'name="dosing_exceptions"[^>]*value="{team["closed"]}"[^>]*checked', page)
    assert "Late review after a family emergency" in page and "<details class=\"row-group\" open>" in page
