"""Vital-sign thresholds at a dosing session (issue 19, points 1 and 2): a flagged reading is saved
and shown, the record is signed only with a documented clinical response, which is signed and
frozen with it and shown on the course page, the prescriber worklist and the report; discharge
criteria are explicit items; monitoring comes from the recorded times."""
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.experience.models import DosingSession
from ketamine_integration.experience.services import content_digest, signed_content
from ketamine_integration.extensions import db
from tests.clinic_day import at_run_all
from tests.conftest import page_text
from tests.integration.test_dosing import _planned, _record_data, _session, form_time, local, team  # noqa: F401

SHIPPED = Path(__file__).resolve().parents[2] / "protocols"
#: the issue's review: 182/112 before dosing
HIGH_BASELINE = {"baseline-systolic": "182", "baseline-diastolic": "112"}
RESPONSE = {"response_baseline-action": "Rested 15 minutes, repeated; prescriber postponed nothing as 150/95 "
                                        "is below the do-not-start limit.",
            "response_baseline-later_systolic": "150", "response_baseline-later_diastolic": "95"}


def _respond(team, **extra):
    start = local(3, 9)
    answer = dict(RESPONSE, **{"response_baseline-decided_by": str(team["prescriber"]),
                               "response_baseline-later_at": form_time(start - timedelta(minutes=5))})
    return {**answer, **extra}


def _save(make, auth, session_id, team, **overrides):
    return auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                           **overrides))


def preview_under_a_dosing_release(auth, team) -> str:
    """Staff record a release of dosing records to the prescriber; the therapist previews the report."""
    auth.sign_in("desk")
    auth.post(f"/patients/{team['patient']}/releases", {
        "recipient": str(team["prescriber"]), "recipient_name": "", "categories": ["dosing"],
        "purpose": "Coordination of ketamine treatment", "effective_on": local(0).date().isoformat(),
        "expires_on": ""})
    auth.logout()
    auth.sign_in("ther")
    return page_text(auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["prescriber"])}))


def _try_to_sign(make, auth, session_id):
    return auth.post(f"/dosing/{session_id}/sign", {"version": str(_session(make, session_id).version)},
                     follow_redirects=True)


@pytest.mark.both_engines  # the response rows are stored, signed and guarded on both engines
def test_a_flagged_reading_is_saved_shown_and_signed_only_with_a_clinical_response(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **HIGH_BASELINE).status_code == 302   # it happened: saved
    page = page_text(client.get(f"/dosing/{session_id}"))
    assert "Flagged: Before dosing: systolic pressure 182 mmHg is at or above 180 mmHg" in page
    assert "Clinical response to the flagged reading before dosing" in page
    refused = page_text(_try_to_sign(make, auth, session_id))
    assert "Not signed" in refused and "a documented clinical response to the flagged reading before dosing" in refused
    assert _session(make, session_id).status == "draft"
    # a response without who decided or the later reading is not yet enough
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **RESPONSE).status_code == 302
    refused = page_text(_try_to_sign(make, auth, session_id))
    assert "who decided the response" in refused and "a later reading" in refused
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_respond(team)).status_code == 302
    _try_to_sign(make, auth, session_id)
    signed = _session(make, session_id)
    assert signed.status == "signed"
    [response] = signed.vital_responses
    assert (response.timepoint, response.decided_by_id, response.later_systolic) == \
        ("baseline", team["prescriber"], 150)
    assert signed.content_digest == make.query(lambda: content_digest(db.session.get(DosingSession, session_id)))
    record = page_text(client.get(f"/dosing/{session_id}"))
    assert "Clinical responses to flagged readings" in record and "decided by Orrin Vale" in record
    # the response is part of the signed record: the database refuses to change or add to it
    for statement in ("UPDATE vital_sign_responses SET action = 'nothing'",
                      "DELETE FROM vital_sign_responses",
                      "INSERT INTO vital_sign_responses (dosing_session_id, timepoint, action) "
                      "SELECT id, 'discharge', 'added later' FROM dosing_sessions"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement)))
    with pytest.raises(DBAPIError):  # and the discharge answers are frozen with the session
        make.run(lambda: db.session.execute(text("UPDATE dosing_sessions SET discharge_checks = NULL")))


@pytest.mark.both_engines
def test_an_unflagged_record_signs_without_a_response_and_hashes_as_before(team, make, auth):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    _save(make, auth, session_id, team)
    _try_to_sign(make, auth, session_id)
    signed = _session(make, session_id)
    assert signed.status == "signed" and signed.vital_responses == []
    assert signed.monitoring_minutes == 130 and signed.discharge_ready is True  # 9:00 to 11:10; every item yes
    content = make.query(lambda: signed_content(db.session.get(DosingSession, session_id)))
    # no respiratory rate, no responses: the vitals sign as four numbers and there is no responses key
    assert "vital_responses" not in content and all(len(v) == 4 for v in content["vitals"].values())


@pytest.mark.parametrize("overrides, needed", [
    # a criterion left unanswered
    ({"discharge_criteria-accompanied": ""}, "discharge criteria answered yes or no: leaves with a responsible adult"),
    # the esketamine-style case: discharged after 50 minutes whatever anyone would have typed
    ({"discharged_at": lambda: form_time(local(3, 9) + timedelta(minutes=50))},
     "the recorded times give 50"),
    # the REMS form may not call a flagged discharge reading acceptable
    ({"discharge-systolic": "170", "discharge-diastolic": "105", "vitals_acceptable_before_discharge": "yes"},
     "REMS: vital signs acceptable before discharge is answered yes while the discharge reading is outside"),
])
def test_signing_checks_criteria_and_computed_monitoring(team, make, auth, overrides, needed):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **at_run_all(overrides)).status_code == 302
    assert needed in page_text(_try_to_sign(make, auth, session_id))
    assert _session(make, session_id).status == "draft"


def test_discharge_criteria_are_not_met_while_the_discharge_reading_is_out_of_range(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    _save(make, auth, session_id, team, **{"discharge-systolic": "170", "discharge-diastolic": "105"})
    draft = _session(make, session_id)
    assert draft.discharge_ready is False   # every item ticked, yet the readings say no
    assert "not within range" in page_text(client.get(f"/dosing/{session_id}"))
    later = {"response_discharge-action": "Observed another 30 minutes; prescriber reviewed",
             "response_discharge-decided_by": str(team["prescriber"]),
             "response_discharge-later_at": form_time(local(3, 9) + timedelta(minutes=125)),
             "response_discharge-later_systolic": "150", "response_discharge-later_diastolic": "92"}
    _save(make, auth, session_id, team, **{"discharge-systolic": "170", "discharge-diastolic": "105"}, **later)
    assert _session(make, session_id).discharge_ready is True


@pytest.mark.parametrize("answer, problem", [
    # someone outside the patient's care team is not a choice
    ({"response_baseline-decided_by": "outsider"}, "Not a valid choice"),
    # a later reading no patient shows is a typing error
    ({"response_baseline-later_systolic": "300"}, "Systolic pressure of 300 mmHg is not plausible"),
    # a later reading from the future
    ({"response_baseline-later_at": lambda: form_time(local(-1, 9))}, "This cannot be in the future."),
])
def test_a_response_names_a_care_team_clinician_and_a_plausible_later_reading(team, make, auth, answer, problem):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    answer = {k: str(team["outsider"]) if v == "outsider" else v for k, v in at_run_all(answer).items()}
    refused = _save(make, auth, session_id, team, **HIGH_BASELINE, **_respond(team, **answer))
    assert refused.status_code == 422 and problem in page_text(refused)
    assert _session(make, session_id).status == "planned"   # nothing half-saved


def test_flags_and_responses_reach_the_course_page_worklist_and_report(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    _save(make, auth, session_id, team, **HIGH_BASELINE)
    worklist = page_text(client.get("/prescriber/"))
    assert "Flagged vital signs" in worklist and "No clinical response documented yet." in worklist
    _save(make, auth, session_id, team, **HIGH_BASELINE, **_respond(team))
    _try_to_sign(make, auth, session_id)
    course = page_text(client.get(f"/courses/{team['course']}"))
    assert "Flagged vital signs: Before dosing: systolic pressure 182 mmHg" in course
    assert "Response: Before dosing: Rested 15 minutes" in course
    worklist = page_text(client.get("/prescriber/"))
    assert "Response: Before dosing: Rested 15 minutes" in worklist and "No clinical response" not in worklist
    auth.logout()
    preview = preview_under_a_dosing_release(auth, team)
    assert "Flagged vital signs: Before dosing: systolic pressure 182 mmHg" in preview
    assert "Clinical response: Before dosing: Rested 15 minutes" in preview


def test_protocols_check_names_file_and_field_of_a_broken_threshold(app, tmp_path):
    data = yaml.safe_load((SHIPPED / "esketamine-trd-rems.yaml").read_text())
    data["vital_signs"]["baseline"]["do_not_start"]["systolic"] = {"at_or_above": 130}
    broken = tmp_path / "broken-thresholds.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = app.test_cli_runner().invoke(args=["protocols", "check", str(broken)])
    assert result.exit_code == 1
    assert ("ERROR broken-thresholds.yaml: vital_signs.baseline: do_not_start.systolic.at_or_above (130) is below "
            "flag.systolic.at_or_above (141)") in result.output


#: what a signature covered before issue 19 (every record signed before migration 0020)
SIGNED_BEFORE = {"started_at", "ended_at", "route", "medication", "dose_mg", "weight_kg", "lot_number",
                 "administered_by_id", "monitored_by_id", "sedation", "dissociation",
                 "concomitant_sedating_medications", "monitoring_minutes", "discharged_at", "discharge_ready",
                 "ready_to_leave_at", "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge",
                 "id", "course_id", "sequence", "status", "dose_mg_per_kg", "signed_by_id", "signed_at",
                 "vitals", "adverse_events"}


def test_a_record_signed_before_the_new_fields_signs_the_same_content(team, make, auth):
    """Migration 0020 leaves the new columns empty on older records: their signed content, and so
    their digest, is what it was (the typed monitoring minutes and the single discharge answer
    included)."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    _save(make, auth, session_id, team)
    _try_to_sign(make, auth, session_id)

    def as_signed_before_0020():
        session = db.session.get(DosingSession, session_id)
        content = signed_content(session)
        legacy = {key: value for key, value in content.items() if key not in ("discharge_checks", "entered_by")}
        session.discharge_checks = None  # in memory only, as an older row reads
        for reading in session.vitals:   # who entered readings is unknown before migration 0024
            reading.entered_by_id = None
        return content, legacy, signed_content(session)
    content, legacy, older = make.query(as_signed_before_0020)
    # a new record signs its discharge answers and who entered its readings
    assert set(content) == SIGNED_BEFORE | {"discharge_checks", "entered_by"}
    assert older == legacy and set(older) == SIGNED_BEFORE
    assert all(len(reading) == 4 for reading in older["vitals"].values())


def test_sign_and_lock_saves_what_was_typed_first_and_keeps_it_when_signing_is_refused(team, make, auth, client):
    """The review: a response typed and signed straight away came back empty ("Still needed: … what was
    done"). The record form's "Sign and lock" saves the form, then signs; a refusal keeps the save."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    typed = dict(HIGH_BASELINE, **{"response_baseline-action": RESPONSE["response_baseline-action"]})
    refused = auth.post(f"/dosing/{session_id}", dict(_record_data(_session(make, session_id), team["prescriber"],
                                                                   **typed), then_sign="1"), follow_redirects=True)
    assert "Not signed" in page_text(refused) and "who decided the response" in page_text(refused)
    kept = _session(make, session_id)
    assert kept.status == "draft" and [r.action for r in kept.vital_responses] == [RESPONSE["response_baseline-action"]]
    # the saved response's "who decided" is shown chosen, so saving the page again keeps it
    assert auth.post(f"/dosing/{session_id}", _record_data(kept, team["prescriber"], **HIGH_BASELINE,
                                                           **_respond(team))).status_code == 302
    page = client.get(f"/dosing/{session_id}").get_data(as_text=True)
    chosen = re.search(r'(?s)<select[^>]*name="response_baseline-decided_by".*?</select>', page).group(0)
    assert re.search(rf'<option[^>]*selected[^>]*value="{team["prescriber"]}"|<option[^>]*value="{team["prescriber"]}"'
                     r'[^>]*selected', chosen)
    complete = dict(_record_data(_session(make, session_id), team["prescriber"], **HIGH_BASELINE, **_respond(team)),
                    then_sign="1")
    assert auth.post(f"/dosing/{session_id}", complete).status_code == 302
    assert _session(make, session_id).status == "signed"
    rows = [(r.action, r.outcome) for r in make.audit_rows() if r.action in ("dosing.update", "dosing.sign")]
    assert rows[-5:] == [("dosing.update", "success"), ("dosing.sign", "failure"), ("dosing.update", "success"),
                         ("dosing.update", "success"), ("dosing.sign", "success")]


def test_dosing_past_the_do_not_start_limit_is_a_prescribers_decision(team, make, auth, client):
    """Review of issue 19 (new user): re-checked at 181/111, still past the limit, the dose went ahead
    on the nurse's decision and the record signed."""
    from ketamine_integration.patients.care_team import change_care_team, team_of  # noqa: PLC0415
    from ketamine_integration.patients.models import Patient  # noqa: PLC0415
    nurse = make.user("nurse", username="nurse", full_name="Rue Nightingale")
    make.run(lambda: change_care_team(db.session.get(Patient, team["patient"]),
                                      team_of(db.session.get(Patient, team["patient"])) | {(nurse, "nurse")},
                                      by=None, reason="the nurse on this patient's dosing days"))
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    still_above = _respond(team, **{"response_baseline-decided_by": str(nurse),
                                    "response_baseline-later_systolic": "181",
                                    "response_baseline-later_diastolic": "111"})
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **still_above).status_code == 302
    refused = page_text(_try_to_sign(make, auth, session_id))
    assert "a prescriber named as deciding to dose past the protocol's do-not-start limit" in refused
    assert _session(make, session_id).status == "draft"
    decided = dict(still_above, **{"response_baseline-decided_by": str(team["prescriber"])})
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **decided,
                 responses_change_reason="The prescriber made the call, not the nurse.").status_code == 302
    assert "signed and locked" in page_text(_try_to_sign(make, auth, session_id))
