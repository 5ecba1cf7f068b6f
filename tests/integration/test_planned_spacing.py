"""Follow-up review of issue 19, point 2: the protocol's spacing (never two doses on one day, never
closer than the stage allows, in any phase) is checked against the course's planned and booked
dosing sessions as well as the recorded ones; a new plan or a move that breaks it is refused unless
a prescriber gives a reason, audited either way. A dose is not recorded over another session's
booked time."""
from datetime import timedelta

import pytest

from tests.conftest import page_text
from tests.integration.test_dosing import NY, _plan, _record_data, _session, _sessions, form_time, local
from tests.integration.test_dosing_stages import soon

REASON = "Prescriber's decision: the patient travels next week."


@pytest.fixture
def team(make):
    ids = {"therapist": make.user("therapist", username="ther"), "prescriber": make.user("prescriber", username="pres"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(family_name="Planned")
    return ids


def _move(auth, session_id: int, when, reason: str = ""):
    return auth.post(f"/dosing/{session_id}/reschedule", {"planned_start": form_time(when), "reason": reason},
                     follow_redirects=True)


def test_a_new_plan_is_checked_against_the_doses_already_planned(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    auth.sign_in("desk")
    assert _plan(auth, course, soon(3), count=2, days_between=2).status_code == 302   # days 3 and 5: nothing recorded
    same_day = _plan(auth, course, soon(5, 15), count=1)
    assert same_day.status_code == 422 and "never more than one a day" in page_text(same_day)
    next_day = _plan(auth, course, soon(6), count=1)                  # IV infusions at least 2 days apart
    assert next_day.status_code == 422 and "asks for at least 2" in page_text(next_day)
    assert "Only a prescriber may keep it" in page_text(next_day)
    assert len(_sessions(make, course)) == 2
    assert [r.outcome for r in make.audit_rows(action="dosing.plan")] == ["success", "failure", "failure"]
    auth.logout()
    auth.sign_in("pres")
    assert _plan(auth, course, soon(6), count=1).status_code == 422             # a prescriber needs a reason too
    assert _plan(auth, course, soon(6), count=1, reason=REASON).status_code == 302
    assert [s.spacing_override_reason for s in _sessions(make, course)] == [None, None, REASON]
    assert "spacing override kept with a reason" in make.audit_rows(action="dosing.plan", outcome="success")[-1].detail


def test_a_booster_moved_next_to_another_planned_booster_needs_a_prescribers_reason(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="maintenance")
    auth.sign_in("desk")
    assert _plan(auth, course, soon(3), count=1).status_code == 302
    assert _plan(auth, course, soon(17), count=1).status_code == 302            # IV boosters: at least 7 days apart
    first, second = _sessions(make, course)
    refused = page_text(_move(auth, second.id, soon(5)))                        # two days after the first booster
    assert "maintenance boosters asks for at least 7" in refused and "Only a prescriber may keep it" in refused
    assert page_text(_move(auth, second.id, soon(3, 15))).count("never more than one a day") == 1
    assert _session(make, second.id).planned_start == soon(17)                  # not moved
    assert [r.outcome for r in make.audit_rows(action="dosing.reschedule")] == ["failure", "failure"]
    auth.logout()
    auth.sign_in("pres")
    assert "Give a clinician's reason" in page_text(_move(auth, second.id, soon(5)))
    _move(auth, second.id, soon(5), REASON)
    moved = _session(make, second.id)
    assert (moved.planned_start, moved.spacing_override_reason) == (soon(5), REASON)
    assert "spacing override" in make.audit_rows(action="dosing.reschedule", outcome="success")[-1].detail
    assert _session(make, first.id).spacing_override_reason is None             # the other booster's is its own


def test_a_dose_is_not_recorded_over_another_sessions_booked_time(team, make, auth):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience")
    [morning] = make.dosing_plan(course, first_start=local(3, 9), days_between=2, count=1)
    # an afternoon dose that day, planned with the prescriber's reason, booked 13:00-15:00
    [afternoon] = make.dosing_plan(course, first_start=local(3, 13), days_between=2, count=1, reason=REASON)
    auth.sign_in("pres")

    def record(start, minutes_to_discharge=130):
        return _record_data(_session(make, morning), team["prescriber"], started_at=form_time(start),
                            ended_at=form_time(start + timedelta(minutes=40)),
                            discharged_at=form_time(start + timedelta(minutes=minutes_to_discharge)))
    # started at 13:30, inside the afternoon session's booking: most likely that session's dose
    inside = auth.post(f"/dosing/{morning}", record(local(3, 13) + timedelta(minutes=30)))
    assert inside.status_code == 422
    assert "Dosing session 2 is booked from" in page_text(inside) and "record it on session 2" in page_text(inside)
    # monitored from 9:00 until 13:30: the afternoon session could not start as booked; move it first
    long = auth.post(f"/dosing/{morning}", record(local(3, 9), minutes_to_discharge=270))
    assert long.status_code == 422 and "move or cancel session 2 first" in page_text(long)
    assert _session(make, morning).status == "planned"
    assert auth.post(f"/dosing/{morning}", record(local(3, 9))).status_code == 302   # 9:00 to 11:10
    assert _session(make, morning).started_at.astimezone(NY).hour == 9
    assert _session(make, afternoon).status == "planned"
