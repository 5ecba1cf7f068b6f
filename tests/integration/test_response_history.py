"""Review of issue 19: a saved clinical response or adverse event is a fact. Changing or removing one
keeps its earlier version (who, when, why) in an append-only history, a removed one is withdrawn
and never deleted, a save that changes nothing writes nothing, and the signed record shows and
signs the earlier versions."""
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.experience.models import (AdverseEvent, AdverseEventRevision, DosingSession,
                                                    VitalResponseRevision, VitalSignResponse)
from ketamine_integration.experience.services import signed_content, verify_signed_sessions
from ketamine_integration.extensions import db
from tests.clinic_day import follows_the_day
from tests.conftest import page_text
from tests.integration.test_dosing import _planned, _session, form_time, local, team  # noqa: F401
from tests.integration.test_vital_thresholds import HIGH_BASELINE, _save, _try_to_sign
from tests.security.append_only_world import as_database_owner

START = follows_the_day(globals(), "START", lambda: local(3, 9))
FIRST = "Rested 15 minutes in a quiet room; prescriber reviewed the repeat reading."
SECOND = "Rested 25 minutes in a quiet room; prescriber reviewed the repeat reading."
WHY = "The nurse's timed notes show 25 minutes, not 15."


def _response(team, action=FIRST, **extra) -> dict:
    return {"response_baseline-action": action, "response_baseline-decided_by": str(team["prescriber"]),
            "response_baseline-later_at": form_time(START - timedelta(minutes=5)),
            "response_baseline-later_systolic": "150", "response_baseline-later_diastolic": "95", **extra}


def _event(row: int = 0, event_id: int | None = None, **fields) -> dict:
    values = {"event_type": "nausea", "severity": "mild", "action_taken": "ondansetron 4 mg", **fields}
    data = {f"adverse_events-{row}-{name}": value for name, value in values.items()}
    if event_id is not None:
        data[f"adverse_events-{row}-event_id"] = str(event_id)
    return data


def _history(make, session_id: int) -> dict:
    """What the record keeps, as plain data: its revisions, and every response and event row."""
    def read():
        responses = db.session.scalars(select(VitalResponseRevision).where(
            VitalResponseRevision.dosing_session_id == session_id).order_by(VitalResponseRevision.id)).all()
        events = db.session.scalars(select(AdverseEventRevision).where(
            AdverseEventRevision.dosing_session_id == session_id).order_by(AdverseEventRevision.id)).all()
        rows = db.session.scalars(select(AdverseEvent).where(AdverseEvent.dosing_session_id == session_id)
                                  .order_by(AdverseEvent.id)).all()
        kept = db.session.scalars(select(VitalSignResponse).where(
            VitalSignResponse.dosing_session_id == session_id)).all()
        return {"responses": [(r.change, r.action, r.entered_by_id, r.changed_by_id, r.reason) for r in responses],
                "events": [(r.change, r.adverse_event_id, r.event_type, r.severity, r.reason) for r in events],
                "event_rows": [(e.id, e.event_type, e.severity, e.withdrawn_at is not None, e.withdrawn_by_id)
                               for e in rows],
                "response_rows": [(r.timepoint, r.action, r.withdrawn_at is not None) for r in kept]}
    return make.query(read)


def _refused_raw(make, statements: list[str]) -> None:
    for statement in statements:
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement)))


@pytest.mark.both_engines  # the revisions are stored, signed and guarded by triggers on both engines
def test_a_changed_response_keeps_its_earlier_version(app, team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_response(team)).status_code == 302
    refused = _save(make, auth, session_id, team, **HIGH_BASELINE, **_response(team, SECOND))
    assert refused.status_code == 422
    assert "You changed or removed a clinical response already saved (before dosing)" in page_text(refused)
    assert _history(make, session_id)["response_rows"] == [("baseline", FIRST, False)]   # nothing half-saved
    saved = _save(make, auth, session_id, team, **HIGH_BASELINE, **_response(team, SECOND), responses_change_reason=WHY)
    assert saved.status_code == 302
    kept = _history(make, session_id)
    assert kept["responses"] == [("changed", FIRST, team["prescriber"], team["prescriber"], WHY)]
    assert kept["response_rows"] == [("baseline", SECOND, False)]   # the response itself says the new words
    _refused_raw(make, ["DELETE FROM vital_sign_responses"])   # never deleted, even on a draft
    assert _try_to_sign(make, auth, session_id) and _session(make, session_id).status == "signed"
    page = page_text(client.get(f"/dosing/{session_id}"))
    assert f"Earlier clinical responses Before dosing: {FIRST} (decided by Orrin Vale; entered by Orrin Vale; " \
           "later reading" in page
    assert "Changed by Orrin Vale on" in page and WHY in page
    content = make.query(lambda: signed_content(db.session.get(DosingSession, session_id)))
    assert [row[2] for row in content["earlier_responses"]] == [FIRST]
    assert make.query(verify_signed_sessions) == [(session_id, True)]
    # append-only: never changed, never deleted, none added to a signed record
    _refused_raw(make, ["UPDATE vital_response_revisions SET action = 'rewritten'",
                        "DELETE FROM vital_response_revisions",
                        "INSERT INTO vital_response_revisions (dosing_session_id, response_id, timepoint, action, "
                        "change, changed_by_id, changed_at) SELECT dosing_session_id, id, timepoint, 'added later', "
                        "'added_to', entered_by_id, later_at FROM vital_sign_responses"])
    # rewritten by the database owner with the guards lifted: the signature no longer verifies
    with as_database_owner(app) as conn:
        conn.execute(text("UPDATE vital_response_revisions SET action = 'Nothing was needed.'"))
    assert make.query(verify_signed_sessions) == [(session_id, False)]


def test_a_removed_adverse_event_is_withdrawn_and_kept(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **_event()).status_code == 302
    [(event_id, *_)] = _history(make, session_id)["event_rows"]
    form = page_text(client.get(f"/dosing/{session_id}"))
    assert "Why a saved adverse event is changed or removed" in form
    refused = _save(make, auth, session_id, team)   # the row cleared: no adverse event submitted
    assert refused.status_code == 422
    assert "You changed or removed an adverse event already saved (nausea)" in page_text(refused)
    assert _history(make, session_id)["event_rows"] == [(event_id, "nausea", "mild", False, None)]
    why = "Entered on the wrong patient's record; this patient had no nausea."
    assert _save(make, auth, session_id, team, adverse_events_change_reason=why).status_code == 302
    kept = _history(make, session_id)
    assert kept["event_rows"] == [(event_id, "nausea", "mild", True, team["prescriber"])]   # kept, withdrawn
    assert kept["events"] == [("withdrawn", event_id, "nausea", "mild", why)]
    assert make.query(lambda: db.session.get(DosingSession, session_id).adverse_events) == []
    # never deleted, even on a draft
    _refused_raw(make, ["DELETE FROM adverse_events",
                        "UPDATE adverse_event_revisions SET severity = 'none'", "DELETE FROM adverse_event_revisions"])
    assert _try_to_sign(make, auth, session_id) and _session(make, session_id).status == "signed"
    page = page_text(client.get(f"/dosing/{session_id}"))
    assert "Adverse events None recorded now." in page
    assert "Earlier and withdrawn adverse events nausea (mild): ondansetron 4 mg (entered by Orrin Vale). " \
           "Withdrawn by Orrin Vale on" in page and why in page
    content = make.query(lambda: signed_content(db.session.get(DosingSession, session_id)))
    assert content["adverse_events"] == [] and content["earlier_adverse_events"][0][:3] == [event_id, "nausea", "mild"]
    assert make.query(verify_signed_sessions) == [(session_id, True)]


@pytest.mark.both_engines  # saved times and numbers come back from each engine equal to what the form sends
def test_an_unchanged_save_writes_no_history(team, make, auth):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    record = dict(**HIGH_BASELINE, **_response(team), **_event(),
                  **_event(1, event_type="headache", severity="moderate"))
    assert _save(make, auth, session_id, team, **record).status_code == 302
    first = _history(make, session_id)
    ids = [row[0] for row in first["event_rows"]]
    # saved again as the form shows it (with the events' ids), and as a caller without ids sends it
    with_ids = dict(record, **_event(0, ids[0]), **_event(1, ids[1], event_type="headache", severity="moderate"))
    for data in (with_ids, record):
        assert _save(make, auth, session_id, team, **data).status_code == 302
    again = _history(make, session_id)
    assert (again["responses"], again["events"]) == ([], [])
    assert again["event_rows"] == first["event_rows"] and again["response_rows"] == first["response_rows"]
    counts = make.query(lambda: (db.session.scalar(select(func.count()).select_from(VitalResponseRevision)),
                                 db.session.scalar(select(func.count()).select_from(AdverseEventRevision))))
    assert counts == (0, 0)


def test_adding_to_a_response_keeps_the_earlier_version_without_asking_why(team, make, auth):
    """The usual order: what was done first, the later reading once it is taken; nothing saved is
    lost, so no reason is asked, but who entered the first version is kept."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    partial = {"response_baseline-action": FIRST}
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **partial).status_code == 302
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_response(team)).status_code == 302
    assert _history(make, session_id)["responses"] == [("added_to", FIRST, team["prescriber"], team["prescriber"],
                                                        None)]


def test_a_changed_event_is_changed_in_place_and_a_cleared_response_withdrawn(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_response(team), **_event()).status_code == 302
    [(event_id, *_)] = _history(make, session_id)["event_rows"]
    why = "Severity reassessed by the nurse after 20 minutes."
    cleared = "The flagged reading was a cuff error; no response was given."
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_event(0, event_id, severity="moderate"),
                 **{"response_baseline-action": ""}, adverse_events_change_reason=why,
                 responses_change_reason=cleared).status_code == 302
    kept = _history(make, session_id)
    assert kept["event_rows"] == [(event_id, "nausea", "moderate", False, None)]   # the same event, changed
    assert kept["events"] == [("changed", event_id, "nausea", "mild", why)]
    assert kept["responses"] == [("withdrawn", FIRST, team["prescriber"], team["prescriber"], cleared)]
    assert kept["response_rows"] == [("baseline", FIRST, True)]
    # a response entered again at that timepoint takes the kept row back; the withdrawn one stays in history
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **_event(0, event_id, severity="moderate"),
                 **_response(team, SECOND)).status_code == 302
    again = _history(make, session_id)
    assert again["response_rows"] == [("baseline", SECOND, False)] and len(again["responses"]) == 1
    page = page_text(client.get(f"/dosing/{session_id}"))
    assert "Withdrawn by Orrin Vale on" in page and cleared in page


def test_an_event_of_another_record_is_refused(team, make, auth):
    first, second = make.dosing_plan(team["course"], first_start=local(5, 9), days_between=2, count=2)
    auth.sign_in("pres")
    earlier = local(5, 9)
    assert _save(make, auth, first, team, **_event(), started_at=form_time(earlier),
                 ended_at=form_time(earlier + timedelta(minutes=40)),
                 discharged_at=form_time(earlier + timedelta(minutes=130))).status_code == 302
    [(other, *_)] = _history(make, first)["event_rows"]
    refused = _save(make, auth, second, team, **_event(0, other, severity="severe"),
                    adverse_events_change_reason="Trying to change another record's event.")
    assert refused.status_code == 422 and "changed or withdrawn meanwhile" in page_text(refused)
    assert _history(make, first)["event_rows"] == [(other, "nausea", "mild", False, None)]
    assert _session(make, second).status == "planned"


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_shows_a_corrected_adverse_event_with_its_earlier_version(app, make):
    def inspect():
        revisions = db.session.scalars(select(AdverseEventRevision)).all()
        return [(r.change, r.event_type, r.severity, r.reason, r.dosing_session.status) for r in revisions]
    revisions = make.query(inspect)
    assert revisions and all(change == "changed" and (event, severity) == ("headache", "severe")
                             and "typed as severe" in reason and status == "signed"
                             for change, event, severity, reason, status in revisions)
    assert make.query(verify_signed_sessions) and all(ok for _, ok in make.query(verify_signed_sessions))


@pytest.mark.both_engines  # DDL and triggers per engine
def test_the_downgrade_refuses_while_history_is_kept_and_the_guards_come_back(app, team, make, auth, capfd):
    """Without an earlier version kept, migration 0025 goes down and up again with its guards; with
    one, the downgrade stops (the earlier schema would lose it and show a withdrawn event as standing)."""
    session_id = _planned(make, team)[0]
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision="0024_vital_corrections")
            upgrade()
        finally:
            db.session.remove()
    make.sign_packet(team["course"])  # the round trip emptied the signed forms, without which no dose starts
    auth.sign_in("pres")
    assert _save(make, auth, session_id, team, **_event()).status_code == 302
    _refused_raw(make, ["DELETE FROM adverse_events"])   # the guard made again by the upgrade
    assert _save(make, auth, session_id, team, adverse_events_change_reason="Entered on the wrong record.") \
        .status_code == 302
    with app.app_context():
        db.session.remove()
        try:
            downgrade(revision="0025_response_history")  # the later migrations first (one transaction on PostgreSQL)
            with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's error and exits
                downgrade(revision="0024_vital_corrections")
            assert "they are append-only and the earlier schema cannot hold them" in capfd.readouterr().err
            assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == "0025_response_history"
            assert db.session.scalar(text("SELECT count(*) FROM adverse_event_revisions")) == 1
        finally:
            db.session.remove()
            upgrade()


def test_the_form_always_offers_a_row_for_one_more_adverse_event(team, make, auth, client):
    """Three saved events used to fill the form's three rows: a fourth could not be entered."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    kinds = ("nausea", "headache", "dizziness", "anxiety")
    three = {k: v for row, kind in enumerate(kinds[:3]) for k, v in _event(row, event_type=kind).items()}
    assert _save(make, auth, session_id, team, **three).status_code == 302
    form = client.get(f"/dosing/{session_id}").get_data(as_text=True)
    assert 'name="adverse_events-3-event_type"' in form and 'name="adverse_events-4-event_type"' not in form
    rows = _history(make, session_id)["event_rows"]
    saved = {k: v for row, (event_id, kind, *_rest) in enumerate(rows)
             for k, v in _event(row, event_id=event_id, event_type=kind).items()}
    assert _save(make, auth, session_id, team, **saved, **_event(3, event_type="anxiety")).status_code == 302
    after = _history(make, session_id)
    assert [(kind, withdrawn) for _id, kind, _severity, withdrawn, _by in after["event_rows"]] == \
        [(kind, False) for kind in kinds]
    assert after["events"] == []     # the three saved unchanged: no history written
