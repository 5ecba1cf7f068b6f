"""Notes never lose a word (issue 20, point 6): "Sign and lock" sends the whole form, saved and
signed in one request, only with the signer's confirmation that the note will be locked; a
refusal shows each reason next to its field with the text kept; a draft is discarded by its
author only, its text not kept; blank and discarded drafts are not unsigned work."""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.bookings.models import Appointment, AppointmentChange
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ProcessNote, SessionNote
from tests.conftest import page_text
from tests.integration.test_notes import SIGNING, TODAY, _integration_data, _start, _version, notes_team


@pytest.fixture
def team(make):
    return notes_team(make)


def _note(make, note_id) -> SessionNote:
    return make.query(lambda: db.session.get(SessionNote, note_id))


def _error_of(page: str, field_id: str) -> str:
    """The message shown next to a field (the form macro ties it to the field by id)."""
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def test_a_whole_note_typed_and_signed_without_saving_first_is_saved_and_signed(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Typed, never saved",
                                                           **SIGNING))
    assert answer.status_code == 302
    stored = _note(make, note)
    assert stored.status == "signed" and stored.content["insights"] == "Typed, never saved"
    assert [s.what for s in stored.new_steps] == ["Walk by the river"]
    assert [(r.action, r.outcome, r.detail) for r in make.audit_rows(object_id=str(note))
            if r.action in ("note.update", "note.sign")] == [("note.sign", "success", "saved and signed")]


def test_signing_without_confirming_the_lock_keeps_the_save_and_says_so_at_the_box(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    answer = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Kept on refusal",
                                                           then_sign="1"))
    page = answer.get_data(as_text=True)
    # the save was valid and stands (200: committed); the note is not signed
    assert answer.status_code == 200 and "Draft saved, not signed" in page
    assert "Tick this box to confirm that the note will be locked" in _error_of(page, "confirm_lock")
    stored = _note(make, note)
    assert stored.status == "draft" and stored.content["insights"] == "Kept on refusal"
    # the form is there again with the text and the saved version: signing again with the box ticked works
    assert "Kept on refusal" in page and f'name="version" type="hidden" value="{stored.version}"' in page
    again = auth.post(f"/notes/{note}", _integration_data(stored.version, insights="Kept on refusal", **SIGNING))
    assert again.status_code == 302 and _note(make, note).status == "signed"
    assert [r.outcome for r in make.audit_rows(action="note.sign")] == ["failure", "success"]


def test_a_refused_signature_puts_each_need_next_to_its_field_and_keeps_the_text(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    typed = _integration_data(_version(make, note), stood_out="", emotions="", insights="An insight worth keeping",
                              self_harm_thoughts="yes", safety_plan_reviewed="no", **SIGNING)
    page = auth.post(f"/notes/{note}", typed).get_data(as_text=True)
    assert "experience review" in _error_of(page, "stood_out")
    assert "question on intent" in _error_of(page, "self_harm_intent")
    assert "review the safety plan" in _error_of(page, "safety_plan_reviewed")
    assert _error_of(page, "confirm_lock") == ""                 # confirmed: nothing to say there
    assert "An insight worth keeping" in page
    stored = _note(make, note)
    assert stored.status == "draft" and stored.content["insights"] == "An insight worth keeping"


@pytest.mark.parametrize("blank", ["\u200b", "\u200b.\u2060", "…", "—"])
def test_an_experience_review_that_shows_as_blank_does_not_sign(team, make, auth, blank):
    """Review of issue 20: a zero-width space as the whole experience review signed the note."""
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    page = auth.post(f"/notes/{note}", _integration_data(_version(make, note), stood_out=blank, emotions=blank,
                                                         insights="", **SIGNING)).get_data(as_text=True)
    assert "experience review" in _error_of(page, "stood_out")
    stored = _note(make, note)
    assert stored.status == "draft" and stored.content["stood_out"] == blank.strip()   # kept as typed


@pytest.mark.parametrize("field", ["new_steps-0-what", "new_steps-0-how_often"])
def test_an_action_step_that_shows_as_blank_is_refused(team, make, auth, field):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    page = auth.post(f"/notes/{note}", _integration_data(_version(make, note), **{field: "\u200b..."}))
    assert page.status_code == 422 and "A specific step needs" in _error_of(page.get_data(as_text=True),
                                                                              "new_steps-0-what")
    assert make.query(lambda: db.session.get(SessionNote, note).new_steps) == []


def _booked_today(make, team, hour: int) -> int:
    """The therapist's integration session with the patient on the note's date (TODAY), at `hour`."""
    starts = datetime(TODAY.year, TODAY.month, TODAY.day, hour, tzinfo=ZoneInfo("America/New_York"))

    def add():
        appointment = Appointment(patient_id=team["patient"], course_id=team["course"], kind="integration",
                                  clinician_id=team["therapist"], starts_at=starts,
                                  ends_at=starts + timedelta(minutes=50), modality="telehealth",
                                  created_by_id=team["staff"])
        appointment.changes.append(AppointmentChange(change="booked", by_user_id=team["staff"]))
        db.session.add(appointment)
        db.session.flush()
        return appointment.id
    return make.run(add)


def _clock_at(monkeypatch, hour: int, minute: int = 0) -> None:
    """The clock signing reads, set to that time of the note's date in the clinic."""
    moment = datetime(TODAY.year, TODAY.month, TODAY.day, hour, minute, tzinfo=ZoneInfo("America/New_York"))
    monkeypatch.setattr("ketamine_integration.notes.views.utcnow", lambda: moment.astimezone(timezone.utc))


def test_a_note_is_not_signed_before_its_session_and_keeps_its_text(team, make, auth, monkeypatch):
    """Review of issue 20: at 02:46 an integration note dated today was signed for the session booked
    at 09:00 that day. The note carries a date; the time is its author's booking that day."""
    booked = _booked_today(make, team, 9)
    _clock_at(monkeypatch, 2, 46)
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    page = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Written ahead",
                                                         **SIGNING)).get_data(as_text=True)
    assert (f"Your session with the patient that day is booked for {TODAY.isoformat()} 09:00 E") in \
        _error_of(page, "session_date")
    assert "sign the note once it has taken place (the draft is saved)" in _error_of(page, "session_date")
    stored = _note(make, note)
    assert stored.status == "draft" and stored.content["insights"] == "Written ahead"
    assert make.query(lambda: db.session.get(Appointment, booked).status) == "booked"
    # once the session has begun, the same note signs
    _clock_at(monkeypatch, 9, 55)
    assert auth.post(f"/notes/{note}", _integration_data(stored.version, insights="Written ahead",
                                                         **SIGNING)).status_code == 302
    assert _note(make, note).status == "signed"


def test_an_earlier_session_that_day_lets_the_note_be_signed(team, make, auth, monkeypatch):
    """Two sessions that day, the first one over: the note may be about it."""
    _booked_today(make, team, 8)
    _booked_today(make, team, 17)
    _clock_at(monkeypatch, 12)
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note), **SIGNING)).status_code == 302


def test_an_invalid_save_while_signing_keeps_nothing_and_shows_both_kinds_of_reason(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    typed = _integration_data(_version(make, note), self_harm_thoughts="", insights="Still in the form",
                              **{"new_steps-0-how_often": "", "then_sign": "1"})
    answer = auth.post(f"/notes/{note}", typed)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Nothing was saved or signed" in page
    assert "how often" in _error_of(page, "new_steps-0-what")           # the save's reason
    assert "risk screen" in _error_of(page, "self_harm_thoughts")        # signing's, read together
    assert "Tick this box" in _error_of(page, "confirm_lock")
    assert "Still in the form" in page
    assert _note(make, note).content == {}
    assert [(r.action, r.outcome) for r in make.audit_rows(object_id=str(note)) if r.action.startswith("note.s")] \
        == [("note.sign", "failure")]


def _discard(auth, make, note, **overrides):
    return auth.post(f"/notes/{note}/discard", {"discard-confirm": "y",
                                                "discard-version": str(_version(make, note)), **overrides})


def test_the_author_discards_a_draft_its_text_and_process_notes_not_kept(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Gone for good")).status_code \
        == 302
    assert auth.post(f"/notes/{note}/process", {"body": "Private musing", "version": ""}).status_code == 302
    assert "1" in re.findall(r"<td[^>]*>(\d+|—)</td>", client.get("/").get_data(as_text=True))
    answer = _discard(auth, make, note)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/courses/{team['course']}#notes")
    stored = _note(make, note)
    assert stored.discarded_at is not None and stored.discarded_by_id == team["therapist"]
    assert stored.content == {} and stored.themes == [] and stored.new_steps == [] and stored.dosing_links == []
    assert stored.techniques == [] and stored.technique_responses == []
    assert make.query(lambda: db.session.scalar(select(ProcessNote.body).where(ProcessNote.note_id == note))) == ""
    [row] = make.audit_rows(action="note.discard")
    assert row.outcome == "success" and row.patient_id == team["patient"] and "Gone" not in (row.detail or "")
    # gone from the draft lists, and shown as discarded to whoever opens it
    assert f"/notes/{note}" not in client.get(f"/courses/{team['course']}").get_data(as_text=True)
    assert "1" not in re.findall(r"<td[^>]*>(\d+|—)</td>", client.get("/").get_data(as_text=True))
    assert "discarded by its author" in page_text(client.get(f"/notes/{note}"))
    assert client.get(f"/notes/{note}/process").status_code == 404
    # and it never comes back to life
    assert auth.post(f"/notes/{note}", _integration_data(_version(make, note), **SIGNING)).status_code == 303
    assert _note(make, note).content == {}


@pytest.mark.parametrize("who, setup, message", [
    # a colleague on the care team: only the author discards a draft
    ("ther2", "draft", "Only the note's author can discard a draft."),
    # the author, of a signed note: corrections are addenda
    ("ther", "signed", "A signed note is never discarded"),
    # the author, without ticking the confirmation
    ("ther", "unconfirmed", "Tick this box to confirm"),
])
def test_discarding_is_refused_and_audited_and_changes_nothing(team, make, auth, client, who, setup, message):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), insights="Stays", **(SIGNING if setup == "signed" else {}))
    assert auth.post(f"/notes/{note}", data).status_code == 302
    auth.logout()
    auth.sign_in(who)
    answer = _discard(auth, make, note, **({"discard-confirm": ""} if setup == "unconfirmed" else {}))
    assert answer.status_code == 302
    assert message in page_text(client.get(answer.headers["Location"]))
    stored = _note(make, note)
    assert stored.discarded_at is None and stored.content["insights"] == "Stays"
    assert [r.outcome for r in make.audit_rows(action="note.discard")] == ["failure"]


@pytest.mark.both_engines  # database triggers refuse raw SQL
@pytest.mark.parametrize("statement", [
    # a signed note is never discarded
    "UPDATE session_notes SET discarded_at = CURRENT_TIMESTAMP, discarded_by_id = author_id, content = '{}' "
    "WHERE id = :signed",
    # a draft is discarded by its author only
    "UPDATE session_notes SET discarded_at = CURRENT_TIMESTAMP, discarded_by_id = :other, content = '{}' "
    "WHERE id = :draft",
    # ... and with its text cleared
    "UPDATE session_notes SET discarded_at = CURRENT_TIMESTAMP, discarded_by_id = author_id WHERE id = :draft",
    # a discarded draft never changes, is never brought back, and is kept
    "UPDATE session_notes SET content = '{\"insights\": \"back\"}' WHERE id = :discarded",
    "UPDATE session_notes SET discarded_at = NULL, discarded_by_id = NULL WHERE id = :discarded",
    "DELETE FROM session_notes WHERE id = :discarded",
    # nor gains content
    "INSERT INTO note_themes (note_id, free_theme) VALUES (:discarded, 'Back again')",
])
def test_the_database_holds_the_discard_rules(team, make, auth, app, statement):
    auth.sign_in("ther")
    signed, draft, discarded = (_start(auth, team["course"]) for _ in range(3))
    assert auth.post(f"/notes/{signed}", _integration_data(_version(make, signed), **SIGNING)).status_code == 302
    for note in (draft, discarded):
        assert auth.post(f"/notes/{note}", _integration_data(_version(make, note))).status_code == 302
    assert _discard(auth, make, discarded).status_code == 302
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement), {"signed": signed, "draft": draft, "discarded": discarded,
                                                 "other": team["colleague"]})
            db.session.flush()
        db.session.rollback()
    assert _note(make, signed).status == "signed" and _note(make, draft).discarded_at is None
    assert _note(make, discarded).content == {}


def test_a_blank_draft_is_not_unsigned_work_but_stays_its_authors_to_write_or_discard(team, make, auth, client):
    auth.sign_in("ther")
    blank = _start(auth, team["course"], when=TODAY)
    cells = re.findall(r"<td[^>]*>(\d+|—)</td>", client.get("/").get_data(as_text=True))
    assert "1" not in cells                                      # nothing written: not counted
    assert f"/notes/{blank}" in client.get(f"/courses/{team['course']}").get_data(as_text=True)
    assert _discard(auth, make, blank).status_code == 302
    assert _note(make, blank).discarded_at is not None
