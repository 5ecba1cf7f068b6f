"""Safety signals nobody can miss, and baselines that are measurements (issue 19, points 6 and 7):
every source of suicide risk raises an alert the care team sees until a clinician acknowledges it
with what was done; the alert then stays in the patient's safety history. Baseline checklist items
are met by a measure dated before the first dose, never by a tick."""
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.accounts.models import User
from ketamine_integration.coordination.report import report_data
from ketamine_integration.courses.models import PreparationRecord, TreatmentCourse
from ketamine_integration.courses.services import course_facts
from ketamine_integration.db.errors import DomainError
from ketamine_integration.experience.models import DRAFT, DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.baselines import baseline_of, course_measures, first_dose_of
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.services import acknowledge_alert, record_measure, void_measure
from tests.clock_changes import next_clock_change
from tests.conftest import page_text
from tests.icons import after_icon, badges
from tests.integration.test_notes import (TODAY, _integration_data, _phq9, _start, _version, dose_started,
                                         entered_on_their_day, make_team)


@pytest.fixture
def team(make):
    return make_team(make)


def _alerts(make):
    return make.query(lambda: [(a.source, a.finding, a.acknowledged_by_id, a.acknowledgement)
                               for a in db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id))])


def _save(auth, make, team, note, **risk):
    data = _integration_data(_version(make, note), **{"themes-0-theme": str(team["theme"]), **risk})
    return auth.post(f"/notes/{note}", data, follow_redirects=True)


def test_a_risk_screen_alert_reaches_the_care_team_and_stays_in_the_history_once_acknowledged(team, make, auth,
                                                                                              client):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    saved = page_text(_save(auth, make, team, note, self_harm_thoughts="yes", self_harm_intent="no",
                            safety_plan_reviewed="yes"))
    # raised by the draft: a safety signal never waits for the signature
    assert "Safety alert: Risk screen: thoughts of self-harm reported." in saved
    _save(auth, make, team, note, self_harm_thoughts="yes", self_harm_intent="no", safety_plan_reviewed="yes")
    assert len(_alerts(make)) == 1                                        # saved again: no second alert
    _save(auth, make, team, note, self_harm_thoughts="yes", self_harm_intent="yes", safety_plan_reviewed="yes")
    assert [a[1] for a in _alerts(make)] == ["Risk screen: thoughts of self-harm reported",
                                             "Risk screen: intent to act on thoughts of self-harm reported"]
    auth.logout()
    for who in ("pres", "ther2"):                # the prescriber and the patient's other therapist
        auth.sign_in(who)
        home = page_text(client.get("/"))
        assert "Safety alerts to acknowledge" in home and "intent to act on thoughts of self-harm" in home
        auth.logout()
    auth.sign_in("pres")
    assert "Risk screen: intent to act" in page_text(client.get("/prescriber/"))
    first, second = make.query(lambda: db.session.scalars(select(SafetyAlert.id).order_by(SafetyAlert.id)).all())
    refused = auth.post(f"/alerts/{first}/acknowledge", {"note": ""}, follow_redirects=True)
    assert "This field is required." in page_text(refused) and _alerts(make)[0][2] is None
    done = "Called the patient with the therapist: passive thoughts, no plan; safety plan reviewed."
    assert auth.post(f"/alerts/{first}/acknowledge", {"note": done}).status_code == 302
    again = auth.post(f"/alerts/{first}/acknowledge", {"note": "A second, different account of it."},
                      follow_redirects=True)
    assert "Already acknowledged by Orrin Vale" in page_text(again)
    assert _alerts(make)[0][2:] == (team["prescriber"], done)
    measures = page_text(client.get(f"/courses/{team['course']}/measures"))
    assert "Safety history" in measures and done in measures and "Orrin Vale" in measures
    assert "Safety alert: Risk screen: intent to act on thoughts of self-harm reported" in measures  # still open
    html = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    course = page_text(client.get(f"/courses/{team['course']}"))
    assert "Therapist's risk screen" in course and done in course and ("danger", "Open") in badges(html)
    assert after_icon(html, "Orrin Vale, ") == 1  # the acknowledged one: who and when, beside its check
    assert "1 safety alert" in course


def test_padding_never_meets_the_minimum_of_what_was_done_or_why(team, make, auth, client):
    """The attack review's finding: note="ok        ." acknowledged an alert (11 characters, 3 of
    them written). A minimum counts what was written; spaces do not count, by form or service."""
    auth.sign_in("ther")
    assert _phq9(auth, team["course"], item9="1", base="0").status_code == 302
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))
    refused = auth.post(f"/alerts/{alert}/acknowledge", {"note": "ok        ."}, follow_redirects=True)
    assert "Say what was done (at least 10 characters, spaces not counted)." in page_text(refused)
    assert _alerts(make)[0][2:] == (None, None)                             # still open
    make.query(lambda: _refused_by_service(lambda: acknowledge_alert(
        db.session.get(SafetyAlert, alert), note="ok  \n\n      .", by=db.session.get(User, team["therapist"]),
        now=datetime.now(timezone.utc)), "note"))
    response = make.query(lambda: db.session.scalar(select(MeasureResponse.id)))
    refused = auth.post(f"/measures/{response}/void", {"reason": " a      b "}, follow_redirects=True)
    assert "Write at least 5 characters (spaces do not count)." in page_text(refused)
    make.query(lambda: _refused_by_service(lambda: void_measure(
        db.session.get(MeasureResponse, response), reason="a b    c", by=db.session.get(User, team["therapist"])),
        "reason"))
    assert make.query(lambda: db.session.get(MeasureResponse, response).voided_at) is None
    assert [row.outcome for row in make.audit_rows(action="alert.acknowledge")] == ["failure"]
    assert [row.outcome for row in make.audit_rows(action="measure.void")] == ["failure"]


def _refused_by_service(attempt, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        attempt()
    assert list(refused.value.reasons) == [field]


@pytest.mark.both_engines  # raw SQL behind the append-only guard
def test_an_acknowledgement_is_append_only_in_the_database(team, make, auth):
    auth.sign_in("ther")
    note = _start(auth, team["course"])
    _save(auth, make, team, note, self_harm_thoughts="yes", self_harm_intent="no", safety_plan_reviewed="yes")
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))
    assert auth.post(f"/alerts/{alert}/acknowledge", {"note": "Reviewed the safety plan by phone."}).status_code == 302

    def rewrite(sql):
        with db.engine.begin() as conn:
            conn.execute(text(sql), {"id": alert})
    for sql in ("UPDATE safety_alerts SET acknowledgement = 'Nothing needed' WHERE id = :id",   # one way only
                "UPDATE safety_alerts SET finding = 'Nothing reported' WHERE id = :id",         # frozen (0022)
                "UPDATE safety_alerts SET source = 'measure' WHERE id = :id",                   # frozen (0022)
                "DELETE FROM safety_alerts WHERE id = :id"):
        with pytest.raises(DBAPIError):
            make.run(lambda: rewrite(sql))


@pytest.mark.both_engines  # each engine's CHECK, in raw SQL
def test_an_alert_cannot_be_acknowledged_without_saying_what_was_done_even_in_sql(team, make, auth):
    auth.sign_in("ther")
    assert _phq9(auth, team["course"], item9="2").status_code == 302
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))

    def blank():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE safety_alerts SET acknowledged_at = CURRENT_TIMESTAMP, acknowledged_by_id = 1, "
                              "acknowledgement = '' WHERE id = :id"), {"id": alert})
    with pytest.raises(DBAPIError):                                       # CHECK acknowledged_with_what_was_done
        make.run(blank)


def _cssrs(auth, course, answers: dict, when=None):
    data = {"cssrs-administered_on": (when or TODAY).isoformat(), **{f"cssrs-item{n}": v for n, v in answers.items()}}
    return auth.post(f"/courses/{course}/measures/cssrs", data, follow_redirects=True)


def test_the_cssrs_screener_follows_its_skip_logic_and_alerts_with_its_risk_level(team, make, auth, client):
    auth.sign_in("ther")
    skipped_wrongly = _cssrs(auth, team["course"], {1: "0", 2: "0", 3: "1", 6: "0"})
    assert "item 3 is asked only when item 2 is answered “Yes”; mark it not asked." in page_text(skipped_wrongly)
    assert make.query(lambda: db.session.scalars(select(MeasureResponse)).all()) == []
    assert "C-SSRS screener recorded" not in page_text(_cssrs(auth, team["course"], {1: "1", 2: "1", 6: "0"}))
    none = page_text(_cssrs(auth, team["course"], {1: "0", 2: "0", 6: "0"}))
    assert "C-SSRS screener recorded: No risk identified." in none and "Safety alert" not in none
    high = page_text(_cssrs(auth, team["course"], {1: "1", 2: "1", 3: "0", 4: "1", 5: "0", 6: "1"}))
    assert "Safety alert: C-SSRS screener: High risk (yes to questions 1, 2, 4 and 6)." in high
    assert "Q3: No; Q4: Yes; Q5: No; Q6: Yes, more than 3 months ago" in high          # the table's answers
    assert "No risk identified" in high and "Q3: not asked" in high
    stored = make.query(lambda: db.session.execute(select(SafetyAlert.source, SafetyAlert.item_score)).one())
    assert tuple(stored) == ("measure", None)


def _course_page(client, team):
    return page_text(client.get(f"/courses/{team['course']}"))


def test_a_baseline_is_a_measure_before_the_first_dose_never_a_tick(make, auth, client):
    ids = make_team(make)
    course_id = make.course(ids["patient"], ids["therapist"], ids["prescriber"], start=TODAY - timedelta(days=40))
    team = {**ids, "course": course_id}
    auth.sign_in("ther")
    tick = auth.post(f"/courses/{course_id}/preparation", {"item": "baseline_phq9",
                                                          "completed_on": TODAY.isoformat(), "note": ""})
    assert tick.status_code == 422 and "Baseline PHQ-9 is not ticked: record the PHQ-9 itself" in page_text(tick)
    assert make.query(lambda: db.session.scalars(select(PreparationRecord)).all()) == []
    assert "Baseline PHQ-9 Not measured: no PHQ-9 recorded before the first dose" in _course_page(client, team)

    with entered_on_their_day():
        assert _phq9(auth, course_id, base="2", when=TODAY - timedelta(days=30)).status_code == 302   # total 16
        assert _phq9(auth, course_id, base="3", when=TODAY - timedelta(days=20)).status_code == 302   # total 24
    page = _course_page(client, team)
    assert f"Baseline PHQ-9 Measured: PHQ-9 of {TODAY - timedelta(days=20)}: 24 (Severe)" in page
    dose_started(make, course_id, TODAY - timedelta(days=10))
    assert _phq9(auth, course_id, base="1", when=TODAY - timedelta(days=10)).status_code == 302   # dose day
    assert _phq9(auth, course_id, base="1", when=TODAY).status_code == 302                        # total 8
    measures = page_text(client.get(f"/courses/{course_id}/measures"))
    assert f"Baseline: PHQ-9 of {TODAY - timedelta(days=20)}, total 24 (the last before the first dose" in measures
    assert "16 Moderately severe 0 before the first dose" in measures
    assert "24 Severe 0 baseline" in measures
    assert "8 Mild 0 -16 (-67%) Yes No" in measures                        # against 24, not the first (16)
    facts = make.query(lambda: course_facts(db.session.get(TreatmentCourse, course_id)).preparation_items_done)
    assert "baseline_phq9" in facts and "baseline_gad7" not in facts


def test_without_a_measure_before_the_first_dose_response_cannot_be_computed(make, auth, client):
    ids = make_team(make)
    course_id = ids["course"]                                  # in integration, enrolled today
    dose_started(make, course_id, TODAY - timedelta(days=7))
    # a tick recorded before baselines were measurements stays in the history and counts no more
    make.run(lambda: db.session.add(PreparationRecord(course_id=course_id, item="baseline_phq9",
                                                      completed_on=TODAY - timedelta(days=8), note="Done",
                                                      recorded_by_id=ids["therapist"])))
    auth.sign_in("ther")
    assert _phq9(auth, course_id, base="2", when=TODAY - timedelta(days=7)).status_code == 302   # the dose day
    assert _phq9(auth, course_id, base="1", when=TODAY).status_code == 302
    measures = page_text(client.get(f"/courses/{course_id}/measures"))
    assert "No baseline PHQ-9 before the first dose: response cannot be computed." in measures
    assert "16 Moderately severe 0 no baseline — —" in measures
    page = page_text(client.get(f"/courses/{course_id}"))
    assert "Not measured: no PHQ-9 recorded before the first dose" in page
    assert "(a tick from before baselines were measurements: it no longer counts)" in page
    facts = make.query(lambda: course_facts(db.session.get(TreatmentCourse, course_id)).preparation_items_done)
    assert "baseline_phq9" not in facts


def test_a_measure_backdated_after_dosing_began_never_becomes_the_baseline(make, auth, client):
    """The attack review's finding: six days after the first dose, a PHQ-9 dated the day before it
    with total 24 became "Baseline: PHQ-9 of ..." and turned the response from No to Yes. Entered
    after dosing began, it is shown as such and is not the baseline, on the page and in the report."""
    ids = make_team(make)
    course_id = ids["course"]
    auth.sign_in("ther")
    with entered_on_their_day():                                       # at intake, before any dose
        assert _phq9(auth, course_id, base="2", when=TODAY - timedelta(days=20)).status_code == 302  # 16
    dose_started(make, course_id, TODAY - timedelta(days=6))
    assert _phq9(auth, course_id, base="1", when=TODAY).status_code == 302                         # 8
    backdated = TODAY - timedelta(days=7)                                  # the day before the first dose
    assert _phq9(auth, course_id, base="3", when=backdated).status_code == 302                     # 24
    measures = page_text(client.get(f"/courses/{course_id}/measures"))
    assert f"Baseline: PHQ-9 of {TODAY - timedelta(days=20)}, total 16" in measures
    assert "24 Severe 0 entered after dosing began (not used as the baseline) — —" in measures
    assert "8 Mild 0 -8 (-50%) Yes No" in measures                        # against 16: not against the 24
    facts = make.query(lambda: course_facts(db.session.get(TreatmentCourse, course_id)).preparation_items_done)
    assert "baseline_phq9" in facts
    assert f"Baseline PHQ-9 Measured: PHQ-9 of {TODAY - timedelta(days=20)}: 16" in page_text(
        client.get(f"/courses/{course_id}"))

    def report_rows():
        course, prescriber = db.session.get(TreatmentCourse, course_id), db.session.get(User, ids["prescriber"])
        [series] = report_data(course, recipient=prescriber, author=course.therapist, categories={"measures"},
                               now=datetime.now(timezone.utc), questions=None, recommendations=None).measures
        return [(row.date, row.total, row.change) for row in series.rows]
    assert make.query(report_rows) == [
        (str(TODAY - timedelta(days=20)), 16, "baseline"),
        (str(backdated), 24, "entered after dosing began (not used as the baseline)"),
        (str(TODAY), 8, "-8")]


def test_a_measure_entered_after_dosing_began_alone_is_no_baseline(make, auth, client):
    ids = make_team(make)
    course_id = ids["course"]
    dose_started(make, course_id, TODAY - timedelta(days=6))
    auth.sign_in("ther")
    assert _phq9(auth, course_id, base="3", when=TODAY - timedelta(days=7)).status_code == 302    # backdated
    measures = page_text(client.get(f"/courses/{course_id}/measures"))
    assert "No baseline PHQ-9 before the first dose: response cannot be computed." in measures
    assert "Not measured: no PHQ-9 recorded before the first dose" in page_text(client.get(f"/courses/{course_id}"))


def test_the_first_dose_day_is_the_clinics_across_a_dst_change(make, team):
    """23:30 in New York on the Saturday before the clocks go back (the next such night) is 03:30
    UTC on the Sunday: the first dose is on the Saturday, so a PHQ-9 of the Friday is the baseline and
    one of the Saturday is not."""
    sunday = next_clock_change(forward=False)
    saturday, friday = (sunday - timedelta(days=1)).date(), (sunday - timedelta(days=2)).date()
    dose_started_at = datetime.combine(saturday, time(23, 30), tzinfo=sunday.tzinfo).astimezone(timezone.utc)
    assert (dose_started_at.date(), dose_started_at.hour) == (sunday.date(), 3)

    def scenario():
        db.session.add(DosingSession(course_id=team["course"], sequence=1, status=DRAFT, started_at=dose_started_at))
        course, by = db.session.get(TreatmentCourse, team["course"]), db.session.get(User, team["therapist"])
        for day, base in ((friday, 2), (saturday, 1)):  # both entered before the dose: the date alone decides
            with entered_on_their_day():
                record_measure(course, measure="phq9", answers=[base] * 8 + [0], difficulty=None,
                               administered_on=day, by=by, today=sunday.date() + timedelta(days=1))
        first = first_dose_of(course.id)
        return first.on, baseline_of(course_measures(course.id), "phq9", first).administered_on
    assert make.run(scenario) == (saturday, friday)
