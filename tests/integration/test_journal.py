"""The post-dosing journal (issue 23, point 4): the patient's services (write, edit, share, withdraw,
read, prompts) with their field errors and audit rows, the sharing rules on every staff page (a
private entry's canary is searched for on every page of every role; a shared entry shows only to the
care team's therapists: one crawl for these entries and the portal's, in test_portal_journal.py),
quoting a shared entry into the experience review without JavaScript, and another patient's entries
out of reach."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.db.errors import ConcurrentEdit, DomainError
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain import journal as rules
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.journal import services as journal
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text, todays_world
from tests.integration.test_dosing import local

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): the journal's services and pages
# run the same SQL on both engines; nothing here is a lock, a trigger or a statement count.

PRIVATE = "Zq7-PRIVATE-journal-canary-5521"
SHARED = "The doors were not locked after all"


@pytest.fixture
def world(make):
    """journal_world, built once per worker and clinic day (its doses are dated from today) and loaded
    from its snapshot for the tests after, on each engine (tests.conftest.reused_world)."""
    return todays_world(make.app, "journal_world", lambda: journal_world(make))


def journal_world(make) -> dict:
    """An IM KAP course whose first dose ended three days ago; the care team's therapist, prescriber
    and nurse, a therapist outside the team, staff and the admin; a second patient with a dose too
    (tests/integration/test_portal_journal.py builds on it)."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres"), "nurse": make.user("nurse", username="nurse"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss"),
           "outsider": make.user("therapist", username="other")}
    ids["patient"] = make.patient(family_name="Journal", nurses=[ids["nurse"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience",
                                protocol="im-ketamine-kap")
    ids["dose"], ids["next_dose"] = make.dosing_plan(ids["course"], first_start=local(3), days_between=7, count=2)
    ids["other_patient"] = make.patient(family_name="Elsewhere")
    ids["other_course"] = make.course(ids["other_patient"], ids["outsider"], ids["prescriber"], phase="experience",
                                      protocol="im-ketamine-kap")
    [ids["other_dose"]] = make.dosing_plan(ids["other_course"], first_start=local(3, 14), days_between=7, count=1)
    given(make, ids["dose"], local(3))
    given(make, ids["other_dose"], local(3, 14))
    return ids


def given(make, dose_id: int, start) -> None:
    """A dose's draft record: given at `start`, ended 40 minutes later."""
    def record():
        session = db.session.get(DosingSession, dose_id)
        session.status, session.started_at, session.ended_at = "draft", start, start + timedelta(minutes=40)
    make.run(record)


def as_patient(make, patient_id: int, fn):
    """Run a journal service as this patient (what the portal's pages will do) and commit."""
    return make.run(lambda: fn(db.session.get(Patient, patient_id)))


def write(make, world, text=SHARED, prompt="stood_out", share=False, patient="patient", dose="dose") -> int:
    def go(patient_row):
        entry = journal.write_entry(patient_row, prompt=prompt, text=text, now=utcnow(),
                                    dosing_session_id=world[dose] if prompt != rules.FREE else None)
        if share:
            journal.share_entry(patient_row, entry.id, utcnow())
        return entry.id
    return as_patient(make, world[patient], go)


def refusal(app, world, fn, patient="patient") -> DomainError:
    """The DomainError a service raises for this patient, handled as the request wrapper does: the
    transaction rolled back, then the durable audit rows (failures, denials) written again."""
    with app.test_request_context():
        with pytest.raises(DomainError) as raised:
            fn(db.session.get(Patient, world[patient]))
        db.session.rollback()
        for write in g.pop("_after_rollback", []):
            write()
        db.session.commit()
        return raised.value


# -- the patient's services ----------------------------------------------------------------------

def test_an_entry_is_written_private_shared_and_withdrawn_each_step_audited_without_its_text(make, world):
    entry_id = write(make, world, text=f"  {PRIVATE}\r\nsecond line  ")
    entry = make.query(lambda: db.session.get(JournalEntry, entry_id))
    assert (entry.text, entry.shared_at, entry.course_id, entry.dosing_session_id) == (
        f"{PRIVATE}\nsecond line", None, world["course"], world["dose"])
    as_patient(make, world["patient"], lambda p: journal.edit_entry(p, entry_id, text="Rewritten", expected_version=1,
                                                                   now=utcnow()))
    as_patient(make, world["patient"], lambda p: journal.share_entry(p, entry_id, utcnow()))
    assert make.query(lambda: db.session.get(JournalEntry, entry_id)).shared
    as_patient(make, world["patient"], lambda p: journal.unshare_entry(p, entry_id, utcnow()))
    entry = make.query(lambda: db.session.get(JournalEntry, entry_id))
    assert (entry.text, entry.shared, entry.edited_at is not None) == ("Rewritten", False, True)
    rows = make.audit_rows(patient_id=world["patient"])
    journal_rows = [(r.action, r.object_id, r.outcome) for r in rows if r.action.startswith("journal.")]
    assert journal_rows == [(a, str(entry_id), "success")
                            for a in ("journal.write", "journal.edit", "journal.share", "journal.unshare")]
    assert not [r for r in make.audit_rows() if PRIVATE in (r.detail or "") or "Rewritten" in (r.detail or "")]


def test_a_free_entry_reflects_on_the_latest_ended_dose_and_reading_is_audited(make, world):
    entry_id = write(make, world, prompt="free", text="Slept well")
    assert make.query(lambda: db.session.get(JournalEntry, entry_id)).dosing_session_id == world["dose"]
    entries = as_patient(make, world["patient"], lambda p: [e.id for e in journal.entries_for(p)])
    assert entries == [entry_id]
    [row] = make.audit_rows(action="journal.view")
    assert (row.patient_id, row.detail) == (world["patient"], "1 entries")


@pytest.mark.parametrize("arguments, field, words", [
    (dict(prompt="stood_out", text=""), "text", rules.EMPTY),                                # nothing written
    (dict(prompt="stood_out", text="x" * 4001), "text", rules.too_long(4001)),                # too long
    (dict(prompt="stood_out", text="ok\x00"), "text", rules.UNSAVABLE),                      # NUL
    (dict(prompt="poem", text="Words"), "prompt", "Choose what this entry answers."),        # unknown prompt
    (dict(prompt="emotions", text="Words", dose=None), "dosing_session_id", journal.NOT_A_DOSE),  # no dose named
    (dict(prompt="emotions", text="Words", dose="next_dose"), "dosing_session_id", journal.NOT_A_DOSE),  # not given yet
    (dict(prompt="emotions", text="Words", dose="other_dose"), "dosing_session_id", journal.NOT_A_DOSE),  # not theirs
    (dict(prompt="emotions", text="Words", dose="junk"), "dosing_session_id", journal.NOT_A_DOSE),  # not a number
])
def test_bad_input_gets_a_field_error_and_writes_nothing(app, make, world, arguments, field, words):
    arguments = dict(arguments)  # the table's dicts are shared by every engine's run of a row
    dose = arguments.pop("dose", "dose")
    dose_id = None if dose is None else world.get(dose, "12x")
    error = refusal(app, world, lambda p: journal.write_entry(p, now=utcnow(), dosing_session_id=dose_id,
                                                              **arguments))
    assert error.reasons[field] == words
    assert make.query(lambda: db.session.scalars(select(JournalEntry)).all()) == []


def test_a_shared_entry_is_not_edited_and_a_stale_edit_is_refused(app, make, world):
    entry_id = write(make, world, share=True)
    error = refusal(app, world, lambda p: journal.edit_entry(p, entry_id, text="New", expected_version=2,
                                                             now=utcnow()))
    assert error.reasons == {"text": journal.SHARED_STAYS}
    # the share withdrawn, its words still stay (a note may quote them): not edited, whatever the version
    as_patient(make, world["patient"], lambda p: journal.unshare_entry(p, entry_id, utcnow()))
    error = refusal(app, world, lambda p: journal.edit_entry(p, entry_id, text="New", expected_version=3,
                                                             now=utcnow()))
    assert error.reasons == {"text": journal.ONCE_SHARED_STAYS}
    assert make.query(lambda: db.session.get(JournalEntry, entry_id)).text == SHARED
    # a private entry edited from a stale form is refused as changed meanwhile
    private_id = write(make, world)
    as_patient(make, world["patient"], lambda p: journal.edit_entry(p, private_id, text="Second", expected_version=1,
                                                                     now=utcnow()))
    error = refusal(app, world, lambda p: journal.edit_entry(p, private_id, text="Stale", expected_version=1,
                                                             now=utcnow()))
    assert isinstance(error, ConcurrentEdit) and error.current_version == 2


@pytest.mark.parametrize("action", ["edit", "share", "unshare", "read"])
def test_another_patients_entry_is_out_of_reach_and_the_attempt_audited(app, make, world, action):
    theirs = write(make, world, patient="other_patient", dose="other_dose", share=action == "unshare")
    calls = {"edit": lambda p: journal.edit_entry(p, theirs, text="Mine now", expected_version=1, now=utcnow()),
             "share": lambda p: journal.share_entry(p, theirs, utcnow()),
             "unshare": lambda p: journal.unshare_entry(p, theirs, utcnow()),
             "read": lambda p: journal.entry_for(p, theirs)}
    error = refusal(app, world, calls[action])
    assert isinstance(error, journal.EntryNotFound)
    assert str(error) == str(refusal(app, world, lambda p: journal.share_entry(p, 999_999, utcnow())))
    entry = make.query(lambda: db.session.get(JournalEntry, theirs))
    assert (entry.text, entry.shared) == (SHARED, action == "unshare")
    denied = make.audit_rows(action="access.denied")
    assert [(r.patient_id, r.object_id) for r in denied] == [(world["other_patient"], str(theirs))]


def test_open_prompts_follow_the_course_doses_and_the_answers(make, world):
    def prompts(p):
        return [(o.prompt.key, o.dosing_session_id, o.cadence) for o in journal.open_prompts(p, utcnow())]
    assert as_patient(make, world["patient"], prompts) == (
        [(key, world["dose"], None) for key in rules.REVIEW_PROMPTS] + [("free", world["dose"], "daily")])
    write(make, world, prompt="emotions")
    write(make, world, prompt="free", text="Today")
    assert as_patient(make, world["patient"], prompts) == [(key, world["dose"], None) for key in rules.REVIEW_PROMPTS
                                                           if key != "emotions"]
    assert [r.detail for r in make.audit_rows(action="journal.prompts")] == ["6 open", "4 open"]


# -- staff pages: private never, shared to the care team's therapists only -------------------------

def _note(make, auth, world) -> int:
    auth.sign_in("ther")
    response = auth.post(f"/courses/{world['course']}/notes", {"note-kind": "integration",
                                                               "note-session_date": local(0).date().isoformat()})
    assert response.status_code == 302, page_text(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _pages(app, world, note_id: int) -> list[str]:
    """Every GET page of the app that takes only ids this world has (each id kind filled in)."""
    values = {"course_id": world["course"], "patient_id": world["patient"], "note_id": note_id,
              "dosing_id": world["dose"], "user_id": world["therapist"]}
    urls = []
    with app.test_request_context():
        from flask import url_for
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods and rule.arguments <= set(values) and rule.endpoint != "static":
                urls.append(url_for(rule.endpoint, **{a: values[a] for a in rule.arguments}))
    return sorted(set(urls))


def where_shown(auth, pages: list[str], private: tuple[str, ...], shared: tuple[str, ...]) -> dict[str, dict]:
    """Every page as every user of the world: no `private` canary on any (asserted); for each `shared`
    one, the pages it shows on, by username."""
    found = {text: {} for text in shared}
    for username in ("ther", "pres", "nurse", "desk", "boss", "other"):
        auth.sign_in(username)
        for url in pages:
            html = auth.client.get(url).get_data(as_text=True)
            for text in private:
                assert text not in html, f"the private entry {text!r} shows to {username} on {url}"
            for text in shared:
                if text in html:
                    found[text].setdefault(username, set()).add(url)
    return found


# The crawl of every staff page as every role (78 pages, 6 users) runs once per engine for the entries
# written through the services here and through the portal's page alike: test_portal_journal.py,
# test_a_private_entry_is_on_no_staff_page_and_a_shared_one_only_on_the_therapists.


def test_the_note_form_marks_shared_entries_as_the_patients_words_and_the_view_is_audited(make, auth, world):
    note_id = _note(make, auth, world)
    entry_id = write(make, world, share=True)
    page = auth.client.get(f"/notes/{note_id}")
    text = page_text(page)
    assert "From the patient's journal" in text and "The patient's own words" in text
    assert f'name="quote" value="{entry_id}"' in page.get_data(as_text=True)
    [row] = [r for r in make.audit_rows(action="note.view")]
    assert row.detail == "1 shared journal entries shown"


def test_withdrawn_share_leaves_the_pages(make, auth, world):
    note_id = _note(make, auth, world)
    entry_id = write(make, world, share=True)
    as_patient(make, world["patient"], lambda p: journal.unshare_entry(p, entry_id, utcnow()))
    for url in (f"/notes/{note_id}", f"/courses/{world['course']}"):
        assert SHARED not in auth.client.get(url).get_data(as_text=True)


# -- quoting into the experience review, without JavaScript ---------------------------------------

def _draft(make, note_id: int, **fields) -> dict:
    note = make.query(lambda: db.session.get(SessionNote, note_id))
    return {"session_date": note.session_date.isoformat(), "version": str(note.version), **fields}


def test_quoting_saves_the_draft_with_the_entry_quoted_and_the_quote_outlives_the_share(make, auth, world):
    note_id = _note(make, auth, world)
    entry_id = write(make, world, share=True, prompt="imagery")
    response = auth.post(f"/notes/{note_id}", _draft(make, note_id, stood_out="Typed by the therapist",
                                                     quote=str(entry_id), **{f"quote_into-{entry_id}": "stood_out"}))
    assert response.status_code == 302 and response.headers["Location"].endswith("#note-experience")
    content = make.query(lambda: db.session.get(SessionNote, note_id)).content
    assert content["stood_out"].startswith(f"Typed by the therapist\n\n“{SHARED}”\n— the patient's own words, "
                                           "journal entry of ")
    assert content["stood_out"].endswith("answering “Images, memories, visions”")
    [row] = [r for r in make.audit_rows(action="note.update")]
    assert row.detail == f"journal entry {entry_id} quoted" and SHARED not in (row.detail or "")
    signed = auth.post(f"/notes/{note_id}", _draft(make, note_id, stood_out=content["stood_out"],
                                                   self_harm_thoughts="no", then_sign="1", confirm_lock="y"))
    assert signed.status_code == 302
    as_patient(make, world["patient"], lambda p: journal.unshare_entry(p, entry_id, utcnow()))
    assert SHARED in page_text(auth.client.get(f"/notes/{note_id}"))  # the signed note keeps it


@pytest.mark.parametrize("case", ["private", "other patient", "unknown", "bad field"])
def test_a_refused_quote_saves_nothing_and_keeps_what_was_typed(make, auth, world, case):
    note_id = _note(make, auth, world)
    entry_id = {"private": lambda: write(make, world),
                "other patient": lambda: write(make, world, patient="other_patient", dose="other_dose", share=True),
                "unknown": lambda: 999_999, "bad field": lambda: write(make, world, share=True)}[case]()
    into = "insights" if case == "bad field" else "stood_out"
    before = make.query(lambda: db.session.get(SessionNote, note_id)).version
    response = auth.post(f"/notes/{note_id}", _draft(make, note_id, stood_out="Still typed", quote=str(entry_id),
                                                     **{f"quote_into-{entry_id}": into}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Still typed" in html and SHARED not in html.split("Still typed", 1)[1].split("</textarea>", 1)[0]
    assert make.query(lambda: db.session.get(SessionNote, note_id)).version == before
    rows = [r for r in make.audit_rows(action="note.update")]
    assert [(r.outcome, r.detail) for r in rows] == [("failure", "journal quote refused")]


def test_only_the_drafts_author_on_the_care_team_is_offered_the_journal(make, auth, world):
    """A prescriber reading the draft, or the signed note, shows no journal panel."""
    note_id = _note(make, auth, world)
    write(make, world, share=True)
    auth.sign_in("pres")
    assert "From the patient's journal" not in page_text(auth.client.get(f"/notes/{note_id}"))
    assert make.query(lambda: db.session.scalar(select(AuditEvent.id).where(AuditEvent.detail.like("%journal%"))))\
        is None
