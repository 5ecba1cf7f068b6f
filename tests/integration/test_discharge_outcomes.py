"""Objectives met or not in the discharge summary (issue 24 point 6): each objective of the plan in
force says the progress last recorded on it in a signed integration note, on any revision of it (its
lineage), with that session's date; a draft note's progress never counts; a linked measure's baseline
and last total stand beside it; frozen at signing; on the page, in the PDF and in a prescriber's copy
under the action plan release."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.discharge.content import compute
from ketamine_integration.discharge.models import DischargeCopy
from ketamine_integration.extensions import db
from ketamine_integration.plans.models import TreatmentPlan
from tests.clinic_day import follows_the_day
from tests.conftest import page_text
from tests.integration.test_coordination import _release
from tests.integration.test_discharge import _pdf_text, _sign_summary, _summary
from tests.integration.test_discharge_objectives import CALLS, WALKS, _two_objectives
from tests.integration.test_notes import (SIGNING, TODAY, _integration_data, _phq9, _start, _version, dose_started,
                                          entered_on_their_day, make_team)
from tests.integration.test_treatment_plans import _start as _start_revision


EARLIER = follows_the_day(globals(), "EARLIER", lambda: date.today() - timedelta(days=3))
WALKS_REVISED = "Patient walks 30 minutes, 4 times a week"
ACHIEVED_COMMENT = "Four walks a week logged for a month"


@pytest.fixture
def team(make):
    return make_team(make)


def _lineages(make, plan_id: int) -> list[str]:
    return make.query(lambda: [o.lineage_id for o in db.session.get(TreatmentPlan, plan_id).objectives])


def _signed_two_objective_plan(auth, course: int) -> int:
    plan_id = _start_revision(auth, course)
    response = auth.post(f"/plans/{plan_id}", _two_objectives(1, sign=True))
    assert response.status_code == 302, page_text(response)
    return plan_id


def _note(make, auth, course: int, progress: list[tuple[str, str, str]], *, on, sign: bool = True) -> int:
    """An integration note dated `on` recording (lineage, progress, comment) per objective (its new step
    serves the first)."""
    note = _start(auth, course)
    rows = {"new_steps-0-objective": progress[0][0], "new_steps-0-mechanism": "Activation before insight"}
    for i, (lineage, value, comment) in enumerate(progress):
        rows |= {f"objective_progress-{i}-lineage": lineage, f"objective_progress-{i}-progress": value,
                 f"objective_progress-{i}-comment": comment}
    data = _integration_data(_version(make, note), session_date=on.isoformat(), **rows, **(SIGNING if sign else {}))
    response = auth.post(f"/notes/{note}", data)
    assert response.status_code == 302, page_text(response)[-600:]
    return note


def _end(make, auth, course: int) -> None:
    version = str(make.query(lambda: db.session.get(TreatmentCourse, course).version))
    response = auth.end_course(course, {"target": "completed", "reason": "Series and integration done",
                                        "version": version})
    assert response.status_code == 302, page_text(response)[-600:]


def test_each_objective_says_its_last_recorded_progress_across_revisions_with_measures_beside(
        team, make, auth, client):
    course = team["course"]
    auth.sign_in("ther")
    # PHQ-9 of 16 before the first dose, 8 after it
    with entered_on_their_day():
        assert _phq9(auth, course, base="2", when=TODAY - timedelta(days=10)).status_code == 302
    dose_started(make, course, TODAY - timedelta(days=7))
    assert _phq9(auth, course, base="1").status_code == 302
    first = _signed_two_objective_plan(auth, course)
    walks, calls = _lineages(make, first)
    _note(make, auth, course, [(walks, "some", "Two walks"), (calls, "setback", "Stopped calling")], on=EARLIER)
    # revision 2 rewords the walking objective and keeps both lineages
    second = _start_revision(auth, course)
    response = auth.post(f"/plans/{second}", _two_objectives(1, sign=True, **{
        "objectives-0-lineage": walks, "objectives-1-lineage": calls, "objectives-0-target": WALKS_REVISED}))
    assert response.status_code == 302, page_text(response)
    assert _lineages(make, second) == [walks, calls]
    _note(make, auth, course, [(walks, "achieved", ACHIEVED_COMMENT)], on=TODAY)
    _note(make, auth, course, [(calls, "achieved", "A draft's word")], on=TODAY, sign=False)   # never counted
    _end(make, auth, course)
    assert _sign_summary(auth, make, course).status_code == 302

    section = _summary(make, course).computed["objectives"]
    assert section["revision"] == 2
    by_target = {o["target"]: o for o in section["objectives"]}
    assert set(by_target) == {WALKS_REVISED, CALLS} and WALKS not in by_target
    assert (by_target[WALKS_REVISED]["outcome"], by_target[WALKS_REVISED]["outcome_comment"]) == (
        f"Achieved (recorded {TODAY.isoformat()})", ACHIEVED_COMMENT)
    # recorded on revision 1's wording, kept by its lineage; the later draft does not count
    assert (by_target[CALLS]["outcome"], by_target[CALLS]["outcome_comment"]) == (
        f"Setback (recorded {EARLIER.isoformat()})", "Stopped calling")
    phq9 = by_target[WALKS_REVISED]["measure"]
    assert (phq9["name"], phq9["baseline"]["total"], phq9["last"]["total"]) == ("PHQ-9", 16, 8)

    summary = _summary(make, course)
    page = " ".join(page_text(client.get(f"/courses/{course}/discharge")).split())
    pdf = _pdf_text(client.get(f"/discharge/{summary.id}.pdf"))
    for shown in (page, pdf):
        assert f"Achieved (recorded {TODAY.isoformat()}): {ACHIEVED_COMMENT}" in shown
        assert f"Setback (recorded {EARLIER.isoformat()}): Stopped calling" in shown
        assert "A draft's word" not in shown and "baseline 16" in shown and "last 8" in shown
    # the prescriber's copy carries them under a release of the action plan
    assert _release(auth, team, ["action_plan"]).status_code == 302
    assert auth.post(f"/discharge/{summary.id}/send", {"recipient": str(team["prescriber"])}).status_code == 302
    copy = make.query(lambda: db.session.scalar(select(DischargeCopy.id)))
    auth.logout()
    auth.sign_in("pres")
    assert f"Setback (recorded {EARLIER.isoformat()}): Stopped calling" in _pdf_text(
        client.get(f"/discharge-copies/{copy}.pdf"))


def test_without_progress_recorded_the_summary_says_so_and_later_notes_do_not_change_it(
        team, make, auth, client):
    course = team["course"]
    auth.sign_in("ther")
    walks, calls = _lineages(make, _signed_two_objective_plan(auth, course))
    _note(make, auth, course, [(walks, "not_started", "")], on=EARLIER)
    _end(make, auth, course)
    assert _sign_summary(auth, make, course).status_code == 302
    frozen = _summary(make, course).computed["objectives"]["objectives"]
    assert [(o["outcome"], o["outcome_comment"]) for o in frozen] == [
        (f"Not started (recorded {EARLIER.isoformat()})", None), ("No progress recorded", None)]
    # frozen at signing: progress a note records afterwards changes what the record says now, not the summary
    _note(make, auth, course, [(calls, "achieved", "Calls weekly again")], on=TODAY)
    live = make.query(lambda: compute(db.session.get(TreatmentCourse, course), utcnow()))["objectives"]
    assert live["objectives"][1]["outcome"] == f"Achieved (recorded {TODAY.isoformat()})"
    assert _summary(make, course).computed["objectives"]["objectives"] == frozen
    page = " ".join(page_text(client.get(f"/courses/{course}/discharge")).split())
    assert "No progress recorded" in page and f"Not started (recorded {EARLIER.isoformat()})" in page
    assert "Calls weekly again" not in page
