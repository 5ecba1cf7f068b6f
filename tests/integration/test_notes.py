"""Session notes: drafts, sign and lock (by every route), concurrent saves, process notes,
themes, action steps, preparation credit, formulation, measures and safety alerts."""
import io
import re
import threading
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionStep, NoteTheme, SafetyAlert, SessionNote, Theme
from ketamine_integration.notes.signed_guard import SignedNoteChanged
from tests.clinic_day import follows_the_day
from tests.conftest import Auth, page_text, todays_world

TODAY = follows_the_day(globals(), "TODAY", date.today)


@pytest.fixture
def team(make):
    return notes_team(make)


def notes_team(make) -> dict:
    """make_team's clinic as a fixture's first writes: built once per day, worker and engine
    (reused_world) and loaded from its snapshot after (a file copy on SQLite, COPY on PostgreSQL)."""
    return todays_world(make.app, "notes_team", lambda: make_team(make))


def make_team(make):
    """Two therapists (one the course's), a prescriber, staff and admin; a course in integration."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "colleague": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(family_name="Noted", therapists=[ids["colleague"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    ids["theme"] = make.run(lambda: _theme("Safety in the body"))
    return ids


def dose_started(make, course_id: int, on: date, sequence: int = 1) -> int:
    """A dosing session of the course that started on `on` (noon UTC): the first dose, for baselines."""
    from ketamine_integration.experience.models import DRAFT, DosingSession

    def add():
        session = DosingSession(course_id=course_id, sequence=sequence, status=DRAFT,
                                started_at=datetime.combine(on, time(16, 0), tzinfo=timezone.utc))
        db.session.add(session)
        db.session.flush()
        return session.id
    return make.run(add)


@contextmanager
def entered_on_their_day():
    """Measures recorded meanwhile are entered at noon UTC on the day they are dated, as if typed in
    when they were taken (a test arranges history after the fact; a baseline must have been
    entered before the first dose started: notes/baselines.py)."""
    from ketamine_integration.db.append_only import store_digest
    from ketamine_integration.notes.models import MeasureResponse

    def date_entry(mapper, connection, response):
        response.created_at = datetime.combine(response.administered_on, time(12), tzinfo=timezone.utc)
        store_digest(response)
    event.listen(MeasureResponse, "before_insert", date_entry)
    try:
        yield
    finally:
        event.remove(MeasureResponse, "before_insert", date_entry)


def _theme(name):
    theme = Theme(name=name)
    db.session.add(theme)
    db.session.flush()
    return theme.id


def _start(auth, course, kind="integration", when=None):
    response = auth.post(f"/courses/{course}/notes", {"note-kind": kind,
                                                      "note-session_date": (when or TODAY).isoformat()})
    assert response.status_code == 302, response.status_code
    return int(re.search(r"/notes/(\d+)$", response.headers["Location"]).group(1))


def _version(make, note_id):
    return make.query(lambda: db.session.get(SessionNote, note_id).version)


def _integration_data(version, **overrides):
    data = {"session_date": TODAY.isoformat(), "version": str(version),
            "stood_out": "A sense of floating above the house", "emotions": "Grief, then relief",
            "themes-0-theme": "0", "themes-0-free_theme": "", "themes-0-patient_words": "",
            "insights": "I can rest without earning it", "self_harm_thoughts": "no", "safety_plan_reviewed": "no",
            "new_steps-0-what": "Walk by the river", "new_steps-0-how_often": "3 times a week",
            "new_steps-0-starts_on": TODAY.isoformat(), "new_steps-0-review_on": (TODAY + timedelta(days=14)).isoformat(),
            "new_steps-0-linked_insight": "Rest is allowed", "new_steps-0-success_criterion": "Three walks logged a week", "practices": ["movement", "nature"],
            "techniques-0-technique": "breath-and-grounding", "techniques-0-rationale": "Dysregulation"}
    data.update(overrides)
    return data


#: what the "Sign and lock" button adds to the note form: the button, and the signer's confirmation
SIGNING = {"then_sign": "1", "confirm_lock": "y"}


def _write_and_sign(make, auth, team, **overrides):
    """A whole integration note typed and signed in one request, without saving first."""
    note = _start(auth, team["course"])
    data = _integration_data(_version(make, note), **{"themes-0-theme": str(team["theme"]),
                                                     "themes-0-patient_words": "my chest finally unclenched",
                                                     **SIGNING, **overrides})
    signed = auth.post(f"/notes/{note}", data)
    assert signed.status_code == 302, page_text(signed)[-600:]
    assert make.query(lambda: db.session.get(SessionNote, note).status) == "signed"
    return note


def test_an_integration_note_is_written_signed_and_feeds_the_theme_and_step_views(team, make, auth, client):
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    stored = make.query(lambda: db.session.get(SessionNote, note))
    assert stored.status == "signed" and stored.content_digest and stored.content["insights"].startswith("I can")
    themes = page_text(client.get(f"/patients/{team['patient']}/themes"))
    assert "Safety in the body" in themes and "my chest finally unclenched" in themes
    steps = page_text(client.get(f"/courses/{team['course']}/action-steps"))
    assert "Walk by the river" in steps and "3 times a week" in steps and "No check-in yet" in steps
    # saved and signed in one request: one row, the signature's
    assert [r.action for r in make.audit_rows(patient_id=team["patient"]) if r.action.startswith("note.")][:2] == [
        "note.create", "note.sign"]


def test_the_signed_note_says_its_choices_in_words_not_keys(team, make, auth, client):
    """Review of issue 20: the signed note read "Approach: act", "somatic", "Challenges: overwhelm"."""
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team, challenges=["overwhelm", "not_sticking"],
                           practices=["movement", "nature"])
    view = " ".join(page_text(client.get(f"/notes/{note}")).split())
    assert "Practices agreed Movement, Time in nature" in view   # the clinic vocabulary's words
    assert "Challenges Overwhelming emotion, Insights not sticking" in view
    assert "Techniques used Breath and grounding: Dysregulation" in view
    assert "overwhelm," not in view and "somatic" not in view and "not_sticking" not in view


def test_a_later_note_checks_in_on_open_steps_and_stop_closes_them(team, make, auth, client):
    auth.sign_in("ther")
    _write_and_sign(make, auth, team)
    step_id = make.query(lambda: db.session.scalar(select(ActionStep.id)))
    second = _start(auth, team["course"])
    page = client.get(f"/notes/{second}").get_data(as_text=True)
    assert 'name="check_ins-0-step_id"' in page and "Walk by the river" in page
    data = _integration_data(_version(make, second), **{
        "new_steps-0-what": "", "new_steps-0-how_often": "", "new_steps-0-starts_on": "",
        "new_steps-0-review_on": "", "new_steps-0-linked_insight": "", "new_steps-0-success_criterion": "", "check_ins-0-step_id": str(step_id), "check_ins-0-progress": "partly",
        "check_ins-0-obstacles": "Rain", "check_ins-0-decision": "stop"})
    assert auth.post(f"/notes/{second}", data).status_code == 302
    assert make.query(lambda: db.session.get(ActionStep, step_id).status) == "open"   # a draft decides nothing
    data["version"] = str(_version(make, second))
    assert auth.post(f"/notes/{second}", {**data, **SIGNING}).status_code == 302
    assert make.query(lambda: db.session.get(ActionStep, step_id).status) == "stopped"
    tracker = page_text(client.get(f"/courses/{team['course']}/action-steps"))
    assert "Stopped" in tracker and "partly" in tracker and "Rain" in tracker
    assert "Walk by the river: Partly (obstacles: Rain); stop" in page_text(client.get(f"/notes/{second}"))


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_a_signed_note_cannot_be_changed_by_any_route(team, make, auth, client, app):
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    before = make.query(lambda: db.session.get(SessionNote, note).content)
    # the edit form, signing again, and a forged version
    edit = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Rewritten"))
    assert edit.status_code == 303
    again = auth.post(f"/notes/{note}", _integration_data(_version(make, note), **SIGNING))
    assert again.status_code == 303
    assert make.query(lambda: db.session.get(SessionNote, note).content) == before
    # the ORM refuses
    with app.app_context():
        stored = db.session.get(SessionNote, note)
        stored.content = {**stored.content, "insights": "Rewritten"}
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
        stored = db.session.get(SessionNote, note)
        stored.themes.append(NoteTheme(free_theme="Sneaked in"))
        with pytest.raises(SignedNoteChanged):
            db.session.flush()
        db.session.rollback()
    # and the database refuses, whatever bypasses the ORM
    statements = [
        ("UPDATE session_notes SET session_date = :d WHERE id = :id", {"d": TODAY - timedelta(days=9), "id": note}),
        ("UPDATE session_notes SET status = 'draft' WHERE id = :id", {"id": note}),
        ("DELETE FROM session_notes WHERE id = :id", {"id": note}),
        ("INSERT INTO note_themes (note_id, free_theme) VALUES (:id, 'Sneaked in')", {"id": note}),
        ("UPDATE note_themes SET patient_words = 'changed' WHERE note_id = :id", {"id": note}),
        ("DELETE FROM note_themes WHERE note_id = :id", {"id": note}),
        ("UPDATE action_steps SET what = 'Run a marathon' WHERE note_id = :id", {"id": note}),
        ("DELETE FROM action_steps WHERE note_id = :id", {"id": note}),
    ]
    for sql, params in statements:
        with app.app_context():
            with pytest.raises(DBAPIError):
                db.session.execute(text(sql), params)
                db.session.flush()
            db.session.rollback()
    verified = make.query(lambda: __import__("ketamine_integration.notes.services",
                                             fromlist=["x"]).verify_signed_notes())
    assert verified == [(note, True)]
    # an addendum is the way to correct it
    assert auth.post(f"/notes/{note}/addenda", {"body": "Patient later said the river walk was her idea."}
                     ).status_code == 302
    assert "Patient later said the river walk" in page_text(client.get(f"/notes/{note}"))


def test_the_second_of_two_concurrent_draft_saves_is_told_and_keeps_its_text(team, make, auth, app):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    version = _version(make, note)
    first = Auth(app, app.test_client())
    first.login("ther")
    assert first.post(f"/notes/{note}", _integration_data(version, insights="First tab's insight")).status_code == 302
    second = auth.post(f"/notes/{note}", _integration_data(version, insights="Second tab's insight"))
    assert second.status_code == 409
    assert "Someone saved this note after you opened it" in page_text(second)
    assert "Second tab&#39;s insight" in second.get_data(as_text=True) or "Second tab's insight" in page_text(second)
    assert make.query(lambda: db.session.get(SessionNote, note).content["insights"]) == "First tab's insight"


@pytest.mark.both_engines  # parallel writers
def test_parallel_draft_saves_never_500_and_one_wins(team, make, auth, app):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    version, results, barrier = _version(make, note), [], threading.Barrier(4)

    def save(n):
        tab = Auth(app, app.test_client())
        tab.login("ther")
        barrier.wait(30)
        results.append(tab.post(f"/notes/{note}", _integration_data(version, insights=f"Tab {n}")).status_code)
    threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [302, 409, 409, 409]


def test_drafts_belong_to_their_author(team, make, auth, client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Private draft thought"))
    auth.logout()
    auth.sign_in("ther2")                                       # on the care team, not the author
    page = page_text(client.get(f"/notes/{note}"))
    assert "Draft by Hazel Quint" in page and "Private draft thought" not in page
    refused = auth.post(f"/notes/{note}", _integration_data(_version(make, note), insights="Hijack"))
    assert refused.status_code == 303
    assert make.query(lambda: db.session.get(SessionNote, note).content["insights"]) == "Private draft thought"


def test_process_notes_are_never_shown_to_anyone_but_their_author(team, make, auth, client):
    secret = "Countertransference: reminded me of my own father"
    auth.sign_in("ther")
    note = _write_and_sign(make, auth, team)
    assert auth.post(f"/notes/{note}/process", {"body": secret}).status_code == 302
    assert secret in client.get(f"/notes/{note}/process").get_data(as_text=True)
    auth.logout()
    pages = [f"/notes/{note}", f"/courses/{team['course']}", f"/patients/{team['patient']}/themes",
             f"/courses/{team['course']}/action-steps", f"/courses/{team['course']}/measures", "/"]
    for username in ("ther2", "pres", "desk", "boss"):
        auth.sign_in(username)
        assert client.get(f"/notes/{note}/process").status_code in (403, 404)
        for path in pages:
            assert secret not in client.get(path).get_data(as_text=True), (username, path)
        auth.logout()
    reads = make.audit_rows(action="process_note.read")
    assert len(reads) == 1 and all(secret not in (r.detail or "") for r in make.audit_rows())


def test_a_signed_preparation_note_counts_toward_preparation(make, auth, client):
    ther, pres = make.user("therapist", username="pt"), make.user("prescriber", username="pp")
    course = make.course(make.patient(family_name="Prepared"), ther, pres, phase="preparation")
    auth.sign_in("pt")
    note = _start(auth, course, kind="preparation")
    data = {"session_date": TODAY.isoformat(), "version": str(_version(make, note)),
            "intentions": "To stop bracing for bad news\nTo sleep through the night",
            "psychoeducation": ["what_to_expect", "dissociation"], "readiness": "ready",
            "consent_questions_answered": "yes"}
    assert auth.post(f"/notes/{note}", {**data, **SIGNING}).status_code == 302
    page = " ".join(page_text(client.get(f"/courses/{course}")).split())
    # the checklist reads the signed note itself (issue 20, point 10): no entry is ticked for it
    assert f"1 of 1 needed: preparation note of {TODAY.isoformat()}, signed by" in page
    stored = make.query(lambda: db.session.get(SessionNote, note).content)
    assert stored["intentions"] == ["To stop bracing for bad news", "To sleep through the night"]
    view = " ".join(page_text(client.get(f"/notes/{note}")).split())    # in words, not keys
    assert "Readiness Ready Consent questions answered yes" in view
    assert "Psychoeducation covered What to expect during dosing, Dissociation and altered perception" in view


def test_signing_needs_the_experience_review_and_the_risk_screen(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    refused = auth.post(f"/notes/{note}", _integration_data(_version(make, note), stood_out="", emotions="",
                                                            self_harm_thoughts="yes", safety_plan_reviewed="no",
                                                            **SIGNING))
    text_ = page_text(refused)
    assert "Signing needs the experience review" in text_ and "review the safety plan" in text_
    assert make.query(lambda: db.session.get(SessionNote, note).status) == "draft"


@pytest.mark.parametrize("overrides, message", [
    ({"new_steps-0-how_often": ""}, "A specific step needs how often."),
    ({"new_steps-0-review_on": (TODAY - timedelta(days=3)).isoformat()}, "The review comes after the start."),
    ({"session_date": (TODAY + timedelta(days=3)).isoformat()}, "A note documents a session that has taken place."),
    ({"themes-0-theme": "999999"}, "Not a valid choice"),
    ({"insights": "x" * 5001}, "Field cannot be longer than 5000 characters."),
])
def test_bad_note_input_is_refused_on_its_field_and_saves_nothing(team, make, auth, overrides, message):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    response = auth.post(f"/notes/{note}", _integration_data(_version(make, note), **overrides))
    assert response.status_code == 422 and message in page_text(response)
    assert make.query(lambda: db.session.get(SessionNote, note).content) == {}


def test_the_formulation_keeps_every_revision_and_detects_a_stale_save(team, make, auth, client):
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/formulation", {
        "presenting_concerns": "Low mood after redundancy", "revision": "0"}).status_code == 302
    assert auth.post(f"/courses/{team['course']}/formulation", {
        "presenting_concerns": "Low mood; grief for her mother", "strengths": "Humour", "revision": "1"}
    ).status_code == 302
    stale = auth.post(f"/courses/{team['course']}/formulation", {"patterns": "Late tab", "revision": "1"})
    assert stale.status_code == 409 and "Late tab" in stale.get_data(as_text=True)
    page = page_text(client.get(f"/courses/{team['course']}/formulation"))
    assert "Revision 2" in page and "Revision 1" in page and "Low mood after redundancy" in page


def _phq9(auth, course, item9="0", base="1", when=None):
    data = {"phq9-administered_on": (when or TODAY).isoformat(), **{f"phq9-item{n}": base for n in range(1, 9)},
            "phq9-item9": item9}
    return auth.post(f"/courses/{course}/measures/phq9", data)


def test_item_9_raises_an_alert_on_both_dashboards_until_acknowledged(team, make, auth, client):
    auth.sign_in("ther")
    with entered_on_their_day():
        assert _phq9(auth, team["course"], item9="0", base="2", when=TODAY - timedelta(days=30)).status_code == 302
    dose_started(make, team["course"], TODAY - timedelta(days=20))
    assert _phq9(auth, team["course"], item9="1", base="0").status_code == 302
    measures = page_text(client.get(f"/courses/{team['course']}/measures"))
    assert "Safety alert: PHQ-9 item 9 (thoughts of self-harm) answered 1" in measures
    assert "16 Moderately severe 0 baseline" in measures and "1 None–minimal 1 (alert) -15 (-94%) Yes Yes" in measures
    assert "Safety alerts to acknowledge" in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("pres")
    assert "Testa Noted" in page_text(client.get("/")) and "Safety alerts to acknowledge" in page_text(client.get("/"))
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))
    short = auth.post(f"/alerts/{alert}/acknowledge", {"note": "ok"}, follow_redirects=True)
    assert "Say what was done (at least 10 characters, spaces not counted)." in page_text(short)
    assert auth.post(f"/alerts/{alert}/acknowledge", {
        "note": "Called the patient: passive thoughts, no plan; safety plan reviewed."}).status_code == 302
    assert "Safety alerts to acknowledge" not in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("desk")                                        # staff: not a clinician, no clinical pages
    assert client.get(f"/courses/{team['course']}/measures").status_code == 403


def test_a_measure_with_a_missing_item_is_refused_and_saves_nothing(team, make, auth):
    auth.sign_in("ther")
    data = {"phq9-administered_on": TODAY.isoformat(), **{f"phq9-item{n}": "1" for n in range(1, 9)}}
    response = auth.post(f"/courses/{team['course']}/measures/phq9", data)
    assert response.status_code == 422 and "Answer every item." in page_text(response)
    from ketamine_integration.notes.models import MeasureResponse
    assert make.query(lambda: db.session.scalars(select(MeasureResponse)).all()) == []


def test_the_admin_manages_the_theme_vocabulary(team, make, auth, client):
    auth.sign_in("boss")
    assert auth.post("/themes/", {"name": "  Not   enough "}).status_code == 302
    duplicate = auth.post("/themes/", {"name": "not enough"})
    assert duplicate.status_code == 422 and "in the vocabulary already" in page_text(duplicate)
    auth.logout()
    auth.sign_in("ther")
    assert client.get("/themes/").status_code == 403


def test_text_submitted_after_a_timeout_is_kept_and_offered_back_after_sign_in(team, make, auth, client):
    from ketamine_integration.notes.models import UnsavedWork
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    version = _version(make, note)
    make.age_login_sessions(last_seen_at=timedelta(minutes=30), created_at=timedelta(minutes=30))  # idle
    late = auth.post(f"/notes/{note}", _integration_data(version, insights="Written while the session lapsed"))
    assert late.status_code == 302 and "/login" in late.headers["Location"]
    assert make.query(lambda: db.session.get(SessionNote, note).content) == {}      # not saved: signed out
    [kept] = make.query(lambda: db.session.scalars(select(UnsavedWork)).all())
    assert kept.user_id == team["therapist"] and kept.path == f"/notes/{note}" and "csrf_token" not in kept.form
    assert auth.login("ther").status_code == 302
    page = client.get(f"/notes/{note}")
    assert "Recovered text." in page_text(page) and "Written while the session lapsed" in page.get_data(as_text=True)
    assert auth.post(f"/notes/{note}", _integration_data(version, insights="Written while the session lapsed")
                     ).status_code == 302
    assert make.query(lambda: db.session.get(SessionNote, note).content["insights"]) == \
        "Written while the session lapsed"
    assert "Recovered text." not in page_text(client.get(f"/notes/{note}"))


def test_nothing_is_kept_for_a_post_after_an_explicit_logout(team, make, auth):
    from ketamine_integration.notes.models import UnsavedWork
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    version = _version(make, note)
    auth.logout()
    assert auth.post(f"/notes/{note}", _integration_data(version)).status_code == 302
    assert make.query(lambda: db.session.scalars(select(UnsavedWork)).all()) == []


def test_the_dashboard_counts_my_unsigned_notes_and_shows_the_next_session(team, make, auth, client):
    """The caseload's draft count is the signed-in author's own drafts with anything written (a
    note started and left blank is not unsigned work); the next session is the patient's earliest
    booking still ahead (both read with the caseload's patients)."""
    from datetime import datetime, timezone

    from ketamine_integration.bookings.models import Appointment

    auth.sign_in("ther")
    for insights in ("Rest is allowed", None, "I can ask for help"):
        note = _start(auth, team["course"])
        if insights:  # the second is started and left blank
            assert auth.post(f"/notes/{note}", {"session_date": TODAY.isoformat(), "version": _version(make, note),
                                                "insights": insights}).status_code == 302
    ahead = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)

    def book(starts_at, status):
        db.session.add(Appointment(patient_id=team["patient"], course_id=team["course"], clinician_id=team["therapist"],
                                   kind="follow_up", starts_at=starts_at, ends_at=starts_at + timedelta(minutes=50),
                                   modality="telehealth", status=status, created_by_id=team["therapist"]))
    make.run(lambda: [book(ahead, "booked"), book(ahead - timedelta(days=1), "cancelled"),
                      book(ahead + timedelta(days=2), "booked")])
    row = re.search(r"<tr><td><a href=\"/patients/\d+\">[^<]*Noted</a>.*?</tr>", client.get("/").get_data(as_text=True),
                    re.S).group(0)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    with make.app.test_request_context():
        from ketamine_integration.db.clinic_time import format_local
        assert cells[2] == format_local(ahead) and cells[5] == "2"
    auth.logout()
    auth.sign_in("ther2")  # the colleague on the team has no drafts of their own
    row = re.search(r"<tr><td><a href=\"/patients/\d+\">[^<]*Noted</a>.*?</tr>", client.get("/").get_data(as_text=True),
                    re.S).group(0)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[5] == "—"


def test_every_refused_note_save_is_audited_however_malformed(team, make, auth):
    """The attack review's finding: malformed saves of a draft (another form's fields) were refused
    without a note.update row. Each refused save leaves exactly one audit row saying so (a file
    sent in a text field was a 500 with none: it is refused before the view, and audited), and
    the draft is unchanged."""
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    version = str(_version(make, note))
    malformed = [
        ({"intentions": "To rest", "version": version}, 422,                     # the preparation form's fields
         ("note.update", "failure", "not saved")),
        ({"body": "An addendum to a draft", "version": version}, 422,            # the addendum form's
         ("note.update", "failure", "not saved")),
        ({**_integration_data(version), "insights": (io.BytesIO(b"typed elsewhere"), "insights.txt")}, 400,
         ("access.denied", "denied", "notes.note_edit takes no file upload")),    # a file in a text field
    ]
    for data, status, row in malformed:
        before = make.query(lambda: db.session.scalar(select(func.max(AuditEvent.id))))
        assert auth.post(f"/notes/{note}", data).status_code == status, data
        rows = make.query(lambda: [(r.action, r.outcome, r.detail) for r in
                                   db.session.scalars(select(AuditEvent).where(AuditEvent.id > before))])
        assert rows == [row], rows
    assert str(_version(make, note)) == version
