"""Coordination inside the clinic (issue 19, point 8): the care team coordinates treatment without
a release (45 CFR 164.506(c)); a prescriber outside the care team only under a release that covers
an outside recipient; an urgent safety note to the care team's prescriber is never blocked; a
report shown as due says what it still needs."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.coordination.models import CoordinationNote, ReleaseOfInformation
from ketamine_integration.extensions import db
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_coordination import TODAY, _generate, _latest_pdf_text, _release
from tests.integration.test_dosing import _sign, form_time, local


@pytest.fixture
def team(make):
    """An IM KAP course (a report falls due after the first dose) with one signed dose, its
    prescriber on the care team, another practice's prescriber outside it, and no release. The prescriber
    signs in a client of their own; built once per day, worker and engine (reused_world) and loaded from its
    snapshot after."""
    return todays_world(make.app, "care_team_coordination",
                        lambda: _team(make, Auth(make.app, make.app.test_client())))


def _team(make, auth) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", licence_type="LCSW"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale", licence_type="MD"),
           "outsider": make.user("prescriber", username="elsewhere", full_name="Pia Far", licence_type="NP"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(given_name="Wren", family_name="Teamed")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience",
                                protocol="im-ketamine-kap")
    [session] = make.dosing_plan(ids["course"], first_start=local(3), days_between=2, count=1)
    auth.sign_in("pres")
    start = local(3, 9)
    assert _sign(make, auth, session, ids["prescriber"], route="im", dose_mg="50", started_at=form_time(start),
                 ended_at=form_time(start + timedelta(minutes=40)),
                 discharged_at=form_time(start + timedelta(minutes=130))).status_code == 302
    auth.logout()
    return ids


def _note(auth, team, recipient, category="response", priority="routine", body="PHQ-9 down from 18 to 9."):
    return auth.post(f"/courses/{team['course']}/coordination", {
        "recipient": str(team[recipient]), "priority": priority, "category": category, "body": body})


def _notes(make):
    return make.query(lambda: [(n.recipient_id, n.body) for n in db.session.scalars(
        select(CoordinationNote).order_by(CoordinationNote.id))])


def test_the_care_team_coordinates_without_a_release_and_an_urgent_safety_note_is_never_blocked(
        team, make, auth, client):
    auth.sign_in("ther")
    assert _note(auth, team, "prescriber", "adverse_effects", body="Nausea after the first dose.").status_code == 302
    assert _note(auth, team, "prescriber", "safety", "urgent",
                 body="Thoughts of self-harm today; safety plan reviewed.").status_code == 302
    assert [body for _, body in _notes(make)] == ["Nausea after the first dose.",
                                                  "Thoughts of self-harm today; safety plan reviewed."]
    auth.logout()
    auth.sign_in("pres")
    worklist = page_text(client.get("/prescriber/"))
    assert worklist.index("Thoughts of self-harm today") < worklist.index("Nausea after the first dose.")
    # ... while a report still needs a release for the categories it carries
    auth.logout()
    auth.sign_in("ther")
    refused = _generate(auth, team)
    assert refused.status_code == 422 and "No release of information lets" in page_text(refused)


def test_a_prescriber_outside_the_care_team_is_reached_only_under_a_release_covering_an_outside_recipient(
        team, make, auth, client):
    auth.sign_in("ther")
    assert "Pia Far" not in page_text(client.get(f"/courses/{team['course']}/coordination"))    # not offered
    refused = _note(auth, team, "outsider", "adverse_effects", body="Would you review the dose?")
    assert refused.status_code == 422 and "Pia Far is not on the patient's care team" in page_text(refused)
    auth.logout()
    auth.sign_in("desk")                     # a release to her that does not cover an outside recipient
    assert _release(auth, team, ["dosing"], recipient=str(team["outsider"])).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert _note(auth, team, "outsider", "adverse_effects", body="Would you review the dose?").status_code == 422
    auth.logout()
    auth.sign_in("desk")                                                 # one that does
    assert _release(auth, team, ["dosing"], recipient=str(team["outsider"]), outside_care_team="y").status_code == 302
    releases = page_text(client.get(f"/patients/{team['patient']}/releases"))
    assert "Outside the care team" in releases
    auth.logout()
    auth.sign_in("ther")
    assert "Pia Far, NP (outside the care team, under a release)" in page_text(
        client.get(f"/courses/{team['course']}/coordination"))
    assert _note(auth, team, "outsider", "adverse_effects", body="Would you review the dose?").status_code == 302
    # the release covers dosing and monitoring, not measures: a note about response is not sent
    beyond = _note(auth, team, "outsider", "response", body="PHQ-9 down to 9.")
    assert beyond.status_code == 422 and "measures" in page_text(beyond)
    assert _notes(make) == [(team["outsider"], "Would you review the dose?")]
    refusals = [r for r in make.audit_rows(action="coordination.send") if r.outcome != "success"]
    assert len(refusals) == 3 and all(r.detail == "refused: recipient" for r in refusals)
    auth.logout()
    auth.sign_in("elsewhere")                        # the note reaches her worklist; she acknowledges it
    assert "Would you review the dose?" in page_text(client.get("/prescriber/"))
    [note_id] = make.query(lambda: db.session.scalars(select(CoordinationNote.id)).all())
    assert auth.post(f"/coordination/{note_id}/acknowledge", {"reply": "Will call you.",
                                                              "next_page": "worklist"}).status_code == 302
    assert make.query(lambda: db.session.get(CoordinationNote, note_id).reply) == "Will call you."
    assert client.get(f"/courses/{team['course']}/coordination").status_code == 403    # not her patient


def test_a_named_outside_recipient_is_always_outside_the_care_team(team, make, auth):
    auth.sign_in("desk")
    unticked = _release(auth, team, ["measures"], recipient="0", recipient_name="Lakeside Practice (fictional)")
    assert unticked.status_code == 422 and "tick that the release covers an outside recipient" in page_text(unticked)
    assert _release(auth, team, ["measures"], recipient="0", recipient_name="Lakeside Practice (fictional)",
                    outside_care_team="y").status_code == 302
    assert make.query(lambda: [(r.recipient_name, r.outside_care_team) for r in db.session.scalars(
        select(ReleaseOfInformation))]) == [("Lakeside Practice (fictional)", True)]


def test_report_due_says_what_is_missing_until_it_can_be_generated(team, make, auth, client):
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert ("as the protocol asks after dosing session 1. It needs a release of information to Orrin Vale covering "
            "dosing and monitoring") in home, home[:1500]
    assert "Write the report" not in home
    auth.logout()
    auth.sign_in("desk")
    assert _release(auth, team, ["measures"]).status_code == 302          # a release, but not for the doses
    auth.logout()
    auth.sign_in("ther")
    assert "needs a release of information to Orrin Vale covering dosing and monitoring" in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing"]).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    home = page_text(client.get("/"))
    assert "as the protocol asks after dosing session 1. Write the report" in home and "needs a release" not in home
    assert _generate(auth, team).status_code == 302
    assert "Prescriber reports due" not in page_text(client.get("/"))
    pdf = _latest_pdf_text(make, client)                       # each person with their credential
    assert "Coordination report for Orrin Vale, MD" in pdf and "Written by Hazel Quint, LCSW" in pdf
    assert "Administered by Orrin Vale, MD" in pdf and "signed by Orrin Vale, MD" in pdf


def test_an_expired_release_counts_for_nothing_in_report_due(team, make, auth, client):
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing"], effective_on=(TODAY - timedelta(days=30)).isoformat(),
                    expires_on=(TODAY - timedelta(days=1)).isoformat()).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert "needs a release of information to Orrin Vale" in page_text(client.get("/"))


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_clinic_shows_credentials_dose_roles_and_an_outside_prescriber(app, make):
    from ketamine_integration.accounts.models import User
    from ketamine_integration.experience.dose_roles import RECORDED_AS, may_be_named
    from ketamine_integration.experience.models import DosingSession
    from ketamine_integration.protocols.services import protocol_of

    def inspect():
        clinicians = [u for u in db.session.scalars(select(User)) if u.can("care_team.member")]
        unlicensed = [u.username for u in clinicians if u.licence_type is None]
        misnamed = [(s.id, column) for s in db.session.scalars(select(DosingSession).where(
                    DosingSession.status == "signed"))
                    for column in RECORDED_AS
                    if not may_be_named(column, getattr(s, column.removesuffix("_id")).permissions,
                                        protocol_of(s.course.protocol_version))]
        unsigned_by_prescriber = [s.id for s in db.session.scalars(select(DosingSession).where(
            DosingSession.status == "signed")) if not s.signed_by.can("dosing.sign")]
        outside = [(r.patient.care_team, r.recipient_user_id) for r in db.session.scalars(
            select(ReleaseOfInformation).where(ReleaseOfInformation.outside_care_team.is_(True)))
            if r.recipient_user_id is not None]
        reached = [n for n in db.session.scalars(select(CoordinationNote))
                   if any(n.recipient_id == user_id and all(m.user_id != user_id for m in team)
                          for team, user_id in outside)]
        return unlicensed, misnamed, unsigned_by_prescriber, len(outside), len(reached)
    unlicensed, misnamed, unsigned_by_prescriber, outside, reached = make.query(inspect)
    assert unlicensed == [] and misnamed == [] and unsigned_by_prescriber == []
    assert outside >= 1 and reached >= 1
