"""The discharge summary's treatment plan objectives (issue 24 points 1 and 6): each objective of the
course's signed plan in force (never a draft revision), and for one a measure judges, that measure's
baseline and last total derived from the course's responses; frozen at signing; in the page and the
PDF; in a prescriber's copy only under a release carrying the action plan."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ketamine_integration.discharge.models import DischargeCopy
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_coordination import _release
from tests.integration.test_discharge import (_pdf_text, _sign_summary, _summary, ended,  # noqa: F401 (fixture)
                                             ended_course)
from tests.integration.test_treatment_plans import _plan_form, _start
from tests.security.clinic import today as clinic_day


WALKS = "Patient walks 20 minutes, 3 times a week"          # the first objective (test_treatment_plans)
CALLS = "Calls one friend a week"
DRAFTED = "A target only a draft revision has"


def _two_objectives(version, **changes):
    return _plan_form(version, **{"objectives-1-goal": "1", "objectives-1-target": CALLS,
                                  "objectives-1-criterion": "WSAS total under 20",
                                  "objectives-1-by_when": (clinic_day() + timedelta(days=60)).isoformat(),
                                  "objectives-1-mechanism": "Relationships test the old belief",
                                  "objectives-1-measure": "wsas", **changes})


def _signed_plan_and_a_draft(auth, course_id):
    """Revision 1 signed (PHQ-9 and WSAS objectives), then revision 2 drafted with another target."""
    auth.sign_in("ther")
    first = _start(auth, course_id)
    response = auth.post(f"/plans/{first}", _two_objectives(1, sign=True))
    assert response.status_code == 302, page_text(response)
    second = _start(auth, course_id)
    page = auth.post(f"/plans/{second}", _two_objectives(1, **{"objectives-0-target": DRAFTED}))
    assert page.status_code in (200, 302), page_text(page)


@pytest.fixture
def planned(make, auth):
    """The `ended` course, its plan signed and revised while it was live (an ended course takes no plan)."""
    return ended_course(make, auth, lambda ids: _signed_plan_and_a_draft(auth, ids["course"]))


def test_the_summary_carries_the_signed_plans_objectives_with_their_measures_derived(planned, make, auth, client):
    ended = planned
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    section = _summary(make, ended["course"]).computed["objectives"]
    assert section["revision"] == 1                                   # the signed revision, not the draft
    assert [o["target"] for o in section["objectives"]] == [WALKS, CALLS]
    walks, calls = section["objectives"]
    assert walks["goal"] == "Re-engage with daily life" and walks["criterion"].startswith("Activity log")
    assert walks["by_when"] == (clinic_day() + timedelta(days=42)).isoformat()
    assert walks["mechanism"].startswith("Behavioural activation")
    # PHQ-9 from the course's responses (the fixture's 16 before the dose, 0 after it), never typed
    assert (walks["measure"]["name"], walks["measure"]["baseline"]["total"], walks["measure"]["last"]["total"]) == (
        "PHQ-9", 16, 0)
    assert calls["measure"] == {"name": "WSAS", "baseline": None, "last": None}   # never measured: none
    summary = _summary(make, ended["course"])
    page = page_text(client.get(f"/courses/{ended['course']}/discharge"))
    pdf = _pdf_text(client.get(f"/discharge/{summary.id}.pdf"))
    for shown in (page, pdf):
        assert "Treatment plan objectives" in shown and "revision 1" in shown
        assert WALKS in shown and CALLS in shown and "baseline 16" in shown and "last 0" in shown
        assert DRAFTED not in shown


def test_a_course_without_a_signed_plan_says_so(ended, make, auth, client):
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    assert _summary(make, ended["course"]).computed["objectives"] == {"revision": None, "signed": None,
                                                                      "objectives": []}
    assert "No signed treatment plan." in page_text(client.get(f"/courses/{ended['course']}/discharge"))


def test_the_prescribers_copy_carries_the_objectives_only_under_the_action_plan(planned, make, auth, client):
    ended = planned
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = _summary(make, ended["course"])

    def send_and_read() -> str:
        assert auth.post(f"/discharge/{summary.id}/send", {"recipient": str(ended["prescriber"])}).status_code == 302
        copy = make.query(lambda: db.session.scalars(select(DischargeCopy).order_by(DischargeCopy.id.desc())).first())
        auth.logout()
        auth.sign_in("pres")
        text_ = _pdf_text(client.get(f"/discharge-copies/{copy.id}.pdf"))
        auth.logout()
        auth.sign_in("ther")
        return text_
    assert _release(auth, ended, ["treatment", "measures"]).status_code == 302
    without = send_and_read()
    assert "Measures from baseline to last" in without and "Not included" in without
    assert "Treatment plan objectives" in without            # named among what is left out ...
    assert WALKS not in without and CALLS not in without      # ... and none of it carried
    assert _release(auth, ended, ["action_plan"]).status_code == 302
    carried = send_and_read()
    assert WALKS in carried and CALLS in carried and "baseline 16" in carried
