"""The safety plan (issue 24, point 4): drafts and signing, revisions kept, a signed revision refused
by the service, the ORM guard and the database, addenda, signed reviews, `signatures verify`, who
may read and write it, its audit rows, and its links from the risk screen and every safety alert."""
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import SafetyAlert
from ketamine_integration.safety_plans.guard import SignedPlanChanged
from ketamine_integration.safety_plans.models import SafetyPlanReview, SafetyPlanRevision
from tests.clinic_day import follows_the_day
from tests.conftest import page_text, todays_world

#: the clinic's day (the review and note forms refuse a day after it), not the machine's
TODAY = follows_the_day(globals(), "TODAY", lambda: datetime.now(ZoneInfo("America/New_York")).date())

PLAN = {"warning_signs": "Not sleeping\nPulling away from friends", "coping_strategies": "Walk the dog",
        "distractions": "", "means_safety": "Partner keeps the medication", "reasons_for_living": "",
        "help_contacts-0-name": "Sam (sister)", "help_contacts-0-phone": "555-010-0199",
        "professionals-0-name": "988 Suicide & Crisis Lifeline", "professionals-0-phone": "988"}


@pytest.fixture
def team(make):
    """A course in integration, its care team (a nurse on it), a therapist off it, the desk and the admin. Built
    once per day and worker on each engine (reused_world): a file copy on SQLite, the rows written back by COPY
    on PostgreSQL."""
    return todays_world(make.app, "safety_plans_team", lambda: _team(make))


def _team(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "outsider": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "nurse": make.user("nurse", username="nurse"),
           "staff": make.user("staff", username="desk"), "admin": make.user("admin", username="boss")}
    ids["patient"] = make.patient(family_name="Planned", nurses=[ids["nurse"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="integration")
    return ids


def _version(auth, patient: int) -> str:
    """The edit token the plan's form is opened on, read off the form as a browser would."""
    html = auth.client.get(f"/patients/{patient}/safety-plan/edit").get_data(as_text=True)
    return re.search(r'name="version"[^>]*value="([0-9]+)"', html).group(1)


def _edit(auth, patient: int, data: dict):
    return auth.post(f"/patients/{patient}/safety-plan/edit", {**data, "version": _version(auth, patient)})


def _signed_plan(auth, patient: int, **changes) -> None:
    response = _edit(auth, patient, {**PLAN, **changes, "action": "sign", "confirm_lock": "y"})
    assert response.status_code == 302, page_text(response)


def _revisions(make, patient: int) -> list[tuple[int, str]]:
    return make.query(lambda: db.session.execute(select(SafetyPlanRevision.revision, SafetyPlanRevision.status).where(
        SafetyPlanRevision.patient_id == patient).order_by(SafetyPlanRevision.revision)).all())


def test_a_plan_is_drafted_signed_and_revised_every_revision_kept(team, make, auth, client):
    auth.sign_in("ther")
    patient = team["patient"]
    new = page_text(client.get(f"/patients/{patient}/safety-plan/edit"))
    assert "988" in new  # a new plan starts with the Lifeline among the professionals
    draft = _edit(auth, patient, {"warning_signs": "Not sleeping", "action": "save"})
    assert draft.status_code == 302 and _revisions(make, patient) == [(1, "draft")]
    refused = _edit(auth, patient, {"warning_signs": "Not sleeping", "action": "sign", "confirm_lock": "y"})
    refused_text = page_text(refused)
    assert refused.status_code == 200 and "Draft saved, not signed" in refused_text
    assert "at least one coping strategy" in refused_text and "at least one professional or crisis line" in refused_text
    assert _revisions(make, patient) == [(1, "draft")]
    _signed_plan(auth, patient)
    assert _revisions(make, patient) == [(1, "signed")]
    _signed_plan(auth, patient, warning_signs="Not sleeping\nDrinking more")
    assert _revisions(make, patient) == [(1, "signed"), (2, "signed")]
    page = page_text(client.get(f"/patients/{patient}/safety-plan"))
    assert "Drinking more" in page and "Revision 2" in page and "Revision 1" in page
    first = make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id).where(
        SafetyPlanRevision.patient_id == patient, SafetyPlanRevision.revision == 1)))
    old = page_text(client.get(f"/safety-plans/{first}"))
    assert "Pulling away from friends" in old and "Drinking more" not in old


@pytest.mark.parametrize("field, value, message", [
    ("help_contacts-0-phone", "call me maybe", "Write a phone number"),  # words are not a number
    ("help_contacts-0-phone", "", "Give a phone number for this contact."),  # a name with no way to reach
    ("professionals-0-name", "", "Name who this number reaches."),  # a number with no name
    ("warning_signs", "x" * 201, "Keep each line to 200 characters at most."),  # one line too long
])
def test_a_bad_plan_is_refused_by_field_and_nothing_is_written(team, make, auth, field, value, message):
    auth.sign_in("ther")
    response = _edit(auth, team["patient"], {**PLAN, field: value, "action": "sign"})
    assert response.status_code == 422 and message in page_text(response)
    assert _revisions(make, team["patient"]) == []


@pytest.mark.both_engines
def test_a_signed_revision_never_changes_whatever_path_tries(team, make, auth):
    auth.sign_in("ther")
    _signed_plan(auth, team["patient"])
    revision_id = make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id)))

    def orm_change():
        db.session.get(SafetyPlanRevision, revision_id).content = {"warning_signs": ["rewritten"]}
        db.session.flush()

    with pytest.raises(SignedPlanChanged):
        make.run(orm_change)
    for statement in ("UPDATE safety_plan_revisions SET content = '{\"warning_signs\": [\"rewritten\"]}'",
                      "UPDATE safety_plan_revisions SET status = 'draft'",
                      "DELETE FROM safety_plan_revisions"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement)))
    assert make.query(lambda: db.session.get(SafetyPlanRevision, revision_id).content["warning_signs"]) == [
        "Not sleeping", "Pulling away from friends"]


@pytest.mark.both_engines
def test_addenda_and_reviews_are_signed_kept_and_verified(team, make, auth, client, app):
    auth.sign_in("ther")
    patient = team["patient"]
    no_plan = auth.post(f"/patients/{patient}/safety-plan/review", {
        "reviewed_on": TODAY.isoformat(), "with_patient": "yes", "changes": "none"})
    assert no_plan.status_code == 422 and "no signed safety plan to review" in page_text(no_plan)
    _signed_plan(auth, patient)
    revision_id = make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id)))
    assert auth.post(f"/safety-plans/{revision_id}/addenda", {"body": "Sister's number changed"}).status_code == 302
    revised_without_revision = auth.post(f"/patients/{patient}/safety-plan/review", {
        "reviewed_on": TODAY.isoformat(), "with_patient": "yes", "changes": "revised"})
    assert revised_without_revision.status_code == 422
    assert "No new revision was signed since the last review" in page_text(revised_without_revision)
    future = auth.post(f"/patients/{patient}/safety-plan/review", {
        "reviewed_on": (TODAY + timedelta(days=2)).isoformat(), "with_patient": "yes", "changes": "none"})
    assert future.status_code == 422 and "cannot be in the future" in page_text(future)
    assert auth.post(f"/patients/{patient}/safety-plan/review", {
        "reviewed_on": TODAY.isoformat(), "with_patient": "no", "changes": "none",
        "comment": "Read through at the session"}).status_code == 302
    _signed_plan(auth, patient, coping_strategies="Walk the dog\nCold water on the face")
    assert auth.post(f"/patients/{patient}/safety-plan/review", {
        "reviewed_on": TODAY.isoformat(), "with_patient": "yes", "changes": "revised"}).status_code == 302
    reviews = make.query(lambda: db.session.execute(select(SafetyPlanReview.changes, SafetyPlanReview.with_patient,
                                                           SafetyPlanRevision.revision).join(
        SafetyPlanRevision, SafetyPlanReview.revision_id == SafetyPlanRevision.id).order_by(SafetyPlanReview.id)).all())
    assert reviews == [("none", False, 1), ("revised", True, 2)]
    page = page_text(client.get(f"/patients/{patient}/safety-plan"))
    assert "Revised: a new revision was signed: revision 2" in page and "Read through at the session" in page
    assert "Sister's number changed" in page_text(client.get(f"/safety-plans/{revision_id}"))
    for statement in ("UPDATE safety_plan_reviews SET with_patient = NOT with_patient",
                      "DELETE FROM safety_plan_addenda"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement)))
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 signed safety plan revisions verified." in result.output
    assert "2 of 2 safety plan reviews rows verified." in result.output


@pytest.mark.both_engines
def test_verify_names_a_signed_revision_rewritten_behind_the_triggers(team, make, auth, app):
    auth.sign_in("ther")
    _signed_plan(auth, team["patient"])
    revision_id = make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id)))

    def rewrite():
        engine = db.engine.dialect.name
        trigger = ("ALTER TABLE safety_plan_revisions DISABLE TRIGGER safety_plan_revisions_signed_locked"
                   if engine == "postgresql" else "DROP TRIGGER safety_plan_revisions_signed_no_update")
        db.session.execute(text(trigger))
        db.session.execute(text("UPDATE safety_plan_revisions SET content = '{\"warning_signs\": [\"other\"]}'"))
        if engine == "postgresql":
            db.session.execute(text("ALTER TABLE safety_plan_revisions ENABLE TRIGGER "
                                    "safety_plan_revisions_signed_locked"))

    make.run(rewrite)
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert result.exit_code == 1
    assert f"MISMATCH safety plan revision {revision_id}: content differs from what was signed" in result.output


@pytest.mark.parametrize("user, read, write", [
    ("ther", 200, 200),  # the patient's therapist writes it
    ("pres", 200, 403),  # the prescriber reads it: a safety document, not a process note
    ("ther2", 403, 403),  # a therapist not on the care team
    ("nurse", 403, 403),  # nurses read no clinical content
    ("desk", 403, 403),  # staff see schedules, not clinical content
    ("boss", 403, 403),  # the admin keeps accounts and settings, not the clinical record
])
def test_who_may_read_and_write_the_plan_every_refusal_audited(team, make, auth, client, user, read, write):
    auth.sign_in(user)
    assert client.get(f"/patients/{team['patient']}/safety-plan").status_code == read
    assert client.get(f"/patients/{team['patient']}/safety-plan/edit").status_code == write
    refused = auth.post(f"/patients/{team['patient']}/safety-plan/edit", {**PLAN, "action": "sign", "confirm_lock": "y",
                                                                             "version": "0"})
    assert refused.status_code == (302 if write == 200 else 403)
    actions = [row.action for row in make.audit_rows(patient_id=team["patient"])]
    if read == 200:
        assert "safety_plan.view" in actions
    if write == 200:
        assert "safety_plan.sign" in actions
    else:
        assert "access.denied" in actions and "safety_plan.sign" not in actions
        assert _revisions(make, team["patient"]) == []


def _alert(make, team) -> int:
    def add():
        alert = SafetyAlert(patient_id=team["patient"], course_id=team["course"], source="portal_answer",
                            measure="phq9", finding="PHQ-9 item 9 (thoughts of self-harm) answered 2")
        db.session.add(alert)
        db.session.flush()
        return alert.id
    return make.run(add)


def test_every_alert_view_links_the_plan_or_says_there_is_none(team, make, auth, client):
    auth.sign_in("ther")
    alert = _alert(make, team)
    measures = page_text(client.get(f"/courses/{team['course']}/measures"))
    assert "No safety plan: write one" in measures
    assert "No safety plan: write one" in page_text(client.get("/"))
    _signed_plan(auth, team["patient"])
    for url in (f"/courses/{team['course']}/measures", "/", f"/courses/{team['course']}"):
        assert "Safety plan : revision 1, signed" in page_text(client.get(url)), url
    # the plan's absence or state never stands in the way of acknowledging the alert
    assert auth.post(f"/alerts/{alert}/acknowledge", {"note": "Called the patient, safe tonight"}).status_code == 302
    assert make.query(lambda: db.session.get(SafetyAlert, alert).acknowledged_at) is not None


def test_an_alert_is_acknowledged_with_no_safety_plan(team, make, auth):
    auth.sign_in("pres")
    alert = _alert(make, team)
    assert auth.post(f"/alerts/{alert}/acknowledge", {"note": "Called the patient, safe tonight"}).status_code == 302
    assert make.query(lambda: db.session.get(SafetyAlert, alert).acknowledged_at) is not None


def test_the_risk_screen_shows_the_plan_state_with_a_link(team, make, auth, client):
    from ketamine_integration.notes.models import SessionNote
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/notes", {"note-kind": "integration",
                                                          "note-session_date": TODAY.isoformat()}).status_code == 302
    note = make.query(lambda: db.session.scalar(select(SessionNote.id)))
    form = client.get(f"/notes/{note}").get_data(as_text=True)
    assert f'href="/patients/{team["patient"]}/safety-plan/edit">write one</a>' in form
    _signed_plan(auth, team["patient"])
    assert auth.post(f"/patients/{team['patient']}/safety-plan/review", {
        "reviewed_on": TODAY.isoformat(), "with_patient": "yes", "changes": "none"}).status_code == 302
    screen = page_text(client.get(f"/notes/{note}"))
    assert "revision 1, signed" in screen and f"last reviewed {TODAY.isoformat()}" in screen
    assert "Safety plan reviewed" in screen  # the note's own tick stays, beside the plan's state


@pytest.mark.both_engines
def test_the_formulation_gains_three_sections_old_revisions_shown_as_they_were(team, make, auth, client, app):
    from ketamine_integration.notes.models import CaseFormulation
    auth.sign_in("ther")
    url = f"/courses/{team['course']}/formulation"
    assert auth.post(url, {"presenting_concerns": "Low mood", "revision": "0"}).status_code == 302
    assert auth.post(url, {"presenting_concerns": "Low mood", "why_now": "Redundancy in March",
                           "maintaining_factors": "Withdrawal from friends keeps the mood low",
                           "what_might_help": "Activity scheduling, then the grief", "revision": "1"}
                     ).status_code == 302
    page = client.get(url).get_data(as_text=True)
    first, second = page.split("Revision 1 —")[1], page.split("Revision 2 —")[1].split("Revision 1 —")[0]
    assert "What keeps it going (maintaining factors)</dt><dd>Withdrawal from friends" in second
    assert "Why now</dt><dd>Redundancy in March" in second and "What might help</dt><dd>Activity" in second
    assert "Why now" not in first  # revision 1 shows as it was saved
    assert app.test_cli_runner().invoke(args=["signatures", "verify"]).exit_code == 0
    latest = make.query(lambda: db.session.scalar(select(func.max(CaseFormulation.id))))

    def rewrite_why_now():
        engine = db.engine.dialect.name
        if engine == "postgresql":
            db.session.execute(text("ALTER TABLE case_formulations DISABLE TRIGGER USER"))
        else:
            for name in db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                                "AND tbl_name = 'case_formulations'")).all():
                db.session.execute(text(f"DROP TRIGGER {name}"))
        content = db.session.get(CaseFormulation, latest).content
        db.session.execute(text("UPDATE case_formulations SET content = :c WHERE id = :id"),
                           {"c": json.dumps({**content, "why_now": "Rewritten"}), "id": latest})
        if engine == "postgresql":
            db.session.execute(text("ALTER TABLE case_formulations ENABLE TRIGGER USER"))

    make.run(rewrite_why_now)
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert result.exit_code == 1 and f"MISMATCH formulation revision {latest}" in result.output


def test_the_plan_pages_label_every_control_once(team, make, auth, client):
    from tests.page_html import read_forms
    auth.sign_in("ther")
    _signed_plan(auth, team["patient"])
    revision = f"/safety-plans/{make.query(lambda: db.session.scalar(select(SafetyPlanRevision.id)))}"
    for path in (f"/patients/{team['patient']}/safety-plan", f"/patients/{team['patient']}/safety-plan/edit",
                 revision):
        response = client.get(path)
        assert response.status_code == 200, path
        forms = read_forms(response.get_data(as_text=True))
        assert forms.repeated_ids() == [] and forms.unlabelled() == [], path
        assert forms.controls, path


def test_a_save_that_met_another_is_refused_and_its_text_kept(team, make, auth):
    auth.sign_in("ther")
    opened = _version(auth, team["patient"])
    assert _edit(auth, team["patient"], {**PLAN, "action": "save"}).status_code == 302  # another tab saves first
    late = auth.post(f"/patients/{team['patient']}/safety-plan/edit",
                     {**PLAN, "warning_signs": "Written in the late tab", "action": "save", "version": opened})
    assert late.status_code == 409 and "Written in the late tab" in late.get_data(as_text=True)
    assert make.query(lambda: db.session.scalar(select(SafetyPlanRevision.content))["warning_signs"]) == [
        "Not sleeping", "Pulling away from friends"]
