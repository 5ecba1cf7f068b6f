"""Techniques in integration notes (issue 24, point 2): chosen from the clinic's vocabulary, each
with its rationale; at the next note, the patient's response to each technique the previous signed
note used; the course's techniques page; signed rows never change; older notes keep their words."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.extensions import db
from ketamine_integration.notes import services
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.notes.signed_guard import SignedNoteChanged
from ketamine_integration.notes.technique_models import NoteTechnique, TechniqueResponse
from tests.conftest import page_text
from tests.integration.test_notes import SIGNING, TODAY, _integration_data, _start, _version, notes_team


GROUNDING = {"techniques-0-technique": "breath-and-grounding", "techniques-0-rationale": "Flooded by grief"}
ACTIVATION = {"techniques-1-technique": "behavioural-activation", "techniques-1-rationale": "Days spent in bed"}


@pytest.fixture
def team(make):
    return notes_team(make)


def _post(make, auth, note, **fields):
    return auth.post(f"/notes/{note}", _integration_data(_version(make, note), **{
        "techniques-0-technique": "", "techniques-0-rationale": "", **fields}))


def _signed_note(make, auth, team, when=None, **fields):
    when = when or TODAY
    note = _start(auth, team["course"], when=when)
    signed = _post(make, auth, note, session_date=when.isoformat(), **fields, **SIGNING)
    assert signed.status_code == 302, page_text(signed)[-800:]
    return note


def _uses(make, note):
    return make.query(lambda: [(t.technique_key, t.technique_name, t.rationale) for t in db.session.scalars(
        select(NoteTechnique).where(NoteTechnique.note_id == note).order_by(NoteTechnique.id))])


def test_the_form_offers_the_vocabulary_grouped_by_cluster(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    html = client.get(f"/notes/{note}").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="techniques-0-technique"[^>]*>.*?</select>', html, re.S).group(0)
    groups = re.findall(r'<optgroup label="([^"]*)"', select_html)
    assert groups == ["Alliance-building", "Cognitive and behavioural", "Emotion-focused and experiential",
                      "Psychodynamic and attachment-informed", "Mindfulness, somatic, nervous system",
                      "Interpersonal and systems"]
    assert '<option value="behavioural-activation">Behavioural activation</option>' in select_html
    assert re.search(r'<label for="techniques-0-technique">Technique used', html)
    assert re.search(r'<label for="techniques-0-rationale">Rationale', html)


@pytest.mark.parametrize("fields, field_id, message", [
    # a technique without its rationale
    ({"techniques-0-technique": "chair-work", "techniques-0-rationale": "  "}, "techniques-0-rationale",
     "a technique needs its rationale"),
    # a rationale without its technique
    ({"techniques-1-technique": "", "techniques-1-rationale": "Because"}, "techniques-1-technique",
     "Choose the technique this rationale is for."),
    # a key the vocabulary does not hold
    ({"techniques-0-technique": "astrology", "techniques-0-rationale": "Stars"}, "techniques-0-technique",
     "Choose a technique from the clinic's vocabulary."),
    # the same technique twice
    ({**GROUNDING, "techniques-1-technique": "breath-and-grounding", "techniques-1-rationale": "Again"},
     "techniques-1-technique", "This technique is already listed above."),
])
def test_a_technique_row_is_refused_on_its_field_and_nothing_is_saved(team, make, auth, fields, field_id, message):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    refused = _post(make, auth, note, **{**GROUNDING, **fields})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    # the message sits on the row's own field (its error is described by the field)
    assert message in page_text(refused)
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html)
    assert _uses(make, note) == []
    assert make.query(lambda: db.session.get(SessionNote, note).content) == {}


@pytest.mark.both_engines  # the digest of rows as each engine reads them back
def test_techniques_are_stored_with_their_name_and_signed_into_the_digest(team, make, auth, client):
    auth.sign_in("ther")
    note = _signed_note(make, auth, team, **GROUNDING, **ACTIVATION)
    assert _uses(make, note) == [("breath-and-grounding", "Breath and grounding", "Flooded by grief"),
                                 ("behavioural-activation", "Behavioural activation", "Days spent in bed")]
    stored = make.query(lambda: services.signed_content(db.session.get(SessionNote, note)))
    assert stored["technique_uses"][0] == ["breath-and-grounding", "Breath and grounding", "Flooded by grief"]
    assert "techniques" not in stored["content"]      # rows, not free text
    view = " ".join(page_text(client.get(f"/notes/{note}")).split())
    assert ("Techniques used Breath and grounding: Flooded by grief Behavioural activation: Days spent in bed"
            in view)
    assert make.query(services.verify_signed_notes) == [(note, True)]


def test_the_next_note_records_the_response_to_each_technique_and_the_course_lists_them(team, make, auth, client,
                                                                                           app):
    auth.sign_in("ther")
    first = _signed_note(make, auth, team, when=TODAY - timedelta(days=7), **GROUNDING, **ACTIVATION)
    second = _start(auth, team["course"])
    form = client.get(f"/notes/{second}").get_data(as_text=True)
    assert "How the patient responded to the techniques of the last session" in form
    use_ids = [int(i) for i in re.findall(r'name="technique_responses-\d+-use_id" type="hidden" value="(\d+)"', form)
               or re.findall(r'name="technique_responses-\d+-use_id"[^>]*value="(\d+)"', form)]
    assert len(use_ids) == 2 and "Flooded by grief" in page_text(client.get(f"/notes/{second}"))
    rows = {"technique_responses-0-use_id": str(use_ids[0]), "technique_responses-1-use_id": str(use_ids[1])}
    # a comment without a response is refused on its row; nothing saved
    refused = _post(make, auth, second, **rows, **{"technique_responses-1-comment": "Walked twice"})
    assert refused.status_code == 422 and "Choose how the patient responded" in page_text(refused)
    # a response to a technique the previous note did not use is refused
    other = _post(make, auth, second, **{"technique_responses-0-use_id": "99999",
                                         "technique_responses-0-response": "helpful"})
    assert other.status_code == 422 and "was not used at the previous signed note" in page_text(other)
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(TechniqueResponse))) == 0
    signed = _post(make, auth, second, **rows, **{
        "technique_responses-0-response": "helpful", "technique_responses-0-comment": "Calmer within minutes",
        "technique_responses-1-response": "too_early"}, **SIGNING)
    assert signed.status_code == 302, page_text(signed)[-600:]
    stored = make.query(lambda: [(r.use.technique_key, r.response, r.comment) for r in db.session.scalars(
        select(TechniqueResponse).order_by(TechniqueResponse.id))])
    assert stored == [("breath-and-grounding", "helpful", "Calmer within minutes"),
                      ("behavioural-activation", "too_early", None)]
    view = " ".join(page_text(client.get(f"/notes/{second}")).split())
    assert "Response to earlier techniques Breath and grounding: helpful — Calmer within minutes" in view
    assert make.query(services.verify_signed_notes) == [(first, True), (second, True)]
    # the course's techniques page: when, by whom, why, and the responses; audited
    page = " ".join(page_text(client.get(f"/courses/{team['course']}/techniques")).split())
    assert (f"{(TODAY - timedelta(days=7)).isoformat()} Hazel Quint Breath and grounding Flooded by grief Helpful: "
            f"Calmer within minutes (note of {TODAY.isoformat()}, Hazel Quint)") in page
    assert "Behavioural activation Days spent in bed Too early to tell" in page
    [row] = make.audit_rows(action="note.techniques")
    assert row.patient_id == team["patient"]


@pytest.mark.both_engines  # SQL statement counts
def test_the_course_techniques_page_runs_the_same_statements_however_many_notes(team, make, auth, client, app):
    auth.sign_in("ther")

    def statements() -> int:
        count = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(f"/courses/{team['course']}/techniques").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(count)

    def note_responding(days_ago: int) -> None:
        note = _start(auth, team["course"], when=TODAY - timedelta(days=days_ago))
        html = client.get(f"/notes/{note}").get_data(as_text=True)
        ids = re.findall(r'name="technique_responses-(\d+)-use_id"[^>]*value="(\d+)"', html)
        responses = {f"technique_responses-{i}-{k}": v for i, use in ids
                     for k, v in (("use_id", use), ("response", "mixed"))}
        assert _post(make, auth, note, session_date=(TODAY - timedelta(days=days_ago)).isoformat(),
                     **GROUNDING, **ACTIVATION, **responses, **SIGNING).status_code == 302

    note_responding(30)
    note_responding(29)
    few = statements()
    for days_ago in range(20, 16, -1):
        note_responding(days_ago)
    assert statements() == few


@pytest.mark.both_engines  # raw SQL behind the triggers
def test_signed_technique_rows_never_change(team, make, auth, app):
    auth.sign_in("ther")
    first = _signed_note(make, auth, team, when=TODAY - timedelta(days=7), **GROUNDING)
    [use] = make.query(lambda: db.session.scalars(select(NoteTechnique.id)).all())
    second = _signed_note(make, auth, team, **{"technique_responses-0-use_id": str(use),
                                               "technique_responses-0-response": "mixed"})
    # the ORM guard stops the application's own code
    with app.app_context():
        db.session.get(NoteTechnique, use).rationale = "rewritten"
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
        db.session.add(NoteTechnique(note_id=first, technique_key="body-scan", technique_name="Body scan",
                                     rationale="Sneaked in"))
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
    # and the database refuses whatever bypasses it
    statements = [
        ("INSERT INTO note_techniques (note_id, technique_key, technique_name, rationale) "
         "VALUES (:note, 'body-scan', 'Body scan', 'Sneaked in')", {"note": first}),
        ("UPDATE note_techniques SET rationale = 'rewritten' WHERE id = :use", {"use": use}),
        ("DELETE FROM note_techniques WHERE id = :use", {"use": use}),
        ("INSERT INTO technique_responses (note_id, note_technique_id, response) VALUES (:note, :use, 'helpful')",
         {"note": first, "use": use}),
        ("UPDATE technique_responses SET response = 'helpful' WHERE note_id = :note", {"note": second}),
        ("DELETE FROM technique_responses WHERE note_id = :note", {"note": second}),
    ]
    for sql, params in statements:
        with app.app_context():
            with pytest.raises(DBAPIError):
                db.session.execute(text(sql), params)
                db.session.flush()
            db.session.rollback()
    assert make.query(services.verify_signed_notes) == [(first, True), (second, True)]


def test_an_older_notes_free_text_techniques_read_as_they_were(team, make, auth, client):
    """Notes signed before the vocabulary kept their techniques as free text in the content: shown
    as written, and their digest (which has no technique rows) still matches."""
    auth.sign_in("ther")
    note = _signed_note(make, auth, team)

    def written_before():
        stored = db.session.get(SessionNote, note)
        old = SessionNote(course_id=stored.course_id, patient_id=stored.patient_id, kind="integration",
                          session_date=TODAY - timedelta(days=30), author_id=stored.author_id,
                          content={**stored.content, "host_theory": "act",
                                   "techniques": [{"technique": "Grounding",
                                                                     "rationale": "Settling after strong emotion"}]})
        db.session.add(old)
        db.session.flush()
        return old.id
    old = make.run(written_before)

    def signed_as_then():  # as sign_note signed it
        written = db.session.get(SessionNote, old)
        written.status, written.signed_at = "signed", written.created_at
        written.content_digest = services.content_digest(written)
    make.run(signed_as_then)
    view = " ".join(page_text(client.get(f"/notes/{old}")).split())
    assert "Approach Host theory: Acceptance and commitment (ACT) Grounding: Settling after strong emotion" in view
    assert (old, True) in make.query(services.verify_signed_notes)


@pytest.mark.both_engines  # rows rewritten behind each engine's triggers
@pytest.mark.parametrize("tamper", [
    "UPDATE note_techniques SET rationale = 'rewritten'",
    "UPDATE technique_responses SET response = 'helpful'",
    "DELETE FROM technique_responses",
])
def test_signatures_verify_names_a_note_whose_technique_rows_were_rewritten(team, make, auth, app, tamper):
    """Behind the guards (the database owner's console), a rewritten technique row or response breaks
    its note's digest: `flask signatures verify` names the note and exits 1."""
    from tests.security.append_only_world import as_database_owner

    auth.sign_in("ther")
    first = _signed_note(make, auth, team, when=TODAY - timedelta(days=7), **GROUNDING)
    [use] = make.query(lambda: db.session.scalars(select(NoteTechnique.id)).all())
    second = _signed_note(make, auth, team, **{"technique_responses-0-use_id": str(use),
                                               "technique_responses-0-response": "mixed"})
    clean = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert clean.exit_code == 0, clean.output
    with as_database_owner(app) as conn:
        conn.execute(text(tamper))
    broken = app.test_cli_runner().invoke(args=["signatures", "verify"])
    named = first if "note_techniques" in tamper else second
    assert broken.exit_code == 1
    assert f"MISMATCH session note {named}: content differs from what was signed" in broken.output
