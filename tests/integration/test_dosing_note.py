"""The dosing-session note (issue 20, point 9): where the protocol has a therapist present at each
dose (KAP), the therapist documents the dosing session itself from its record; signed like every
note; the record shows it to those who read notes; the prescriber's report carries it only when
the patient's release permits dosing-session notes, and never a process note.

Review of issue 20: the note documents a dose the record says was given, written by the therapist
who was there; once signed, its dose is neither cancelled nor moved; the report carries notes of
doses given (signed records) only."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SessionNote
from ketamine_integration.notes.services import verify_signed_notes
from tests.conftest import Auth, page_text, todays_world
from ketamine_integration.experience.models import DosingSession
from tests.integration.test_dosing import _record_data, form_time, local

OBSERVED = "Tearful at minute 30, then settled; spoke of her grandmother's garden"
PROCESS_SECRET = "My own unease when she cried"
#: the whole note, as its form posts it; "Sign and lock" adds SIGNING
NOTE = {"set_setting": "Dim light, eyeshades, her own playlist", "intention": "To meet the sadness",
        "observations": OBSERVED, "support_given": "Grounding by voice at minute 25",
        "reflections": "It was sad, but it was mine to feel", "integration_plan": "Start from the garden"}
SIGNING = {"then_sign": "1", "confirm_lock": "y"}


@pytest.fixture
def team(make):
    """An IM KAP course (a therapist present at each dose) with a dose given three days ago (its
    record saved, not yet signed), a nurse, a second therapist on the care team who was not at
    the dose and a third outside it; staff record releases. The prescriber records the dose in a client
    of their own; built once per day, worker and engine (reused_world)."""
    return todays_world(make.app, "dosing_note_team", lambda: _team(make))


def _team(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "nurse": make.user("nurse", username="nurse"), "staff": make.user("staff", username="desk"),
           "outsider": make.user("therapist", username="other"),
           "colleague": make.user("therapist", username="ther2", full_name="Ivo Second")}
    ids["patient"] = make.patient(family_name="Present", nurses=[ids["nurse"]], therapists=[ids["colleague"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience",
                                protocol="im-ketamine-kap")
    [ids["dose"]] = make.dosing_plan(ids["course"], first_start=local(3), days_between=7, count=1)
    record_dose(make, Auth(make.app, make.app.test_client()), ids)
    return ids


def _dose(make, dose_id) -> DosingSession:
    return make.query(lambda: db.session.get(DosingSession, dose_id))


def record_dose(make, auth, team, *, sign=False, **overrides):
    """The prescriber records the dose as given (IM, 0.5 mg/kg, three days ago), and signs it if asked."""
    auth.sign_in("pres")
    data = _record_data(_dose(make, team["dose"]), team["prescriber"], route="im", **overrides)
    saved = auth.post(f"/dosing/{team['dose']}", data)
    assert saved.status_code == 302, page_text(saved)[-600:]
    if sign:
        signed = auth.post(f"/dosing/{team['dose']}/sign", {"version": str(_dose(make, team["dose"]).version)})
        assert signed.status_code == 302 and _dose(make, team["dose"]).status == "signed", page_text(signed)[-600:]
    auth.logout()


def _start(auth, dose_id):
    return auth.post(f"/dosing/{dose_id}/note", {})


def _started(make, auth, team) -> int:
    response = _start(auth, team["dose"])
    assert response.status_code == 302, page_text(response)
    return int(re.search(r"/notes/(\d+)$", response.headers["Location"]).group(1))


def _note(make, note_id) -> SessionNote:
    return make.query(lambda: db.session.get(SessionNote, note_id))


def _write(make, auth, team, **overrides) -> int:
    note_id = _started(make, auth, team)
    response = auth.post(f"/notes/{note_id}", {"version": str(_note(make, note_id).version), **NOTE, **SIGNING,
                                               **overrides})
    assert response.status_code == 302, page_text(response)
    return note_id


def _notes(make) -> list[SessionNote]:
    return make.query(lambda: db.session.scalars(select(SessionNote).order_by(SessionNote.id)).all())


def test_the_therapist_writes_and_signs_the_note_of_a_dose_from_its_record(team, make, auth, client):
    auth.sign_in("ther")
    record = page_text(client.get(f"/dosing/{team['dose']}"))
    assert "No dosing-session note yet." in record and "Write the dosing-session note" in record
    note_id = _started(make, auth, team)
    form = page_text(client.get(f"/notes/{note_id}"))
    assert "Dosing session 1" in form and "Set and setting: how they were prepared" in form
    # the box confirming the lock is ticked, but the reflections are missing: saved, not signed
    partial = auth.post(f"/notes/{note_id}", {"version": "1", **NOTE, "reflections": "", **SIGNING})
    assert partial.status_code == 200 and "Signing needs the patient's immediate reflections" in page_text(partial)
    assert _note(make, note_id).status == "draft" and _note(make, note_id).content["observations"] == OBSERVED
    signed = auth.post(f"/notes/{note_id}", {"version": str(_note(make, note_id).version), **NOTE, **SIGNING})
    assert signed.status_code == 302
    note = _note(make, note_id)
    dose_day = local(3).date()
    assert (note.kind, note.status, note.dosing_session_id, note.session_date) == \
        ("dosing", "signed", team["dose"], dose_day)
    assert dict(make.query(verify_signed_notes))[note_id] is True   # the digest covers the dose it documents
    # locked: a save is refused; one note per dose: a second is refused, naming the first
    assert auth.post(f"/notes/{note_id}", {"version": str(note.version), **NOTE}).status_code == 303
    again = _start(auth, team["dose"])
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/dosing/{team['dose']}#dosing-note")
    assert "has its note already, by Hazel Quint" in page_text(client.get(f"/dosing/{team['dose']}"))
    assert len(_notes(make)) == 1
    [created] = make.audit_rows(action="note.create", outcome="success")
    assert created.object_id == str(note_id) and created.detail == "dosing session 1"


def test_a_discarded_draft_gives_way_to_a_new_note_of_the_same_dose(team, make, auth):
    auth.sign_in("ther")
    first = _started(make, auth, team)
    assert auth.post(f"/notes/{first}/discard", {"discard-confirm": "y", "discard-version": "1"}).status_code == 302
    second = _write(make, auth, team)
    assert [(n.id, n.dosing_session_id, n.discarded_at is not None) for n in _notes(make)] == \
        [(first, team["dose"], True), (second, team["dose"], False)]


@pytest.mark.parametrize("username, status", [
    ("pres", 403),      # a prescriber reads the note, never writes one (notes.write)
    ("nurse", 403),     # a nurse records the dose and reads no notes
    ("desk", 403),      # staff schedule; they write no notes
    ("other", 403),     # a therapist who is not on the patient's care team
])
def test_only_a_therapist_on_the_care_team_starts_the_note(team, make, auth, username, status):
    auth.sign_in(username)
    assert _start(auth, team["dose"]).status_code == status
    assert _notes(make) == []


def test_a_protocol_without_a_therapist_at_dosing_has_no_dosing_note(team, make, auth, client):
    iv = make.course(make.patient(family_name="Infused"), team["therapist"], team["prescriber"], phase="experience")
    [dose] = make.dosing_plan(iv, first_start=local(3, 14), days_between=2, count=1)
    auth.sign_in("ther")
    assert "Dosing-session note" not in page_text(client.get(f"/dosing/{dose}"))
    refused = _start(auth, dose)
    assert refused.status_code == 302 and _notes(make) == []
    message = page_text(client.get(f"/dosing/{dose}"))
    assert "IV ketamine induction series has no therapist present at dosing (experience.therapist_present)" in message
    assert [r.detail for r in make.audit_rows(action="note.create", outcome="failure")] == \
        ["dosing-session note refused"]


def test_a_dose_still_ahead_has_no_note_yet(team, make, auth, client):
    [ahead] = make.dosing_plan(team["course"], first_start=local(-4), days_between=7, count=1)
    auth.sign_in("ther")
    record = page_text(client.get(f"/dosing/{ahead}"))
    assert "No dosing-session note yet." in record and "Write the dosing-session note" not in record
    assert _start(auth, ahead).status_code == 302 and _notes(make) == []
    assert "documents a session that has taken place" in page_text(client.get(f"/dosing/{ahead}"))


def test_the_record_links_the_note_for_those_who_read_notes(team, make, auth, client):
    auth.sign_in("ther")
    note_id = _write(make, auth, team)
    auth.logout()
    auth.sign_in("pres")
    record = client.get(f"/dosing/{team['dose']}").get_data(as_text=True)
    assert f'href="/notes/{note_id}"' in record and "Dosing-session note by Hazel Quint, signed" in page_text(
        client.get(f"/dosing/{team['dose']}"))
    assert "Write the dosing-session note" not in record
    assert OBSERVED in page_text(client.get(f"/notes/{note_id}"))     # the care team's prescriber reads it
    auth.logout()
    auth.sign_in("nurse")
    record = client.get(f"/dosing/{team['dose']}")
    assert record.status_code == 200 and "Dosing-session note" not in page_text(record)
    assert client.get(f"/notes/{note_id}").status_code == 403


def test_a_dose_not_recorded_as_given_has_no_note(team, make, auth, client):
    """Review of issue 20: a dose planned three days ago and never recorded (the prescriber's
    worklist calls it overdue) had a signed note of "what I observed during the session"."""
    course = make.course(make.patient(family_name="Unrecorded"), team["therapist"], team["prescriber"],
                         phase="experience", protocol="im-ketamine-kap")
    [dose] = make.dosing_plan(course, first_start=local(3, 14), days_between=7, count=1)
    auth.sign_in("ther")
    record = page_text(client.get(f"/dosing/{dose}"))
    assert "No dosing-session note yet." in record and "Write the dosing-session note" not in record
    refused = _start(auth, dose)
    assert refused.status_code == 302 and _notes(make) == []
    assert ("A dosing-session note documents a dose that was given: start it once the dosing record says when "
            "dosing started.") in page_text(client.get(f"/dosing/{dose}"))


def test_a_note_is_signed_only_while_its_dose_stands_as_given(team, make, auth):
    """The draft was started while the dose stood recorded; the dose was then cancelled (its record
    was entered in error): signing is refused, the text kept."""
    auth.sign_in("ther")
    note_id = _started(make, auth, team)
    auth.logout()
    auth.sign_in("pres")
    assert auth.post(f"/dosing/{team['dose']}/cancel", {"reason": "Recorded on the wrong day; not given"}
                     ).status_code == 302
    assert _dose(make, team["dose"]).status == "cancelled"
    auth.logout()
    auth.sign_in("ther")
    refused = auth.post(f"/notes/{note_id}", {"version": str(_note(make, note_id).version), **NOTE, **SIGNING})
    assert refused.status_code == 200
    assert "This dosing session was cancelled: there is no session to document." in page_text(refused)
    note = _note(make, note_id)
    assert note.status == "draft" and note.content["observations"] == OBSERVED


def test_a_dose_its_signed_note_documents_is_neither_cancelled_nor_moved(team, make, auth, client):
    """Review of issue 20: after the note was signed, the prescriber cancelled or moved the dose and
    the signed note went on describing a session that, by the record, never happened then."""
    auth.sign_in("ther")
    note_id = _write(make, auth, team)
    auth.logout()
    auth.sign_in("pres")
    before = make.query(lambda: tuple(getattr(db.session.get(DosingSession, team["dose"]), column) for column in (
        "status", "planned_start", "started_at", "version")))
    cancel = auth.post(f"/dosing/{team['dose']}/cancel", {"reason": "Patient never came; dose not given"},
                       follow_redirects=True)
    assert ("Dosing session 1 cannot be cancelled: a signed dosing-session note documents it as given. If that is "
            "wrong, the note's author corrects it with an addendum.") in page_text(cancel)
    ahead = local(-5)
    move = auth.post(f"/dosing/{team['dose']}/reschedule", {"planned_start": form_time(ahead),
                                                            "reason": "Missed; moved to next week"},
                     follow_redirects=True)
    assert "Dosing session 1 cannot be moved: a signed dosing-session note documents it as given." in page_text(move)
    cleared = auth.post(f"/dosing/{team['dose']}", _record_data(_dose(make, team["dose"]), team["prescriber"],
                                                                 route="im", started_at=""))
    assert cleared.status_code == 422
    assert "A signed dosing-session note documents this dose as given: keep when dosing started." in \
        page_text(cleared)
    after = make.query(lambda: tuple(getattr(db.session.get(DosingSession, team["dose"]), column) for column in (
        "status", "planned_start", "started_at", "version")))
    assert after == before and _note(make, note_id).status == "signed"
    assert [r.outcome for r in make.audit_rows(action="dosing.cancel")] == ["failure"]
    assert [r.outcome for r in make.audit_rows(action="dosing.reschedule")] == ["failure"]


def test_only_the_therapist_present_at_the_dose_writes_its_note(team, make, auth, client):
    """Review of issue 20: any therapist of the care team wrote and signed the note of a dose they
    were not at. The course's therapist is the one the protocol has present; the note says so."""
    auth.sign_in("ther2")                               # on the care team, not the course's therapist
    assert "Write the dosing-session note" not in page_text(client.get(f"/dosing/{team['dose']}"))
    assert _start(auth, team["dose"]).status_code == 302 and _notes(make) == []
    assert ("A dosing-session note is written by the therapist present at the dose: Hazel Quint, the course's "
            "therapist. Document what you learned from the patient in an integration note.") in \
        page_text(client.get(f"/dosing/{team['dose']}"))
    auth.logout()
    auth.sign_in("ther")
    note_id = _started(make, auth, team)
    present = "Written by Hazel Quint, present at the dose as the course's therapist."
    assert present in page_text(client.get(f"/notes/{note_id}"))
    assert auth.post(f"/notes/{note_id}", {"version": "1", **NOTE, **SIGNING}).status_code == 302
    assert _note(make, note_id).content["present"] == "course_therapist"          # signed with the note
    assert f"Present at the dose {present}" in " ".join(page_text(client.get(f"/notes/{note_id}")).split())


@pytest.mark.parametrize("monitored_by, therapist, user, expected", [
    (None, 1, 1, "course_therapist"),        # the course's therapist: present by the protocol
    (2, 1, 2, "monitoring"),                 # named on the record as monitoring (where the protocol allows)
    (2, 1, 1, "course_therapist"),           # the course's therapist, a colleague monitoring
    (None, 1, 3, None),                      # another therapist of the care team
    (4, 1, 3, None),                         # another, someone else monitoring
])
def test_who_was_present_at_a_dose(monitored_by, therapist, user, expected):
    from types import SimpleNamespace
    from ketamine_integration.notes.dosing_notes import presence
    session = SimpleNamespace(monitored_by_id=monitored_by, course=SimpleNamespace(therapist_id=therapist))
    assert presence(session, SimpleNamespace(id=user)) == expected


@pytest.mark.parametrize("blank", ["\u200b.", "—", "\ufeff\u2060"])
def test_a_dosing_note_that_shows_as_blank_is_not_signed(team, make, auth, blank):
    """Review of issue 20: zero-width characters and punctuation signed a dosing-session note."""
    auth.sign_in("ther")
    note_id = _started(make, auth, team)
    refused = auth.post(f"/notes/{note_id}", {"version": "1", **{key: blank for key in NOTE}, **SIGNING})
    assert refused.status_code == 200
    assert "Signing needs your observations during the session." in page_text(refused)
    assert _note(make, note_id).status == "draft"


def _preview(auth, team):
    response = auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["prescriber"])})
    assert response.status_code == 200
    return " ".join(page_text(response).split())


def test_the_prescribers_report_carries_the_note_only_under_a_release_that_permits_it(team, make, auth):
    record_dose(make, auth, team, sign=True)
    auth.sign_in("ther")
    note_id = _write(make, auth, team)
    assert auth.post(f"/notes/{note_id}/process", {"body": PROCESS_SECRET}).status_code == 302
    auth.logout()
    auth.sign_in("desk")
    release = {"recipient": str(team["prescriber"]), "recipient_name": "", "purpose": "Coordination of KAP",
               "effective_on": local(0).date().isoformat(), "expires_on": ""}
    assert auth.post(f"/patients/{team['patient']}/releases", {**release, "categories": ["dosing"]}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    withheld = _preview(auth, team)
    assert OBSERVED not in withheld and "Not permitted, so not included:" in withheld
    assert "Dosing-session notes (what the therapist present" in withheld.split("Not permitted, so not included:")[1]
    auth.logout()
    auth.sign_in("desk")
    assert auth.post(f"/patients/{team['patient']}/releases",
                     {**release, "categories": ["dosing", "dosing_notes"]}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    shared = _preview(auth, team)
    section = shared.split("Dosing-session notes", 2)[2]
    assert f"Session 1 — {local(3).date().isoformat()}, Hazel Quint" in section and OBSERVED in section
    assert "Grounding by voice at minute 25" in section and PROCESS_SECRET not in shared


def test_the_report_carries_notes_of_doses_given_only(team, make, auth):
    """Review of issue 20: the report's dosing-session notes were read whatever their dose's status;
    now a note shows with its dose's signed record, as the dosing section reads doses."""
    auth.sign_in("ther")
    _write(make, auth, team)
    auth.logout()
    auth.sign_in("desk")
    assert auth.post(f"/patients/{team['patient']}/releases", {
        "recipient": str(team["prescriber"]), "recipient_name": "", "purpose": "Coordination of KAP",
        "effective_on": local(0).date().isoformat(), "expires_on": "",
        "categories": ["dosing", "dosing_notes"]}).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert OBSERVED not in _preview(auth, team)                  # the dose's record is not signed yet
    auth.logout()
    record_dose(make, auth, team, sign=True)
    auth.sign_in("ther")
    assert OBSERVED in _preview(auth, team)


@pytest.mark.both_engines  # the database's own guards (migration 0031), whatever code path writes
def test_the_database_keeps_a_dosing_note_on_its_dose(team, make, auth):
    auth.sign_in("ther")
    note_id = _started(make, auth, team)
    [other] = make.dosing_plan(team["course"], first_start=local(-10), days_between=7, count=1)

    def attempt(statement, **values):
        with auth.app.app_context():
            try:
                db.session.execute(text(statement), values)
                db.session.commit()
                return None
            except DBAPIError as err:
                db.session.rollback()
                return str(err.orig)
    assert "never changes" in attempt("UPDATE session_notes SET dosing_session_id = :d WHERE id = :n",
                                      d=other, n=note_id)
    assert "dosing_note_names_its_session" in attempt("UPDATE session_notes SET kind = 'integration' WHERE id = :n",
                                                      n=note_id)
    insert = ("INSERT INTO session_notes (course_id, patient_id, kind, session_date, author_id, status, content, "
              "created_at, updated_at, version, dosing_session_id) VALUES (:c, :p, :k, :day, :a, 'draft', '{}', "
              ":at, :at, 1, :d)")
    values = dict(c=team["course"], p=team["patient"], day=local(3).date(), a=team["therapist"],
                  at=local(0) - timedelta(hours=1))
    assert "dosing_note_names_its_session" in attempt(insert, k="dosing", d=None, **values)
    # a second live note of the same dose (PostgreSQL names the index, SQLite the column)
    duplicate = attempt(insert, k="dosing", d=team["dose"], **values)
    assert "uq_session_notes_dosing_session_id" in duplicate or "session_notes.dosing_session_id" in duplicate
    assert "known_kind" in attempt(insert, k="intake", d=None, **values)
    assert _note(make, note_id).dosing_session_id == team["dose"]


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_has_a_kap_course_with_a_signed_dosing_session_note(app, make):
    from ketamine_integration.courses.models import PreparationRecord, TreatmentCourse
    from ketamine_integration.courses.services import course_facts

    def inspect():
        notes = db.session.scalars(select(SessionNote).where(SessionNote.kind == "dosing")).all()
        dosing = [(n.status, n.course.protocol_version.protocol_id, n.dosing_session.status,
                   n.author_id == n.course.therapist_id, n.session_date) for n in notes]
        past_preparation = db.session.scalars(select(TreatmentCourse).where(
            TreatmentCourse.phase.not_in(["preparation"]))).all()
        sessions = {course_facts(c).signed_preparation_sessions for c in past_preparation}
        ticked = db.session.scalars(select(PreparationRecord.item).where(PreparationRecord.item.in_(
            ["preparation_session", "intention_setting", "set_and_setting_plan", "support_person"]))).all()
        return dosing, sessions, ticked
    dosing, sessions, ticked = make.query(inspect)
    assert [d[:4] for d in dosing] == [("signed", "im-ketamine-kap", "signed", True)]
    assert 0 not in sessions and ticked == []      # preparation met by signed notes, never by ticks
