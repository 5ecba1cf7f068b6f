"""No double entry (issue 20, point 10): the course's approach (host theory, techniques, practices)
is kept once, in the case formulation, and each new integration note starts from it (editable on
the note); the preparation checklist reads the signed preparation notes (the sessions, and the
intentions, set-and-setting plan and support person they document) instead of ticks."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from ketamine_integration.courses.models import PreparationRecord
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import CaseFormulation, SessionNote
from tests.clinic_day import follows_the_day
from tests.conftest import page_text, todays_world
from tests.integration.test_courses import sign_preparation_note

TODAY = follows_the_day(globals(), "TODAY", date.today)
SIGNING = {"then_sign": "1", "confirm_lock": "y"}
APPROACH = {"host_theory": "act", "techniques-0-technique": "Chair work",
            "techniques-0-rationale": "The rupture with her father", "practices": ["journaling", "nature"]}


@pytest.fixture
def team(make):
    """A course in integration and another patient's course in preparation, one therapist and prescriber.
    Built once per day, worker and engine (reused_world) and loaded from its snapshot after."""
    return todays_world(make.app, "no_double_entry", lambda: _team_world(make))


def _team_world(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale")}
    ids["patient"] = make.patient(family_name="Formulated")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    ids["preparing"] = make.course(make.patient(family_name="Preparing"), ids["therapist"], ids["prescriber"],
                                   protocol="im-ketamine-kap")
    return ids


def _new_note(auth, course_id) -> int:
    response = auth.post(f"/courses/{course_id}/notes", {"note-kind": "integration",
                                                         "note-session_date": TODAY.isoformat()})
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _carried(html: str) -> dict:
    """What the note form shows in the approach fields (the host theory comes from the treatment
    plan since issue 24 point 3: the note form has no host theory field)."""
    technique = re.search(r'<select[^>]*name="techniques-0-technique"[^>]*>.*?</select>', html, re.S).group(0)
    return {"host_theory": 'name="host_theory"' in html,
            "technique": "".join(re.findall(r'<option selected value="([^"]*)"', technique)),
            "practices": re.findall(r'<input checked[^>]*name="practices"[^>]*value="([^"]*)"', html)}


def test_each_new_note_starts_from_the_formulations_approach_and_changes_only_itself(team, make, auth, client):
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/formulation", {"strengths": "Humour", "revision": "0",
                                                                **APPROACH}).status_code == 302
    page = page_text(client.get(f"/courses/{team['course']}/formulation"))
    assert "Host theory Acceptance and commitment (ACT)" in " ".join(page.split())
    assert "Chair work: The rupture with her father" in page
    first = _new_note(auth, team["course"])
    html = client.get(f"/notes/{first}").get_data(as_text=True)
    # the formulation's free-text technique names one of the vocabulary: the note starts with it chosen;
    # the host theory is not asked on the note (it comes from the treatment plan)
    assert _carried(html) == {"host_theory": False, "technique": "chair-work", "practices": ["journaling", "nature"]}
    assert "filled in from the" in page_text(client.get(f"/notes/{first}")).lower()
    # this session's practices changed on the note, signed; the formulation stays as it was; a host
    # theory posted anyway is not stored on the note
    signed = auth.post(f"/notes/{first}", {
        "session_date": TODAY.isoformat(), "version": "1", "stood_out": "The kitchen again", "self_harm_thoughts": "no",
        **APPROACH, "techniques-0-technique": "chair-work", "practices": ["journaling"], "host_theory": "cbt",
        **SIGNING})
    assert signed.status_code == 302
    assert make.query(lambda: db.session.get(SessionNote, first).content["practices"]) == ["journaling"]
    assert "host_theory" not in make.query(lambda: db.session.get(SessionNote, first).content)
    assert make.query(lambda: [f.content["practices"] for f in db.session.scalars(select(CaseFormulation))]) == \
        [["journaling", "nature"]]
    second = _new_note(auth, team["course"])
    assert _carried(client.get(f"/notes/{second}").get_data(as_text=True))["practices"] == ["journaling", "nature"]
    # once the author has saved the draft, it holds what they kept: a cleared choice is not filled again
    assert auth.post(f"/notes/{second}", {"session_date": TODAY.isoformat(), "version": "1"}).status_code == 302
    assert _carried(client.get(f"/notes/{second}").get_data(as_text=True)) == \
        {"host_theory": False, "technique": "", "practices": []}


def test_a_note_without_a_formulation_points_to_it(team, make, auth, client):
    auth.sign_in("ther")
    note = _new_note(auth, team["course"])
    page = page_text(client.get(f"/notes/{note}"))
    assert "Record the course's techniques and practices once in the case formulation" in page
    assert "from the treatment plan, once the course has a signed one" in page


@pytest.mark.parametrize("overrides, field_message", [
    # a rationale whose technique is not named is refused on its row, never dropped
    ({"techniques-1-technique": "", "techniques-1-rationale": "Settling after strong emotion"},
     "Name the technique this rationale is for."),
    # only the listed host theories
    ({"host_theory": "astrology"}, "Not a valid choice"),
])
def test_the_approach_is_checked_and_a_refusal_saves_nothing(team, make, auth, overrides, field_message):
    auth.sign_in("ther")
    refused = auth.post(f"/courses/{team['course']}/formulation", {"revision": "0", **APPROACH, **overrides})
    assert refused.status_code == 422 and field_message in page_text(refused)
    assert make.query(lambda: db.session.scalars(select(CaseFormulation)).all()) == []


def _tick(auth, course_id, item):
    return auth.post(f"/courses/{course_id}/preparation", {"item": item, "completed_on": TODAY.isoformat(),
                                                          "note": "done in session"})


def _checklist(client, course_id) -> str:
    page = " ".join(page_text(client.get(f"/courses/{course_id}")).split())
    return page.split("Preparation checklist", 1)[1]


@pytest.mark.parametrize("item, message", [
    ("preparation_session", "Signed preparation sessions are not ticked: write the preparation session's note"),
    ("intention_setting", "Intention setting is not ticked: it is met by a signed preparation note with the "
                          "patient's intentions"),
    ("set_and_setting_plan", "Set-and-setting plan is not ticked: it is met by a signed preparation note with a "
                             "set and setting plan"),
    ("informed_consent", "Informed consent is not ticked: it is met when the patient has signed the course's "
                         "consent forms"),
    ("intake_assessment", "Intake assessment is not ticked: it is met when the patient has signed the course's "
                          "intake forms"),
])
def test_what_a_signed_preparation_note_proves_is_never_ticked(team, make, auth, client, item, message):
    auth.sign_in("ther")
    refused = _tick(auth, team["preparing"], item)
    assert refused.status_code == 422 and message in " ".join(page_text(refused).split())
    assert make.query(lambda: db.session.scalars(select(PreparationRecord)).all()) == []
    offered = re.search(r'<select[^>]*name="item"[^>]*>.*?</select>',
                        client.get(f"/courses/{team['preparing']}").get_data(as_text=True), re.S).group(0)
    # what is still ticked is offered (the consent and intake are met by signed forms: issue 26)
    assert f'value="{item}"' not in offered and 'value="medical_clearance"' in offered
    [row] = make.audit_rows(action="preparation.record")
    assert (row.outcome, row.detail) == ("failure", "refused")


def test_the_checklist_reads_the_signed_preparation_notes(team, make, auth, client):
    auth.sign_in("ther")
    course = team["preparing"]
    checklist = _checklist(client, course)
    assert "Signed preparation session 0 of 1 needed" in checklist
    assert "Intention setting Not yet documented: no signed preparation note with the patient's intentions" in checklist
    assert "0 of 1 signed preparation" in page_text(client.get(f"/courses/{course}"))   # the phase gate
    # a draft documents nothing yet
    draft = auth.post(f"/courses/{course}/notes", {"note-kind": "preparation", "note-session_date": TODAY.isoformat()})
    assert draft.status_code == 302 and "0 of 1 needed" in _checklist(client, course)
    sign_preparation_note(auth, course)
    checklist = _checklist(client, course)
    signed_by = f"preparation note of {TODAY.isoformat()}, signed by Hazel Quint"
    assert f"Signed preparation session 1 of 1 needed: {signed_by}" in checklist
    assert f"Intention setting Documented: {signed_by}" in checklist
    assert "Set-and-setting plan Not yet documented" in checklist          # that note had no plan
    sign_preparation_note(auth, course, set_setting_plan="Eyeshades, own playlist; her sister drives home")
    checklist = _checklist(client, course)
    assert "Signed preparation session 2 of 1 needed" in checklist
    assert f"Set-and-setting plan Documented: {signed_by}" in checklist
    # the phase gate counts the same notes
    assert "of 1 signed preparation" not in page_text(client.get(f"/courses/{course}"))


@pytest.mark.parametrize("blank", [
    "\u200b\u200b",            # zero-width spaces
    ".",                        # punctuation alone
    "—",
    "\ufeff…\u2060",            # a byte-order mark, an ellipsis, a word joiner
])
def test_text_that_shows_as_blank_documents_no_checklist_item(team, make, auth, client, blank):
    """Review of issue 20: a plan or intention of zero-width characters or punctuation ticked the
    items feeding the phase gate. The one written-text rule (domain.text.is_written) decides."""
    auth.sign_in("ther")
    course = team["preparing"]
    sign_preparation_note(auth, course, set_setting_plan=blank)
    checklist = _checklist(client, course)
    assert "Signed preparation session 1 of 1 needed" in checklist          # the session itself was held
    assert "Intention setting Documented" in checklist
    assert "Set-and-setting plan Not yet documented" in checklist
    # intentions that show as blank do not sign the note at all: the text is kept in the draft
    started = auth.post(f"/courses/{course}/notes", {"note-kind": "preparation",
                                                     "note-session_date": TODAY.isoformat()})
    note_id = int(started.headers["Location"].rsplit("/", 1)[1])
    refused = auth.post(f"/notes/{note_id}", {"session_date": TODAY.isoformat(), "version": "1", "readiness": "ready",
                                             "intentions": f"{blank}\n{blank}", "set_setting_plan": "Eyeshades",
                                             **SIGNING})
    assert refused.status_code == 200 and "Signing needs at least one intention" in page_text(refused)
    assert make.query(lambda: db.session.get(SessionNote, note_id).status) == "draft"


def test_a_tick_from_before_counts_no_more(team, make, auth, client):
    course = team["preparing"]

    def tick_as_before():
        db.session.add(PreparationRecord(course_id=course, item="preparation_session", completed_on=TODAY,
                                         note="Signed preparation note #0", recorded_by_id=team["therapist"]))
    make.run(tick_as_before)
    auth.sign_in("ther")
    checklist = _checklist(client, course)
    assert "Signed preparation session 0 of 1 needed" in checklist
    assert "entered before this item was read from the signed preparation notes" in checklist
