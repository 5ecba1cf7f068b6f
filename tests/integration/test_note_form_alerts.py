"""The patient's open safety alerts on the integration note form (issue 23): beside the risk screen,
whatever raised them (a questionnaire the patient completed in the portal, a clinician's entry, a
note's risk screen), with what raised them, when, and a way to acknowledge them that comes back to
the draft; another patient's never; the same statements however many there are."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today, format_local
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SafetyAlert
from ketamine_integration.notes.services import record_measure
from tests.conftest import page_text
from tests.integration.test_notes import TODAY, _integration_data, _start, _version, make_team
from tests.integration.test_patient_questionnaires import PHQ9_ITEM9, _submit
from tests.statements import page_statements

ACKNOWLEDGED = "Called the patient, safety plan reviewed, prescriber told."


@pytest.fixture
def team(make):
    return make_team(make)


def _portal_alert(make, patient_id: int, course_id: int) -> int:
    """A PHQ-9 with item 9 answered 2, completed by the patient in the portal (for a moment the
    schedule lacks: a safety answer is stored and alerts all the same); the alert's id."""
    response_id = _submit(make, patient_id, "phq9", PHQ9_ITEM9, f"{course_id}/follow_up:30", utcnow())
    return make.query(lambda: db.session.scalar(select(SafetyAlert.id).where(
        SafetyAlert.measure_response_id == response_id)))


def _clinician_alert(make, course_id: int, by: int) -> int:
    """A PHQ-9 with item 9 answered 3, recorded by a clinician; the alert's id."""
    def record():
        today = clinic_today()
        response = record_measure(db.session.get(TreatmentCourse, course_id), measure="phq9", answers=[0] * 8 + [3],
                                  difficulty=None, administered_on=today, by=db.session.get(User, by), today=today)
        return db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.measure_response_id == response.id))
    return make.run(record)


def _alert_links(page: str) -> set[int]:
    return {int(found) for found in re.findall(r"#alert-(\d+)", page)}


def test_the_note_form_shows_the_patients_open_alerts_beside_the_risk_screen(team, make, auth, client):
    portal = _portal_alert(make, team["patient"], team["course"])
    # another patient of the same therapist, with an alert of their own: never on this note
    other = make.patient(family_name="Elsewhere")
    other_course = make.course(other, team["therapist"], team["prescriber"], phase="integration")
    elsewhere = _portal_alert(make, other, other_course)
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    response = client.get(f"/notes/{note}")
    html, text = response.get_data(as_text=True), page_text(response)
    raised = make.query(lambda: format_local(db.session.get(SafetyAlert, portal).raised_at))
    assert "Testa Noted has 1 open safety alert: see it beside the risk screen" in text
    assert ("1 open safety alert: assess the risk PHQ-9 item 9 (thoughts of self-harm) answered 2 "
            f"Measure (completed by the patient in the portal); raised {raised}") in text
    # beside the risk screen: inside its section, before its first question
    risk = html[html.index('id="note-risk"'):]
    assert risk.index("assess the risk") < risk.index("Risk screen: thoughts of self-harm")
    assert f'/courses/{team["course"]}/measures?from_note={note}#alert-{portal}' in html
    assert _alert_links(html) == {portal} and elsewhere not in _alert_links(html)


def test_every_source_shows_and_a_risk_screen_alert_names_this_note(team, make, auth, client):
    auth.sign_in("ther")
    earlier = _start(auth, team["course"])
    assert auth.post(f"/notes/{earlier}", _integration_data(_version(make, earlier), self_harm_thoughts="yes",
                                                            self_harm_intent="no")).status_code == 302
    by_clinician = _clinician_alert(make, team["course"], team["therapist"])
    by_patient = _portal_alert(make, team["patient"], team["course"])
    screen = make.query(lambda: db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.session_note_id == earlier)))
    # the earlier draft's own form names its risk screen; the new note's gives that note's date
    page = client.get(f"/notes/{earlier}")
    assert _alert_links(page.get_data(as_text=True)) == {by_clinician, by_patient, screen}
    text = page_text(page)
    assert "3 open safety alerts: assess the risk" in text
    assert "Risk screen: thoughts of self-harm reported Therapist's risk screen, this note's own risk screen; raised" in text
    assert "answered 3 Measure; raised" in text   # a clinician's entry: no portal words
    assert "answered 2 Measure (completed by the patient in the portal); raised" in text
    later = page_text(client.get(f"/notes/{_start(auth, team['course'])}"))
    assert f"Therapist's risk screen, note of {TODAY.isoformat()}; raised" in later


def test_acknowledging_from_the_note_comes_back_to_the_draft(team, make, auth, client):
    alert = _portal_alert(make, team["patient"], team["course"])
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    measures = client.get(f"/courses/{team['course']}/measures?from_note={note}").get_data(as_text=True)
    assert f'<input type="hidden" name="from_note" value="{note}">' in measures
    assert f'<input type="hidden" name="from_note"' not in client.get(
        f"/courses/{team['course']}/measures?from_note=x1").get_data(as_text=True)
    # refused (too short): nothing changes, the measures page says why
    refused = auth.post(f"/alerts/{alert}/acknowledge", {"note": "ok", "from_note": str(note)})
    assert refused.headers["Location"].endswith(f"/courses/{team['course']}/measures")
    assert make.query(lambda: db.session.get(SafetyAlert, alert).acknowledged_at) is None
    done = auth.post(f"/alerts/{alert}/acknowledge", {"note": ACKNOWLEDGED, "from_note": str(note)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/notes/{note}#note-risk")
    assert make.query(lambda: db.session.get(SafetyAlert, alert).acknowledgement) == ACKNOWLEDGED
    page = page_text(client.get(f"/notes/{note}"))
    assert "open safety alert" not in page and "Risk screen: thoughts of self-harm" in page


@pytest.mark.both_engines  # SQL statement counts
def test_the_note_form_runs_the_same_statements_however_many_alerts(team, make, auth, app, client):
    _portal_alert(make, team["patient"], team["course"])
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    one = page_statements(app, client, f"/notes/{note}")
    _portal_alert(make, team["patient"], team["course"])
    _clinician_alert(make, team["course"], team["therapist"])
    assert len(_alert_links(client.get(f"/notes/{note}").get_data(as_text=True))) == 3
    assert page_statements(app, client, f"/notes/{note}") == one
