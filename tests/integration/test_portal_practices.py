"""The portal's Practices and Action steps pages (issue 23, points 5 and 6): a patient logs practices
and checks in on action steps through the pages; the therapist sees the logs' adherence on the
course page and in the next draft note, and the check-ins in the next note's check-in rows. Bad
input is refused on its field (422), changes nothing and keeps what was typed; another patient's
assignment or step is 404; text typed when the session timed out is offered back."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ActionStep
from ketamine_integration.notes.patient_check_ins import PatientStepCheckIn
from ketamine_integration.portal.models import PortalKeptText, PortalSession
from ketamine_integration.practices.models import PracticeLog
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_notes import _start, _write_and_sign, make_team
from tests.integration.test_practices import _assign, _today

D = timedelta(days=1)
OBSTACLE = "Rain all afternoon"


@pytest.fixture
def team(make):
    """test_notes.make_team's clinic, its course begun four weeks ago (as test_practices.py's), and the
    patient's portal account, enrolled. Built once per worker, day and engine and loaded from its snapshot
    for the tests after (tests.conftest.reused_world)."""
    return todays_world(make.app, "portal_practices_team", lambda: _team(make))


def _team(make) -> dict:
    from ketamine_integration.courses.models import TreatmentCourse
    ids = make_team(make)

    def begun_earlier():
        db.session.get(TreatmentCourse, ids["course"]).start_date -= 28 * D
    make.run(begun_earlier)
    ids["account"] = make.portal_account(ids["patient"])
    return ids


def _patient(app, account_id: int) -> tuple[object, Auth]:
    client = app.test_client()
    patient = Auth(app, client)
    patient.portal_sign_in(account_id)
    return client, patient


def _count(make, model) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def _step_of(make, note_id) -> int:
    return make.query(lambda: db.session.scalar(select(ActionStep.id).where(ActionStep.note_id == note_id)))


def _log_data(day, outcome="done", note="") -> dict:
    return {"outcome": outcome, "for_date": day.isoformat(), "note": note}


def test_a_patient_logs_practices_on_the_page_and_the_therapist_sees_the_adherence(team, make, auth, client, app):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)  # movement, 3 times a week, from 14 days ago
    browser, patient = _patient(app, team["account"])
    page = browser.get("/portal/practices/")
    text = page_text(page)
    assert page.status_code == 200
    assert "Movement" in text and "3 times a week" in text and "A walk counts; ten minutes is enough." in text
    assert "Nothing logged yet." in text and "Adherence" not in text
    assert re.search(r'<a href="/portal/practices/"[^>]*>Practices</a>', page.get_data(as_text=True))
    assert '<a href="/portal/steps/">Action steps</a>' in page.get_data(as_text=True)
    # the days offered: today back to 14 days ago, the practice's first day
    html = page.get_data(as_text=True)
    assert f'value="{today.isoformat()}"' in html and f'value="{(today - 14 * D).isoformat()}"' in html
    assert f'value="{(today - 15 * D).isoformat()}"' not in html and "Today, " in html
    # week 1 three done, week 2 one done and one partly: 4.5 of the 6 expected in the weeks that are over
    for n, outcome in ((0, "done"), (2, "done"), (4, "done"), (7, "done"), (9, "partly")):
        response = patient.post(f"/portal/practices/{assignment}", _log_data(
            today - 14 * D + n * D, outcome, OBSTACLE if outcome == "partly" else ""))
        assert response.status_code == 302, page_text(response)[-600:]
        assert response.headers["Location"] == f"/portal/practices/#practice-{assignment}"
    assert "Logged: Movement, " in page_text(browser.get("/portal/practices/"))
    logs = make.query(lambda: db.session.scalars(select(PracticeLog).order_by(PracticeLog.id)).all())
    assert [(log.outcome, log.patient_id) for log in logs] == [("done", team["patient"])] * 4 + [
        ("partly", team["patient"])]
    rows = make.audit_rows(action="practice.log")
    assert len(rows) == 5 and {(r.portal_account_id, r.user_id, r.patient_id) for r in rows} == {
        (team["account"], None, team["patient"])}
    text = page_text(browser.get("/portal/practices/"))
    assert "Your logs so far: 4 done, 1 partly." in text
    partly = today - 5 * D  # named by its weekday and date, the month as written: "Sunday 29 November"
    assert f"{partly:%A} {partly.day} {partly:%B}{'' if partly.year == today.year else f' {partly.year}'}: " \
           f"Partly. “{OBSTACLE}”" in text
    # the therapist: the course page and the next draft note
    course = page_text(client.get(f"/courses/{team['course']}"))
    assert "Adherence: 75% (4.5 of 6 expected): 4 done, 1 partly, 0 not done." in course and f"“{OBSTACLE}”" in course
    note = page_text(client.get(f"/notes/{_start(auth, team['course'])}"))
    assert "Adherence: 75% (4.5 of 6 expected)" in note and f"“{OBSTACLE}”" in note


def test_a_patient_checks_in_on_a_step_and_the_therapists_next_note_shows_it(team, make, auth, client, app):
    auth.sign_in("ther")
    signed = _write_and_sign(make, auth, team)
    step = _step_of(make, signed)
    today = _today(make)
    browser, patient = _patient(app, team["account"])
    text = page_text(browser.get("/portal/steps/"))
    assert "Walk by the river" in text and "3 times a week" in text and "None yet." in text
    # nothing else of the signed note: not its review, insights, themes or the linked insight
    for private in ("A sense of floating", "I can rest without earning it", "my chest finally unclenched",
                    "Rest is allowed", "Safety in the body", "Grief, then relief"):
        assert private not in text
    response = patient.post(f"/portal/steps/{step}", {"progress": "partly", "for_date": today.isoformat(),
                                                      "obstacles": "  Rain on two of the days  "})
    assert response.status_code == 302 and response.headers["Location"] == f"/portal/steps/#step-{step}"
    text = page_text(browser.get("/portal/steps/"))
    assert "Checked in: today — partly." in text and "Today: Partly. “Rain on two of the days”" in text
    [row] = make.audit_rows(action="step_check_in.record")
    assert (row.portal_account_id, row.patient_id, row.outcome) == (team["account"], team["patient"], "success")
    # the therapist's next note, beside the step's check-in row
    note = page_text(client.get(f"/notes/{_start(auth, team['course'])}"))
    assert f"The patient's check-ins since the last note, in their words: {today.isoformat()}: Partly — " \
           "“Rain on two of the days”" in note


def _refused_on(response, field: str, message: str, prefix: str) -> None:
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{prefix}-{field}-error"' in html, page_text(response)[-600:]
    assert message in page_text(response)
    assert "nothing was saved" in page_text(response)


@pytest.mark.parametrize("data, field, message", [
    ({"outcome": ""}, "outcome", "Choose done, partly or not done."),                      # none chosen
    ({"outcome": "maybe"}, "outcome", "Choose done, partly or not done."),                 # not a choice
    ({"for_date": ""}, "for_date", "Choose the day this is for."),                        # no day
    ({"for_date": "last tuesday"}, "for_date", "Choose one of the days in the list."),    # not a day
    ({"for_date": "2026-02-30"}, "for_date", "Choose one of the days in the list."),      # no such day
    ({"for_date": 1}, "for_date", "Choose today or an earlier day"),                      # tomorrow
    ({"for_date": -20}, "for_date", "Log a day within the last 14 days."),                # too long ago
    ({"note": "x" * 501}, "note", "500 characters"),                                       # too long
])
def test_a_log_the_rules_refuse_is_shown_on_its_field_and_changes_nothing(team, make, auth, app, data, field,
                                                                          message):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team, **{"assign-ends_on": (today + 13 * D).isoformat()})
    _, patient = _patient(app, team["account"])
    if isinstance(data.get("for_date"), int):
        data = {**data, "for_date": (today + data["for_date"] * D).isoformat()}
    typed = {**_log_data(today, note="The bus was late and I went home"), **data}
    response = patient.post(f"/portal/practices/{assignment}", typed)
    _refused_on(response, field, message, f"practice-{assignment}")
    if field != "note":
        assert "The bus was late and I went home</textarea>" in response.get_data(as_text=True)  # kept
    assert _count(make, PracticeLog) == 0
    [row] = make.audit_rows(action="practice.log")
    assert (row.outcome, row.patient_id, row.portal_account_id) == ("failure", team["patient"], team["account"])
    assert "bus" not in (row.detail or "")


def test_a_weekly_practice_is_logged_once_a_day(team, make, auth, app):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)
    _, patient = _patient(app, team["account"])
    assert patient.post(f"/portal/practices/{assignment}", _log_data(today)).status_code == 302
    again = patient.post(f"/portal/practices/{assignment}", _log_data(today, "partly", "Second walk"))
    _refused_on(again, "for_date", "a weekly practice is logged once a day", f"practice-{assignment}")
    assert "Second walk</textarea>" in again.get_data(as_text=True)
    assert _count(make, PracticeLog) == 1


def test_a_day_logged_in_full_leaves_the_day_picker_and_its_refusal_says_what_to_do(team, make, auth, app):
    """The new-user review: after today's log the picker still chose "Today", and saving again said
    "Already logged once a day for 2026-12-04" with no way forward. The picker now starts at the newest day
    still open; a day logged in full (an old page) is refused in words, saying what the patient can do."""
    from ketamine_integration.domain.practices import LOG_STAYS, date_words
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)  # 3 times a week: a day takes one log
    browser, patient = _patient(app, team["account"])
    assert patient.post(f"/portal/practices/{assignment}", _log_data(today)).status_code == 302
    page = browser.get("/portal/practices/")
    html = page.get_data(as_text=True)
    assert f'value="{today.isoformat()}"' not in html  # logged: no longer offered
    assert f'<option selected value="{(today - D).isoformat()}">Yesterday, ' in html
    assert LOG_STAYS in page_text(page)  # under the patient's logs: what to do instead of changing one
    again = patient.post(f"/portal/practices/{assignment}", _log_data(today, "partly", "Second walk"))
    words = f"Already logged for {date_words(today, today)}: a weekly practice is logged once a day. {LOG_STAYS}"
    _refused_on(again, "for_date", words, f"practice-{assignment}")
    assert today.isoformat() not in page_text(again)
    assert _count(make, PracticeLog) == 1


def _signed_step(make, auth, team, starts_on, review_on) -> int:
    """The step of a note signed now, agreed from `starts_on` and reviewed on `review_on`."""
    return _step_of(make, _write_and_sign(make, auth, team, **{"new_steps-0-starts_on": starts_on.isoformat(),
                                                               "new_steps-0-review_on": review_on.isoformat()}))


def test_a_day_checked_in_on_leaves_the_day_picker_and_a_past_review_is_in_the_past_tense(team, make, auth, app):
    from ketamine_integration.notes.patient_check_ins import CHECK_IN_STAYS
    from ketamine_integration.portal.log_forms import date_words
    auth.sign_in("ther")
    today = _today(make)
    step = _signed_step(make, auth, team, today - 3 * D, today - 2 * D)
    browser, patient = _patient(app, team["account"])
    text = page_text(browser.get("/portal/steps/"))
    assert f"Your review with your therapist was on {date_words(today - 2 * D, today)}" in text
    assert "You look at it together" not in text
    assert patient.post(f"/portal/steps/{step}", {"progress": "done", "for_date": today.isoformat()}).status_code == 302
    html = browser.get("/portal/steps/").get_data(as_text=True)
    assert f'value="{today.isoformat()}"' not in html
    assert f'<option selected value="{(today - D).isoformat()}">Yesterday, ' in html
    again = patient.post(f"/portal/steps/{step}", {"progress": "partly", "for_date": today.isoformat()})
    _refused_on(again, "for_date", f"You checked in on this step for {date_words(today, today)} already. "
                f"{CHECK_IN_STAYS}", f"step-{step}")
    for n in (1, 2, 3):
        assert patient.post(f"/portal/steps/{step}", {"progress": "not", "for_date": (today - n * D).isoformat()}
                            ).status_code == 302
    assert "You have checked in on every day you can now" in page_text(browser.get("/portal/steps/"))


def test_a_review_today_or_later_is_in_the_present(team, make, auth, app):
    from ketamine_integration.portal.log_forms import date_words
    auth.sign_in("ther")
    today = _today(make)
    browser, _ = _patient(app, team["account"])
    _signed_step(make, auth, team, today - D, today)
    assert "You look at it together with your therapist today" in page_text(browser.get("/portal/steps/"))
    _signed_step(make, auth, team, today, today + 5 * D)
    assert (f"You look at it together with your therapist on {date_words(today + 5 * D, today)}"
            in page_text(browser.get("/portal/steps/")))


@pytest.mark.parametrize("data, field, message", [
    ({"progress": ""}, "progress", "Choose done, partly or not done."),
    ({"progress": "nearly"}, "progress", "Choose done, partly or not done."),
    ({"for_date": ""}, "for_date", "Choose the day this is about."),
    ({"for_date": "tomorrow"}, "for_date", "Choose one of the days in the list."),
    ({"for_date": 1}, "for_date", "Choose today or an earlier day."),
    ({"for_date": -1}, "for_date", "choose a day from then on"),                  # before the step starts
    ({"obstacles": "y" * 501}, "obstacles", "500 characters"),
])
def test_a_check_in_the_rules_refuse_is_shown_on_its_field_and_changes_nothing(team, make, auth, app, data, field,
                                                                               message):
    auth.sign_in("ther")
    step = _step_of(make, _write_and_sign(make, auth, team))
    today = _today(make)
    _, patient = _patient(app, team["account"])
    if isinstance(data.get("for_date"), int):
        data = {**data, "for_date": (today + data["for_date"] * D).isoformat()}
    typed = {"progress": "done", "for_date": today.isoformat(), "obstacles": "Hard to start on cold mornings", **data}
    response = patient.post(f"/portal/steps/{step}", typed)
    _refused_on(response, field, message, f"step-{step}")
    if field != "obstacles":
        assert "Hard to start on cold mornings</textarea>" in response.get_data(as_text=True)
    assert _count(make, PatientStepCheckIn) == 0
    rows = make.audit_rows(action="step_check_in.record")
    assert [(r.outcome, r.patient_id) for r in rows] == [("failure", team["patient"])]
    assert make.audit_rows(action="step.view") == []  # the refusal's page view went with its transaction


def test_another_patients_assignment_and_step_are_404_and_nothing_is_written(team, make, auth, app):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)
    step = _step_of(make, _write_and_sign(make, auth, team))
    other = make.patient(family_name="Elsewhere")
    _, stranger = _patient(app, make.portal_account(other))
    client = stranger.client
    for url, data in ((f"/portal/practices/{assignment}", _log_data(today)),
                      (f"/portal/steps/{step}", {"progress": "done", "for_date": today.isoformat()}),
                      (f"/portal/practices/{assignment}", {}), (f"/portal/steps/{step}", {}),
                      ("/portal/practices/999999", _log_data(today)), ("/portal/steps/999999", {})):
        assert client.get(url).status_code == 404, url
        assert stranger.post(url, data).status_code == 404, url
    assert _count(make, PracticeLog) == 0 and _count(make, PatientStepCheckIn) == 0
    assert make.audit_rows(action="practice.log") == [] and make.audit_rows(action="step_check_in.record") == []
    denials = make.audit_rows(action="access.denied")
    assert len(denials) == 12 and {d.patient_id for d in denials} == {other}
    # their own pages show none of it
    assert "Movement" not in page_text(client.get("/portal/practices/"))
    assert "Walk by the river" not in page_text(client.get("/portal/steps/"))


def test_a_log_typed_when_the_session_timed_out_is_offered_back_on_its_page(team, make, auth, app):
    auth.sign_in("ther")
    today = _today(make)
    assignment = _assign(make, auth, team)
    client, patient = _patient(app, team["account"])

    def idle():
        for row in db.session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))):
            row.last_seen_at -= timedelta(minutes=11)
    make.run(idle)
    url = f"/portal/practices/{assignment}"
    response = patient.post(url, _log_data(today, "not", "My knee hurt after Sunday"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/portal/sign-in")
    assert _count(make, PracticeLog) == 0
    patient.portal_sign_in(team["account"])
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "My knee hurt after Sunday</textarea>" in html
    assert re.search(r'checked id="practice-\d+-outcome-2"', html)  # "Not done", as typed
    assert "back in the form" in page_text(page)
    assert patient.post(url, _log_data(today, "not", "My knee hurt after Sunday")).status_code == 302
    assert make.query(lambda: db.session.scalar(select(PortalKeptText.recovered_at))) is not None
    assert "My knee hurt" not in client.get(url).get_data(as_text=True).split("<textarea")[1].split("</textarea>")[0]


def test_a_form_per_practice_and_step_keeps_ids_unique_and_every_control_labelled(team, make, auth, app):
    """A page shows one log form per practice (one check-in form per step): their ids carry the
    record's id, their labels name their own controls (WCAG 1.3.1, 4.1.1)."""
    from tests.integration.test_form_labels import _check
    auth.sign_in("ther")
    first = _assign(make, auth, team)
    _assign(make, auth, team, **{"assign-practice": "nature"})
    _write_and_sign(make, auth, team)
    _write_and_sign(make, auth, team)
    client, patient = _patient(app, team["account"])
    for url in ("/portal/practices/", "/portal/steps/"):
        html = client.get(url).get_data(as_text=True)
        assert html.count("<form") == 3 and 'id="csrf_token"' not in html, url  # two, and signing out
        assert _check(html, url) >= 8
    refused = patient.post(f"/portal/practices/{first}", {"outcome": "", "for_date": "", "note": ""})
    assert refused.status_code == 422
    _check(refused.get_data(as_text=True), "a refused log")
