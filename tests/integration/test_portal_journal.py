"""The journal in the patient portal (issue 23, point 4's pages): the open prompts each with its own
labelled form, writing, editing, sharing and withdrawing a share through the pages; bad input answered
with a field error, the typed text kept and nothing changed; a stale edit kept with a clear message;
another patient's entry 404; text sent after the session timed out offered back; and entries written
through the portal (or the services) on no staff page while private, and only on the therapist's when shared."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.domain import journal as rules
from ketamine_integration.extensions import db
from ketamine_integration.journal import services as journal
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.portal.models import PortalKeptText, PortalSession
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_journal import PRIVATE, SHARED, _note, _pages, journal_world, where_shown, write
from tests.page_html import read_forms

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): pages and services only.

JOURNAL = "/portal/journal/"


@pytest.fixture
def world(make):
    """test_journal's world (a dose ended three days ago) and the patient's portal account: built once per
    worker and clinic day, loaded from its snapshot for the tests after, on each engine (tests.conftest.reused_world)."""
    def build() -> dict:
        ids = journal_world(make)
        ids["account"] = make.portal_account(ids["patient"])
        return ids
    return todays_world(make.app, "portal_journal_world", build)


@pytest.fixture
def patient(app, world) -> Auth:
    """The patient's own browser: a test client signed in to the portal."""
    browser = Auth(app, app.test_client())
    browser.portal_sign_in(world["account"])
    return browser


def _entries(make) -> list[JournalEntry]:
    return make.query(lambda: db.session.scalars(select(JournalEntry).order_by(JournalEntry.id)).all())


def _textarea(html: str, label: str) -> str:
    """The text in the text area labelled `label` (HTML-escaped as served)."""
    found = re.search(rf'<label for="([^"]+)">{re.escape(label)}</label>', html)
    assert found, f"no text area labelled {label!r}"
    return re.search(rf'<textarea[^>]*id="{found.group(1)}"[^>]*>\r?\n?(.*?)</textarea>', html, re.S).group(1)


def boxes(*rows: tuple[str, str, str]) -> dict[str, str]:
    """The journal's one write form as the page posts it: a box (prompt, dose id, text) per open prompt."""
    return {f"entries-{i}-{name}": value for i, row in enumerate(rows)
            for name, value in zip(("prompt", "dosing_session_id", "text"), row)}


def _written(make, world, text: str, prompt: str = "stood_out", patient: Auth | None = None):
    return patient.post(JOURNAL, boxes((prompt, "" if prompt == rules.FREE else str(world["dose"]), text)))


# -- the page ----------------------------------------------------------------------------------------

def test_the_page_offers_each_open_prompt_and_the_free_entry_as_boxes_of_one_form(make, world, patient):
    response = patient.client.get(JOURNAL)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for prompt in rules.REVIEW_PROMPTS.values():
        assert f">{prompt.question}</label>" in html and prompt.hint in html
    assert ">How are you today?</label>" in html  # the daily free entry, from the day after the dose
    forms = read_forms(html)
    assert forms.repeated_ids() == [] and forms.unlabelled() == []
    # one form: saving one box sends every other box's text with it (issue 23: entries are never lost)
    assert html.count('class="journal-write"') == 1 and html.count("<textarea") == len(rules.REVIEW_PROMPTS) + 1
    assert html.count(">Save in my journal</button>") == 1
    assert '<a href="/portal/journal/" aria-current="page">Journal</a>' in html  # the portal's menu
    assert "Nothing written yet" in page_text(response)
    assert "your therapist on your care team can read it" in page_text(response)
    assert {r.action for r in make.audit_rows(patient_id=world["patient"])} >= {"journal.view", "journal.prompts"}


def test_without_a_course_the_journal_says_when_it_opens_and_writes_nothing(app, make):
    lone = make.patient(family_name="Nocourse")
    browser = Auth(app, app.test_client())
    browser.portal_sign_in(make.portal_account(lone))
    assert journal.NO_COURSE in page_text(browser.client.get(JOURNAL))
    refused = browser.post(JOURNAL, {"prompt": "free", "text": "Hello"})
    assert refused.status_code == 422 and journal.NO_COURSE in page_text(refused)
    assert _entries(make) == []


# -- writing -----------------------------------------------------------------------------------------

def test_an_entry_written_on_the_page_is_private_listed_and_its_prompt_no_longer_offered(make, world, patient):
    response = _written(make, world, "The hallway with every door open", patient=patient)
    [entry] = _entries(make)
    assert response.status_code == 302 and response.headers["Location"] == f"{JOURNAL}#entry-{entry.id}"
    assert (entry.prompt, entry.dosing_session_id, entry.shared) == ("stood_out", world["dose"], False)
    page = patient.client.get(JOURNAL)
    text = page_text(page)
    assert "Saved in your journal. It is private" in text
    assert "The hallway with every door open" in text and "Private" in text and "Share with my therapist" in text
    assert ">What stood out?</label>" not in page.get_data(as_text=True)  # answered: no longer offered
    [row] = make.audit_rows(action="journal.write")
    assert (row.patient_id, row.portal_account_id, row.outcome) == (world["patient"], world["account"], "success")


@pytest.mark.parametrize("data, words", [
    ({"prompt": "stood_out", "text": "   "}, rules.EMPTY),                                 # nothing written in any box
    ({"prompt": "stood_out", "text": "x" * 4001}, rules.too_long(4001)),                   # too long
    ({"prompt": "poem", "text": "Kept words"}, "Choose what this entry answers."),         # no such prompt
    ({"prompt": "emotions", "text": "Kept words", "dose": "other_dose"}, journal.NOT_A_DOSE),  # another's dose
    ({"prompt": "emotions", "text": "Kept words", "dose": "next_dose"}, journal.NOT_A_DOSE),   # not given yet
    ({"prompt": "emotions", "text": "Kept words", "dose": "12x"}, journal.NOT_A_DOSE),         # not an id
])
def test_bad_input_is_a_field_error_keeps_the_text_and_writes_nothing(make, world, patient, data, words):
    """(A NUL character never reaches the page: every request holding one is refused before any view,
    web/lifecycle.py; the service's own refusal is in test_journal.py.)"""
    data = dict(data)
    dose = data.pop("dose", "dose")
    response = patient.post(JOURNAL, boxes((data["prompt"], str(world.get(dose, dose)), data["text"])))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert words in page_text(response)
    if data["text"].strip():
        assert data["text"] in html  # what the patient typed is still in a text area
    assert _entries(make) == []
    [row] = make.audit_rows(action="journal.write")
    assert row.outcome == "failure" and row.patient_id == world["patient"]


def test_every_box_typed_in_is_saved_as_its_own_entry_in_one_save(make, world, patient):
    """The new-user review's lost text: typing in two boxes and saving kept only one. Both are saved now,
    each answering its own prompt, and neither prompt is offered again."""
    dose = str(world["dose"])
    response = patient.post(JOURNAL, boxes(("stood_out", dose, "The hallway"), ("emotions", dose, "Relief, then fear"),
                                           ("imagery", dose, "   "), (rules.FREE, dose, "")))
    assert response.status_code == 302
    entries = _entries(make)
    assert [(e.prompt, e.dosing_session_id, e.text) for e in entries] == [
        ("stood_out", world["dose"], "The hallway"), ("emotions", world["dose"], "Relief, then fear")]
    assert response.headers["Location"] == f"{JOURNAL}#entry-{entries[-1].id}"
    page = patient.client.get(JOURNAL)
    html = page.get_data(as_text=True)
    assert "Saved in your journal: 2 entries, one for each box you wrote in" in page_text(page)
    assert ">What stood out?</label>" not in html and ">What emotions came up?</label>" not in html
    assert ">Images, memories, visions</label>" in html  # left empty: still offered
    assert [r.outcome for r in make.audit_rows(action="journal.write")] == ["success", "success"]


def test_a_box_refused_refuses_the_save_and_every_box_keeps_its_text(make, world, patient):
    dose = str(world["dose"])
    response = patient.post(JOURNAL, boxes(("stood_out", dose, "Kept words one"), ("emotions", dose, "x" * 4001),
                                           (rules.FREE, dose, "Kept words two")))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _textarea(html, "What stood out?") == "Kept words one"
    assert _textarea(html, "What emotions came up?") == "x" * 4001
    assert _textarea(html, "How are you today?") == "Kept words two"
    assert rules.too_long(4001) in page_text(response)
    error = re.search(r'<p class="error" id="([^"]+)-error">', html).group(1)
    assert re.search(rf'<label for="{error}">What emotions came up\?</label>', html)  # on the box it is about
    assert _entries(make) == []
    assert [r.outcome for r in make.audit_rows(action="journal.write")] == ["failure"]


def test_a_single_entry_posted_the_old_way_is_still_saved(make, world, patient):
    """A page loaded before the journal had one form (or its text kept from a time-out then) posts one
    entry as prompt/text: it is saved, not lost."""
    response = patient.post(JOURNAL, {"prompt": "emotions", "dosing_session_id": str(world["dose"]), "text": "Calm"})
    assert response.status_code == 302
    assert [(e.prompt, e.text) for e in _entries(make)] == [("emotions", "Calm")]


def test_text_for_a_prompt_no_longer_offered_comes_first_under_not_saved_yet(make, world, patient):
    write(make, world, prompt="imagery", text="Already answered")
    response = patient.post(JOURNAL, boxes(("imagery", str(world["dose"]), "x" * 4001),
                                           ("emotions", str(world["dose"]), "Still here")))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.index("Not saved yet") < html.index("About your session on")
    assert _textarea(html, "Images, memories, visions") == "x" * 4001
    assert _textarea(html, "What emotions came up?") == "Still here"


# -- editing -----------------------------------------------------------------------------------------

def test_a_private_entry_is_edited_and_a_stale_edit_keeps_the_patients_text(make, world, patient):
    entry_id = write(make, world, text="First words")
    edit = f"/portal/journal/{entry_id}/edit"
    page = patient.client.get(edit)
    assert page.status_code == 200 and "First words" in _textarea(page.get_data(as_text=True), "Your entry")
    saved = patient.post(edit, {"text": "Second words", "version": "1"})
    assert saved.status_code == 302 and saved.headers["Location"] == f"{JOURNAL}#entry-{entry_id}"
    stale = patient.post(edit, {"text": "Typed in an old window", "version": "1"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert journal.CHANGED_MEANWHILE in page_text(stale)
    assert _textarea(html, "Your entry") == "Typed in an old window"
    assert "The entry as it is saved now" in html and "Second words" in html
    assert 'name="version" type="hidden" value="2"' in html  # saving again is deliberate
    [entry] = _entries(make)
    assert (entry.text, entry.version) == ("Second words", 2)
    assert [r.outcome for r in make.audit_rows(action="journal.edit")] == ["success", "failure"]


def test_a_shared_entry_is_not_edited_and_an_empty_edit_changes_nothing(make, world, patient):
    shared = write(make, world, share=True)
    page = page_text(patient.client.get(f"/portal/journal/{shared}/edit"))
    assert journal.SHARED_STAYS in page and "Stop sharing" in page and "Save changes" not in page
    refused = patient.post(f"/portal/journal/{shared}/edit", {"text": "Changed", "version": "2"})
    assert refused.status_code == 422 and journal.SHARED_STAYS in page_text(refused)
    private = write(make, world, prompt="emotions", text="Mine")
    empty = patient.post(f"/portal/journal/{private}/edit", {"text": "", "version": "1"})
    assert empty.status_code == 422 and rules.EMPTY in page_text(empty)
    assert [(e.text, e.version) for e in _entries(make)] == [(SHARED, 2), ("Mine", 1)]


def test_an_entry_shared_once_keeps_its_words_after_the_share_is_withdrawn(make, world, patient):
    """Withdraw, rewrite, share again would leave a note's quote naming words the entry no longer has
    (attacker review): an entry once shared is not edited again; the patient writes a new one."""
    shared = write(make, world, share=True)
    assert patient.post(f"/portal/journal/{shared}/stop-sharing", {}).status_code == 302
    journal_page = patient.client.get(JOURNAL).get_data(as_text=True)
    assert f"/portal/journal/{shared}/edit" not in journal_page  # no Edit offered
    page = page_text(patient.client.get(f"/portal/journal/{shared}/edit"))
    assert journal.ONCE_SHARED_STAYS in page and "Save changes" not in page
    refused = patient.post(f"/portal/journal/{shared}/edit", {"text": "I never said that", "version": "3"})
    assert refused.status_code == 422 and journal.ONCE_SHARED_STAYS in page_text(refused)
    [entry] = _entries(make)
    assert entry.text == SHARED and entry.shared_at is None and entry.first_shared_at is not None


# -- sharing -----------------------------------------------------------------------------------------

def test_sharing_shows_the_entry_to_the_therapist_and_stopping_takes_it_back(make, auth, world, patient):
    note_id = _note(make, auth, world)  # the therapist's integration draft
    assert _written(make, world, SHARED, patient=patient).status_code == 302
    [entry] = _entries(make)
    assert SHARED not in page_text(auth.client.get(f"/notes/{note_id}"))
    shared = patient.post(f"/portal/journal/{entry.id}/share", {})
    assert shared.status_code == 302 and shared.headers["Location"] == f"{JOURNAL}#entry-{entry.id}"
    page = page_text(patient.client.get(JOURNAL))
    assert "Shared with your therapist" in page and "Stop sharing" in page
    assert SHARED in page_text(auth.client.get(f"/notes/{note_id}"))
    assert patient.post(f"/portal/journal/{entry.id}/stop-sharing", {}).status_code == 302
    assert "This entry is private again" in page_text(patient.client.get(JOURNAL))
    assert SHARED not in page_text(auth.client.get(f"/notes/{note_id}"))
    actions = [r.action for r in make.audit_rows(patient_id=world["patient"]) if r.action in (
        "journal.share", "journal.unshare")]
    assert actions == ["journal.share", "journal.unshare"]


@pytest.mark.parametrize("method, path, data", [
    ("GET", "edit", None),
    ("POST", "edit", {"text": "Mine now", "version": "1"}),
    ("POST", "share", {}),
    ("POST", "stop-sharing", {}),
])
def test_another_patients_entry_is_404_changes_nothing_and_is_audited(make, world, patient, method, path, data):
    theirs = write(make, world, patient="other_patient", dose="other_dose", share=path == "stop-sharing")
    before = [(e.text, e.shared_at, e.version) for e in _entries(make)]
    url = f"/portal/journal/{theirs}/{path}"
    response = patient.client.get(url) if method == "GET" else patient.post(url, data)
    assert response.status_code == 404 and SHARED not in response.get_data(as_text=True)
    assert [(e.text, e.shared_at, e.version) for e in _entries(make)] == before
    [denied] = make.audit_rows(action="access.denied")
    assert (denied.patient_id, denied.object_id) == (world["other_patient"], str(theirs))
    missing = patient.client.get("/portal/journal/999999/edit")
    assert missing.status_code == 404


# -- text kept across a timed-out session ------------------------------------------------------------

def _time_out(make) -> None:
    def age():
        for row in db.session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))):
            row.last_seen_at -= timedelta(minutes=11)
    make.run(age)


def test_an_entry_sent_after_the_session_timed_out_is_offered_back_and_saved(make, world, patient):
    _time_out(make)
    sent = _written(make, world, "Written on the bus, slowly", prompt="emotions", patient=patient)
    assert sent.headers["Location"].startswith("/portal/sign-in")
    assert _entries(make) == []
    patient.portal_sign_in(world["account"])
    page = patient.client.get(JOURNAL)
    html = page.get_data(as_text=True)
    assert "What you wrote before you were signed out is back" in page_text(page)
    assert _textarea(html, "What emotions came up?") == "Written on the bus, slowly"  # in its own prompt's form
    assert _written(make, world, "Written on the bus, slowly", prompt="emotions", patient=patient).status_code == 302
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(PortalKeptText)
                                                .where(PortalKeptText.recovered_at.is_(None)))) == 0
    assert "signed out is back" not in page_text(patient.client.get(JOURNAL))


def test_an_edit_sent_after_the_session_timed_out_is_offered_back_on_the_edit_page(make, world, patient):
    entry_id = write(make, world, text="Before")
    _time_out(make)
    edit = f"/portal/journal/{entry_id}/edit"
    assert patient.post(edit, {"text": "After the bus", "version": "1"}).headers["Location"].startswith(
        "/portal/sign-in")
    patient.portal_sign_in(world["account"])
    assert _textarea(patient.client.get(edit).get_data(as_text=True), "Your entry") == "After the bus"
    assert patient.post(edit, {"text": "After the bus", "version": "1"}).status_code == 302
    assert _entries(make)[0].text == "After the bus"


# -- staff pages ---------------------------------------------------------------------------------------

#: the canaries of the entries written through the portal's page (PRIVATE and SHARED: through the services)
PORTAL_PRIVATE = "Zq7-PRIVATE-portal-canary-8830"
PORTAL_SHARED = "The garden gate stood open"


def test_a_private_entry_is_on_no_staff_page_and_a_shared_one_only_on_the_therapists(app, make, auth, world, patient):
    """test_journal's canaries: every staff page taking this world's ids, as every role, never shows a
    private entry, and a shared one only to the care team's therapist, on the course and the note. The
    entries are written both ways, through the journal's services and through the portal's page (each
    with its own canary), so one crawl checks both (it was one crawl per way)."""
    note_id = _note(make, auth, world)
    write(make, world, text=PRIVATE, prompt="emotions")
    write(make, world, text=SHARED, share=True)
    assert _written(make, world, PORTAL_PRIVATE, prompt="imagery", patient=patient).status_code == 302
    assert _written(make, world, PORTAL_SHARED, prompt="surprises", patient=patient).status_code == 302
    shared = _entries(make)[-1]
    assert shared.text == PORTAL_SHARED and shared.shared_at is None
    assert patient.post(f"/portal/journal/{shared.id}/share", {}).status_code == 302
    pages = _pages(app, world, note_id)
    assert {f"/courses/{world['course']}", f"/notes/{note_id}", f"/patients/{world['patient']}"} <= set(pages)
    the_therapists = {"ther": {f"/courses/{world['course']}", f"/notes/{note_id}"}}
    assert where_shown(auth, pages, private=(PRIVATE, PORTAL_PRIVATE), shared=(SHARED, PORTAL_SHARED)) == {
        SHARED: the_therapists, PORTAL_SHARED: the_therapists}
