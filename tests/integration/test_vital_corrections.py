"""The attack review of issue 19's dosing records: a clinical response is words and a later reading
taken when it can answer its flag, and checked itself; REMS answers follow the readings; a saved
reading changes only with a reason and its earlier values stay on the record; times in order."""
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.experience.models import DosingSession, VitalSignCorrection
from ketamine_integration.experience.services import content_digest, signed_content, verify_signed_sessions
from ketamine_integration.extensions import db
from tests.clinic_day import at_run, at_run_all, follows_the_day
from tests.conftest import page_text
from tests.integration.test_dosing import _planned, _record_data, _session, form_time, local, team  # noqa: F401
from tests.integration.test_dosing import _plan as _plan_form, _sessions
from tests.integration.test_vital_thresholds import HIGH_BASELINE, _save, _try_to_sign, preview_under_a_dosing_release
from tests.security.append_only_world import as_database_owner

START = follows_the_day(globals(), "START", lambda: local(3, 9))
ACTION = "Observed 20 more minutes; prescriber reviewed the repeat reading."


def _response(team, timepoint: str, at, action=ACTION, **later) -> dict:
    return {f"response_{timepoint}-action": action, f"response_{timepoint}-decided_by": str(team["prescriber"]),
            f"response_{timepoint}-later_at": form_time(at),
            **{f"response_{timepoint}-later_{name}": str(value) for name, value in later.items()}}


#: the review's 40-minute reading, flagged
HIGH_POST_40 = {"post_40-systolic": "196", "post_40-diastolic": "118"}


@pytest.mark.parametrize("readings, answer, field_error", [
    # "what was done" of "." documents nothing
    (HIGH_BASELINE, lambda t: _response(t, "baseline", START - timedelta(minutes=5), action=".",
                                        systolic=150, diastolic=95), "Say what was done, in words"),
    # ...nor does "x   y" once whitespace is collapsed
    (HIGH_BASELINE, lambda t: _response(t, "baseline", START - timedelta(minutes=5), action="x  \n y",
                                        systolic=150, diastolic=95), "Say what was done, in words"),
    # a re-check of the 40-minute reading timed before dosing started answers nothing
    (HIGH_POST_40, lambda t: _response(t, "post_40", START - timedelta(minutes=30), systolic=150, diastolic=95),
     "comes after the start of dosing"),
    # a re-check of the reading before dosing taken after dosing started is no pre-dose reading
    (HIGH_BASELINE, lambda t: _response(t, "baseline", START + timedelta(minutes=10), systolic=150, diastolic=95),
     "taken before dosing starts"),
    # nor one from the evening before
    (HIGH_BASELINE, lambda t: _response(t, "baseline", START - timedelta(hours=14), systolic=150, diastolic=95),
     "more than 3 hours before dosing started"),
    # a re-check of the discharge reading after the patient left
    ({"discharge-systolic": "170", "discharge-diastolic": "105"},
     lambda t: _response(t, "discharge", START + timedelta(minutes=140), systolic=150, diastolic=92),
     "This is after discharge"),
])
def test_a_response_is_words_and_a_later_reading_taken_when_it_can_answer(team, make, auth, readings, answer,
                                                                           field_error):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    refused = _save(make, auth, session_id, team, **readings, **answer(team))
    assert refused.status_code == 422 and field_error in page_text(refused)
    assert _session(make, session_id).status == "planned"   # nothing half-saved


def test_a_later_reading_is_checked_itself_and_shown_where_responses_show(team, make, auth, client):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    # the re-check before dosing is still past the do-not-start limit; the prescriber dosed anyway
    still_high = _response(team, "baseline", START - timedelta(minutes=5),
                           action="Prescriber reviewed; dosed at 184/112 after discussing risks.",
                           systolic=184, diastolic=112)
    assert _save(make, auth, session_id, team, **HIGH_BASELINE, **still_high).status_code == 302
    draft = page_text(client.get(f"/dosing/{session_id}"))   # on the draft form, by the response
    assert "Flagged: Later reading before dosing: systolic pressure 184 mmHg" in draft
    assert "Entered by Orrin Vale." in draft
    assert _try_to_sign(make, auth, session_id) and _session(make, session_id).status == "signed"
    shown = "Later reading before dosing: systolic pressure 184 mmHg is at or above 180 mmHg " \
            "(dosed above the do-not-start limit)."
    assert shown in page_text(client.get(f"/dosing/{session_id}"))
    assert shown in page_text(client.get(f"/courses/{team['course']}"))
    assert shown in page_text(client.get("/prescriber/"))
    auth.logout()
    assert shown in preview_under_a_dosing_release(auth, team)


def test_a_discharge_re_check_after_discharge_does_not_make_the_vitals_in_range(team, make, auth):
    """Saved before the times were checked together (a draft from before this rule): the sign-time
    check and the derived criteria still refuse to count it."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    high = {"discharge-systolic": "170", "discharge-diastolic": "105"}
    in_time = _response(team, "discharge", START + timedelta(minutes=125), systolic=150, diastolic=92)
    assert _save(make, auth, session_id, team, **high, **in_time).status_code == 302
    assert _session(make, session_id).discharge_ready is True
    # discharge moved before the re-check: the re-check no longer qualifies
    earlier = form_time(START + timedelta(minutes=121))
    refused = _save(make, auth, session_id, team, **high, **in_time, discharged_at=earlier)
    assert refused.status_code == 422 and "This is after discharge" in page_text(refused)

    def move_discharge():
        session = db.session.get(DosingSession, session_id)
        session.discharged_at = START + timedelta(minutes=121)
        from ketamine_integration.experience import monitoring
        monitoring.derive(session)
        return session.discharge_ready
    assert make.run(move_discharge) is False
    refused = page_text(_try_to_sign(make, auth, session_id))
    assert "a later reading taken when it can answer the flagged reading before discharge" in refused


def _esketamine_session(make, team) -> int:
    course = make.course(team["patient"], team["therapist"], team["prescriber"], protocol="esketamine-trd-rems",
                         phase="experience")
    [session_id] = make.dosing_plan(course, first_start=START, days_between=3, count=1)
    return session_id


def _rems_record(make, team, session_id, **overrides) -> dict:
    rems = dict(route="intranasal", medication="esketamine", dose_mg="56", weight_kg="",
                ended_at=form_time(START + timedelta(minutes=30)), discharged_at=form_time(START + timedelta(minutes=150)),
                ready_to_leave_at=form_time(START + timedelta(minutes=90)), vitals_acceptable_before_dosing="yes",
                vitals_acceptable_before_discharge="yes", concomitant_sedating_medications="none")
    return _record_data(_session(make, session_id), team["prescriber"], **dict(rems, **overrides))


@pytest.mark.parametrize("recheck, refused", [
    # the re-check is still past the do-not-start limit: "acceptable before dosing" cannot be yes
    ({"systolic": 182, "diastolic": 112}, True),
    # back under the limit on the re-check: yes stands (the flag still needs its response, given here)
    ({"systolic": 150, "diastolic": 95}, False),
])
def test_rems_acceptable_before_dosing_follows_the_reading(team, make, auth, recheck, refused):
    session_id = _esketamine_session(make, team)
    auth.sign_in("pres")
    data = _rems_record(make, team, session_id, **{"baseline-systolic": "186", "baseline-diastolic": "114"},
                        **_response(team, "baseline", START - timedelta(minutes=10), **recheck))
    assert auth.post(f"/dosing/{session_id}", data).status_code == 302
    page = page_text(_try_to_sign(make, auth, session_id))
    needed = "REMS: vital signs acceptable before dosing is answered yes while the reading before dosing"
    assert (needed in page) is refused
    assert _session(make, session_id).status == ("draft" if refused else "signed")


@pytest.mark.both_engines  # the earlier readings are stored, signed and guarded on both engines
def test_a_changed_saved_reading_keeps_the_earlier_one(app, team, make, auth, client):
    """The review: a nurse's 186/114 changed to 138/88 by the prescriber, who signed; nothing showed 186/114."""
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    high = {"baseline-systolic": "186", "baseline-diastolic": "114"}
    assert _save(make, auth, session_id, team, **high).status_code == 302
    refused = _save(make, auth, session_id, team)   # 128/82: the saved 186/114 silently replaced
    assert refused.status_code == 422 and "You changed a reading already saved (before dosing)" in page_text(refused)
    assert _session(make, session_id).vitals[0].systolic == 186
    # adding a reading where none was saved is not a correction
    assert _save(make, auth, session_id, team, **high, **{"baseline-respiratory_rate": "14"}).status_code == 302
    why = "Transcription error: 138/88 was the reading on the monitor."
    assert _save(make, auth, session_id, team, vitals_correction_reason=why).status_code == 302
    draft = _session(make, session_id)
    [earlier] = draft.vital_corrections
    assert (earlier.timepoint, earlier.systolic, earlier.diastolic, earlier.respiratory_rate) == \
        ("baseline", 186, 114, 14)
    assert (earlier.entered_by_id, earlier.corrected_by_id, earlier.reason) == \
        (team["prescriber"], team["prescriber"], why)
    assert {v.timepoint: v.entered_by_id for v in draft.vitals}["baseline"] == team["prescriber"]
    assert _try_to_sign(make, auth, session_id) and _session(make, session_id).status == "signed"
    page = page_text(client.get(f"/dosing/{session_id}"))
    assert ("Earlier readings Before dosing: blood pressure 186/114 mmHg, heart rate 72 beats/min, SpO2 98 %, "
            "respiratory rate 14 breaths/min (Measured by the clinician; entered by Orrin Vale)") in page
    assert "Changed by Orrin Vale on" in page and why in page and "(entered by Orrin Vale)" in page
    content = make.query(lambda: signed_content(db.session.get(DosingSession, session_id)))
    assert content["earlier_readings"][0][:2] == ["baseline", [186, 114, 72, 98, 14]]
    signed = _session(make, session_id)
    assert signed.content_digest == make.query(lambda: content_digest(db.session.get(DosingSession, session_id)))
    # append-only: never changed, never deleted, none added to a signed record
    for statement in ("UPDATE vital_sign_corrections SET systolic = 138", "DELETE FROM vital_sign_corrections",
                      "INSERT INTO vital_sign_corrections (dosing_session_id, timepoint, corrected_by_id, corrected_at, "
                      "reason) SELECT id, 'post_40', signed_by_id, signed_at, 'added later' FROM dosing_sessions "
                      "WHERE status = 'signed'"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement)))
    assert make.query(lambda: db.session.scalars(select(VitalSignCorrection.systolic)).all()) == [186]
    # rewritten by the database owner with the guards lifted: the record's signature no longer verifies
    with as_database_owner(app) as conn:
        conn.execute(text("UPDATE vital_sign_corrections SET systolic = 138"))
    assert make.query(verify_signed_sessions) == [(session_id, False)]


@pytest.mark.parametrize("overrides, field, message", [
    # the review: dosing 08:00-19:59, discharge next day 10:30 (26.5 hours after the start)
    ({"started_at": lambda: form_time(local(3, 8)), "ended_at": lambda: form_time(local(3, 19) + timedelta(minutes=59)),
      "discharged_at": lambda: form_time(local(2, 10) + timedelta(minutes=30))},
     "discharged_at", "more than 24 hours after the start of dosing"),
    # discharge before the start, no end time: -60 minutes of monitoring was saved
    ({"ended_at": "", "discharged_at": lambda: form_time(START - timedelta(minutes=60))},
     "discharged_at", "Discharge comes after the start of dosing"),
])
def test_times_of_a_record_in_their_order(team, make, auth, overrides, field, message):
    session_id = _planned(make, team)[0]
    auth.sign_in("pres")
    refused = _save(make, auth, session_id, team, **at_run_all(overrides))
    assert refused.status_code == 422 and message in page_text(refused)
    assert _session(make, session_id).monitoring_minutes is None


@pytest.mark.parametrize("ready", [
    lambda: START - timedelta(minutes=30),    # REMS "ready to leave" before dosing started
    lambda: START + timedelta(minutes=200),   # ...or after discharge (at 150 minutes)
])
def test_rems_ready_to_leave_lies_between_the_start_of_dosing_and_discharge(team, make, auth, ready):
    session_id = _esketamine_session(make, team)
    auth.sign_in("pres")
    refused = auth.post(f"/dosing/{session_id}", _rems_record(make, team, session_id, ready_to_leave_at=form_time(at_run(ready))))
    assert refused.status_code == 422 and "between the start of dosing and discharge" in page_text(refused)
    assert _session(make, session_id).status == "planned"


def test_a_dose_does_not_start_inside_another_sessions_monitoring(team, make, auth):
    first, second = make.dosing_plan(team["course"], first_start=local(5, 9), days_between=2, count=2)
    auth.sign_in("pres")
    five_days_ago = local(5, 9)
    assert auth.post(f"/dosing/{first}", _record_data(
        _session(make, first), team["prescriber"], started_at=form_time(five_days_ago),
        ended_at=form_time(five_days_ago + timedelta(minutes=40)),
        discharged_at=form_time(five_days_ago + timedelta(minutes=130)))).status_code == 302
    inside = five_days_ago + timedelta(minutes=90)
    data = _record_data(_session(make, second), team["prescriber"], started_at=form_time(inside),
                        ended_at=form_time(inside + timedelta(minutes=40)),
                        discharged_at=form_time(inside + timedelta(minutes=130)),
                        spacing_reason="Prescriber agreed to a second dose the same day.")
    refused = auth.post(f"/dosing/{second}", data)
    assert refused.status_code == 422
    assert "Dosing session 1 runs from" in page_text(refused) and "while another session is monitored" in \
        page_text(refused)
    assert _session(make, second).status == "planned"


def test_at_home_a_reading_says_who_took_it(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience",
                         protocol="sublingual-ketamine-kap")
    auth.sign_in("pres")
    assert _plan_form(auth, course, local(3), count=1, setting="supervised_at_home").status_code == 302
    [session] = _sessions(make, course)
    home = dict(_record_data(session, team["prescriber"]), route="sublingual", dose_mg="150", weight_kg="",
                **{"post_40-source": "device", "discharge-source": "device"})
    refused = auth.post(f"/dosing/{session.id}", home)   # "Taken by" left blank before dosing
    assert refused.status_code == 422 and "Say who took these readings" in page_text(refused)
    assert _session(make, session.id).status == "planned"
    assert auth.post(f"/dosing/{session.id}", dict(home, **{"baseline-source": "patient_reported"})).status_code == 302


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_shows_a_corrected_reading_with_its_earlier_values(app, make):
    def inspect():
        corrections = db.session.scalars(select(VitalSignCorrection)).all()
        return [(c.timepoint, c.heart_rate, c.reason, c.dosing_session.status) for c in corrections]
    corrections = make.query(inspect)
    assert corrections and all(timepoint == "discharge" and heart_rate == 27 and "typed as 27" in reason
                               and status == "signed" for timepoint, heart_rate, reason, status in corrections)
