"""FHIR export of care planning and coordination (issue 25 review): the signed treatment plan revisions as
CarePlans (the latest active, an earlier one revoked and replaced) with a Goal per SMART objective carrying its
status and progress, the coordination notes as Communications (a follow-up and a reply linked by inResponseTo),
and the dosing record's adverse events as AdverseEvents naming the MedicationAdministration. Each validates with
fhir.resources, its references resolve, the bulk files carry the same, and no process note leaves."""
from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import func, select

from ketamine_integration.coordination.models import CoordinationNote
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.fhir.export import patient_bundle, write_bulk
from ketamine_integration.plans.models import TreatmentPlan
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_coordination import PROCESS_SECRET, team  # noqa: F401  (the fixture)
from tests.integration.test_fhir_export import _read_ndjson, _references, statements_per_step
from tests.integration.test_note_plan import _note_with_plan
from tests.integration.test_notes import SIGNING, _version
from tests.integration.test_treatment_plans import _plan_form, _start

NEW_TYPES = ("CarePlan", "Goal", "Communication", "AdverseEvent")
#: the process note of the note that recorded the objective's progress: the Goal is built from that note's rows
PLAN_CANARY = "Canary-process-plan-8842: what the walks stir up in me"


@pytest.fixture
def planned(make, auth, team):  # noqa: F811
    """The coordination team's patient (a signed dose with a mild nausea, a signed note with a process note),
    with a signed plan, a signed note recording progress on its objective, a second signed revision carrying that
    objective on, and two
    coordination notes (the second a follow-up) the prescriber acknowledged with a reply. Built on the team's
    world in a client of its own once per day, worker and engine (reused_world) and loaded from its snapshot
    after; the test's client is signed in as the prescriber."""
    built = todays_world(make.app, "fhir_care_plans",
                         lambda: _planned(make, Auth(make.app, make.app.test_client()), team))
    auth.sign_in("pres")
    return built


def _planned(make, auth, team) -> dict:
    note, first_plan, lineage, data = _note_with_plan(make, auth, team)
    assert auth.post(f"/notes/{note}/process", {"body": PLAN_CANARY}).status_code == 302
    signed = auth.post(f"/notes/{note}", {**data, "version": str(_version(make, note)), **SIGNING})
    assert signed.status_code == 302, page_text(signed)[-400:]
    second_plan = _start(auth, team["course"])
    revised = auth.post(f"/plans/{second_plan}", _plan_form(1, sign=True, **{"objectives-0-lineage": lineage}))
    assert revised.status_code == 302, page_text(revised)[-400:]
    for body in ("PHQ-9 down from 18 to 9.", "Correction: down to 10, not 9."):
        follows = make.query(lambda: db.session.scalar(select(CoordinationNote.id)))
        assert auth.post(f"/courses/{team['course']}/coordination", {
            "recipient": str(team["prescriber"]), "priority": "routine", "category": "response", "body": body,
            **({"follows": str(follows)} if follows else {})}).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    first_note = make.query(lambda: db.session.scalar(select(func.min(CoordinationNote.id))))
    assert auth.post(f"/coordination/{first_note}/acknowledge", {"reply": "Seen; keeping the dose."}).status_code == 302
    auth.logout()
    return {**team, "plans": (first_plan, second_plan), "first_note": first_note}


def _by_id(bundle: dict) -> dict[tuple[str, str], dict]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]): e["resource"] for e in bundle["entry"]}


def test_plans_goals_communications_and_adverse_events_are_exported_validated_and_linked(make, planned, tmp_path):
    bundle = make.query(lambda: patient_bundle(planned["patient"]))
    get_fhir_model_class("Bundle").model_validate(bundle)
    resources = _by_id(bundle)
    assert PROCESS_SECRET not in json.dumps(bundle) and PLAN_CANARY not in json.dumps(bundle)
    known = {f"{kind}/{rid}" for kind, rid in resources}
    assert {ref for r in resources.values() for ref in _references(r)} <= known  # every reference resolves

    first, second = (resources[("CarePlan", f"plan-{pk}")] for pk in planned["plans"])
    assert (first["status"], second["status"]) == ("revoked", "active")
    assert second["replaces"] == [{"reference": f"CarePlan/plan-{planned['plans'][0]}"}]
    assert "Goal 1: Re-engage with daily life" in second["description"]
    [old_goal] = [resources[("Goal", g["reference"].split("/")[1])] for g in first["goal"]]
    [new_goal] = [resources[("Goal", g["reference"].split("/")[1])] for g in second["goal"]]
    assert (old_goal["lifecycleStatus"], new_goal["lifecycleStatus"]) == ("cancelled", "active")
    assert new_goal["description"]["text"] == "Patient walks 20 minutes, 3 times a week"
    assert new_goal["target"][0]["measure"]["coding"][0]["code"] == "phq9" and new_goal["target"][0]["dueDate"]
    # the note's progress, recorded under the first revision, is the objective's history under both
    for goal in (old_goal, new_goal):
        assert goal["achievementStatus"]["coding"][0]["code"] == "improving"
        assert any("Some progress — Two walks this week" in n["text"] for n in goal["note"])

    notes = make.query(lambda: db.session.scalars(select(CoordinationNote).order_by(CoordinationNote.id)).all())
    sent, follow_up = (resources[("Communication", f"coordination-{n.id}")] for n in notes)
    assert sent["payload"] == [{"contentString": "PHQ-9 down from 18 to 9."}] and sent["priority"] == "routine"
    assert sent["sender"]["reference"] == f"Practitioner/practitioner-{planned['therapist']}"
    assert sent["recipient"][0]["reference"] == f"Practitioner/practitioner-{planned['prescriber']}"
    assert follow_up["inResponseTo"] == [{"reference": f"Communication/coordination-{notes[0].id}"}]
    reply = resources[("Communication", f"coordination-{notes[0].id}-reply")]
    assert reply["payload"] == [{"contentString": "Seen; keeping the dose."}]
    assert reply["sender"]["reference"] == f"Practitioner/practitioner-{planned['prescriber']}"

    [event] = [r for (kind, _), r in resources.items() if kind == "AdverseEvent"]
    dose = make.query(lambda: db.session.scalar(select(DosingSession.id).where(DosingSession.status == "signed")))
    assert event["event"]["text"] == "nausea" and event["severity"]["coding"][0]["code"] == "mild"
    assert event["suspectEntity"] == [{"instance": {"reference": f"MedicationAdministration/dose-{dose}"}}]

    # the bulk files: the same resources, streamed like the others
    make.query(lambda: write_bulk(tmp_path, batch=1))
    files = _read_ndjson(tmp_path)
    for kind in NEW_TYPES:
        assert sorted(r["id"] for r in files[kind]) == sorted(rid for k, rid in resources if k == kind), kind
    written = "".join(p.read_text() for p in tmp_path.glob("*.ndjson"))
    assert PROCESS_SECRET not in written and PLAN_CANARY not in written


def test_a_draft_plan_revision_is_not_exported(make, auth, planned):
    """A revision being written is not part of the record: no CarePlan, and the signed one stays active."""
    auth.sign_in("ther")
    draft = _start(auth, planned["course"])
    bundle = make.query(lambda: patient_bundle(planned["patient"]))
    plans = {e["resource"]["id"]: e["resource"]["status"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "CarePlan"}
    assert make.query(lambda: db.session.get(TreatmentPlan, draft).status) == "draft"
    assert plans == {f"plan-{planned['plans'][0]}": "revoked", f"plan-{planned['plans'][1]}": "active"}


@pytest.mark.both_engines  # SQL statement counts
def test_plans_and_coordination_notes_are_read_in_batches_of_constant_cost(app, make, auth, planned, tmp_path):
    """The plans' batches load their objectives, progress, notes and techniques alongside: a batch of one plan
    runs as many statements as the export's other batches, and a third revision and more notes change nothing."""
    before = statements_per_step(app, make, tmp_path / "before")
    auth.sign_in("ther")
    third = _start(auth, planned["course"])
    assert auth.post(f"/plans/{third}", _plan_form(1, sign=True)).status_code == 302
    for n in range(2):
        assert auth.post(f"/courses/{planned['course']}/coordination", {
            "recipient": str(planned["prescriber"]), "priority": "urgent", "category": "safety",
            "body": f"Safety plan reviewed again ({n})."}).status_code == 302
    after = statements_per_step(app, make, tmp_path / "after")
    assert max(before) <= 8 and max(after) == max(before), (before, after)
    assert len(after) == len(before) + 3  # one step more per plan revision and per note
