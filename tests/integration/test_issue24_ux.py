"""A new user's findings on issue 24's pages: a prescriber finds the discharge summary sent to them
where they find their reports; an ended course's next step names the summary due; a refused "Sign and
lock" keeps the plan's draft; "Reviewed, no change" only on a revision after a signed one; the safety
plan asks for the lock box; every row's control has its own name; measures read as the registry says."""
from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from ketamine_integration.coordination.report import measure_status
from ketamine_integration.discharge.content import _reading
from ketamine_integration.discharge.models import DischargeCopy
from ketamine_integration.domain.measures import CSSRS, MEASURES, PHQ9, WAISR, WSAS
from ketamine_integration.domain.protocols import PREPARATION_ITEMS
from ketamine_integration.extensions import db
from ketamine_integration.notes.baselines import AFTER_FIRST_DOSE
from ketamine_integration.plans.models import TreatmentPlan
from tests.conftest import page_text
from tests.integration.test_coordination import _release
from tests.integration.test_discharge import _sign_summary, _summary, ended  # noqa: F401 (a fixture)
from tests.integration.test_notes import notes_team
from tests.integration.test_treatment_plans import _plan_form, _start
from tests.statements import page_statements


@pytest.fixture
def team(make):
    return notes_team(make)


def _labels(html: str) -> list[str]:
    """Each <label>'s visible text, as a screen reader's list of controls reads it."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]


def _send(auth, make, ended):
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = _summary(make, ended["course"])
    assert _release(auth, ended, ["dosing", "measures", "attendance"]).status_code == 302
    assert auth.post(f"/discharge/{summary.id}/send", {"recipient": str(ended["prescriber"])}).status_code == 302
    auth.logout()
    return summary


# -- 1. the prescriber finds the copy sent to them ---------------------------------------------------

def test_the_prescriber_finds_the_copy_on_the_worklist_coordination_and_course_pages(ended, make, auth, client, app):
    summary = _send(auth, make, ended)
    copy_id = make.query(lambda: db.session.scalar(select(DischargeCopy.id)))
    link = f'href="/discharge-copies/{copy_id}.pdf"'
    auth.sign_in("pres")
    worklist = client.get("/prescriber/").get_data(as_text=True)
    assert link in worklist and "Discharge summary on Wren Discharged" in page_text(client.get("/prescriber/"))
    assert link in client.get(f"/courses/{ended['course']}/coordination").get_data(as_text=True)
    course = client.get(f"/courses/{ended['course']}").get_data(as_text=True)
    assert link in course and "Discharge summary sent to you" in course
    # the worklist's audit row counts what it listed; the download is audited as it was
    assert any("documents 1" in (row.detail or "").split("; ", 1)[-1].split(", ") for row in make.audit_rows(action="patient.list"))
    assert client.get(f"/discharge-copies/{copy_id}.pdf").status_code == 200
    assert make.audit_rows(action="discharge.copy_download")
    # a second copy costs the worklist and the course page no statement more
    before = (page_statements(app, client, "/prescriber/"), page_statements(app, client, f"/courses/{ended['course']}"))
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/discharge/{summary.id}/send", {"recipient": str(ended["prescriber"])}).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    assert client.get("/prescriber/").get_data(as_text=True).count("/discharge-copies/") == 2
    assert (page_statements(app, client, "/prescriber/"),
            page_statements(app, client, f"/courses/{ended['course']}")) == before


def test_the_therapist_and_another_prescriber_get_no_received_list(ended, make, auth, client):
    _send(auth, make, ended)
    make.user("prescriber", username="pres2")
    auth.sign_in("pres2")
    assert "/discharge-copies/" not in client.get("/prescriber/").get_data(as_text=True)
    auth.logout()
    auth.sign_in("ther")
    assert "Sent to you" not in page_text(client.get(f"/courses/{ended['course']}/coordination"))


# -- 3. an ended course's next step ------------------------------------------------------------------

def test_an_ended_course_names_the_discharge_summary_as_the_writers_next_step(ended, make, auth, client):
    auth.sign_in("ther")
    page = client.get(f"/courses/{ended['course']}").get_data(as_text=True)
    card = page[page.index('id="todo-h"'):page.index("</section>", page.index('id="todo-h"'))]
    assert "Write the discharge summary" in card and f"/courses/{ended['course']}/discharge" in card
    assert "Nothing on this course waits on you now" not in card
    auth.logout()
    auth.sign_in("pres")  # the prescriber does not write it: not their next step
    page = client.get(f"/courses/{ended['course']}").get_data(as_text=True)
    assert "Write the discharge summary" not in page
    auth.logout()
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    assert "Write the discharge summary" not in client.get(f"/courses/{ended['course']}").get_data(as_text=True)


# -- 5 and 6. the plan's draft and "Reviewed, no change" -----------------------------------------

def test_a_refused_sign_and_lock_keeps_the_plans_draft_and_its_unfinished_row(team, make, auth, client):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    data = _plan_form(1, sign=True, **{"objectives-1-goal": "1", "objectives-1-target": "Call a friend weekly",
                                        "objectives-1-mechanism": "Reconnecting counters withdrawal"})
    response = auth.post(f"/plans/{plan_id}", data)
    html, body = response.get_data(as_text=True), page_text(response)
    assert response.status_code == 200 and "Draft saved, not signed" in body and "nothing was saved" not in body
    assert "Objective 2: Say how success is measured" in body and "Objective 2: Give the date" in body
    assert re.search(r'aria-invalid="true"[^>]*id="objectives-1-criterion"|id="objectives-1-criterion"[^>]*'
                     r'aria-invalid="true"', html)

    def saved():
        plan = db.session.get(TreatmentPlan, plan_id)
        return plan.signed, [o.target for o in plan.objectives], plan.content.get("unfinished_objectives")
    signed, targets, unfinished = make.query(saved)
    assert not signed and targets == ["Patient walks 20 minutes, 3 times a week"]
    assert [(u["index"], u["target"]) for u in unfinished] == [(1, "Call a friend weekly")]
    # the form opens again with the row where it was, as typed
    form = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert 'id="objectives-1-target"' in form and 'value="Call a friend weekly"' in form
    # completed, it signs: the row becomes an objective, nothing left unfinished
    done = auth.post(f"/plans/{plan_id}", {**data, "version": str(make.query(
        lambda: db.session.get(TreatmentPlan, plan_id).version)), "objectives-1-criterion": "Four calls logged",
        "objectives-1-by_when": (date.today() + timedelta(days=30)).isoformat()})
    assert done.status_code == 302, page_text(done)
    signed, targets, unfinished = make.query(saved)
    assert signed and targets[1] == "Call a friend weekly" and unfinished is None


def test_reviewed_no_change_is_offered_only_after_a_signed_revision(team, make, auth, client):
    auth.sign_in("ther")
    first = _start(auth, team["course"])
    assert "Reviewed, no change" not in page_text(client.get(f"/plans/{first}"))
    # posted anyway on the first revision, it is not kept
    assert auth.post(f"/plans/{first}", _plan_form(1, sign=True, no_change="y")).status_code == 302
    assert make.query(lambda: db.session.get(TreatmentPlan, first).no_change) is False
    second = _start(auth, team["course"])
    assert "Reviewed, no change" in page_text(client.get(f"/plans/{second}"))


# -- 4 and 2. one name per control; the measure's name --------------------------------------------

def test_every_control_of_the_plan_and_safety_plan_forms_has_its_own_name(team, make, auth, client):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    plan_labels = _labels(client.get(f"/plans/{plan_id}").get_data(as_text=True))
    assert len(plan_labels) == len(set(plan_labels)), sorted(plan_labels)
    assert "Objective 2: by when" in plan_labels and "Technique 3: planned technique" in plan_labels
    safety = _labels(client.get(f"/patients/{team['patient']}/safety-plan/edit").get_data(as_text=True))
    assert len(safety) == len(set(safety)), sorted(safety)
    assert "Person to ask for help 3: phone" in safety and "Professional or crisis line 1: name" in safety


def test_the_plan_names_the_linked_measure_not_its_key(team, make, auth, client):
    auth.sign_in("ther")
    plan_id = _start(auth, team["course"])
    assert auth.post(f"/plans/{plan_id}", _plan_form(1, sign=True, **{"objectives-0-measure": "wsas"})
                     ).status_code == 302
    html = client.get(f"/courses/{team['course']}/plan").get_data(as_text=True)
    assert '<td data-label="Measure">WSAS</td>' in html and '<td data-label="Measure">wsas</td>' not in html


# -- 7. the safety plan's lock box -------------------------------------------------------------------

def test_the_safety_plan_asks_for_the_lock_box_and_marks_it_when_unticked(team, make, auth, client):
    from tests.integration.test_safety_plans import PLAN, _edit, _revisions
    auth.sign_in("ther")
    refused = _edit(auth, team["patient"], {**PLAN, "action": "sign"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Draft saved, not signed" in page_text(refused)
    assert re.search(r'<input aria-describedby="confirm_lock-error" aria-invalid="true" id="confirm_lock"', html)
    assert 'id="confirm_lock-error"' in html and "Tick this box to confirm" in html
    assert _revisions(make, team["patient"]) == [(1, "draft")]
    signed = _edit(auth, team["patient"], {**PLAN, "action": "sign", "confirm_lock": "y"})
    assert signed.status_code == 302 and _revisions(make, team["patient"]) == [(1, "signed")]


def test_an_unticked_lock_box_is_marked_on_the_plan_and_the_discharge_summary(ended, make, auth, client):
    auth.sign_in("ther")
    response = _sign_summary(auth, make, ended["course"], confirm_sign="")
    assert re.search(r'aria-invalid="true" id="confirm_sign"', response.get_data(as_text=True))


# -- 8. measures as the registry defines them ----------------------------------------------------

def _row(total, band, role=AFTER_FIRST_DOSE, change=None):
    response = SimpleNamespace(administered_on=date(2026, 11, 2), total=total, band=band)
    return SimpleNamespace(response=response, role=role, change=change)


@pytest.mark.parametrize("measure, row, expected", [
    # a screener's total counts yes answers: its triage level is the reading
    (CSSRS, _row(0, CSSRS.triage.none), CSSRS.triage.none),
    (CSSRS, _row(2, "Low risk"), "Low risk"),
    (PHQ9, _row(14, "Moderate"), "14 (Moderate)"),          # a banded total: the total and its band
])
def test_a_discharge_reading_is_the_registrys_reading(measure, row, expected):
    assert _reading(row, measure)["reading"] == expected


@pytest.mark.parametrize("measure, expected", [
    (WSAS, "No baseline WSAS before the first dose: change cannot be computed (the WSAS has no response rule)"),
    (PHQ9, "No baseline PHQ-9 before the first dose: response cannot be computed"),
    (WAISR, "Latest: 48 (no baseline: read on its own)"),   # an alliance measure asks no baseline
])
def test_the_outcome_says_what_the_measure_defines(measure, expected):
    assert measure_status(_row(48, "" if measure is WAISR else "x"), measure).startswith(expected)


def test_only_measures_with_a_baseline_are_asked_for_one_before_the_first_dose():
    assert [m.key for m in MEASURES.values() if not m.has_baseline] == ["waisr"]
    assert "baseline_waisr" not in PREPARATION_ITEMS and "baseline_wsas" in PREPARATION_ITEMS
