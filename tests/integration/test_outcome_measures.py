"""PCL-5, WSAS and WAI-SR through the app (issue 24, point 5): a therapist records each through the
measures page and sees it scored, tabled and charted (the PCL-5's 10-point response, a rising alliance
total shown as better, never as worse, and no severity for a scale that publishes none); a protocol
schedules them and the patient completes a PCL-5 in the portal; the coordination report carries them
under a release covering measures; none of them opens a safety alert, whatever the answers."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from tests.clinic_day import follows_the_day
from tests.conftest import page_text
from tests.integration.test_coordination import _generate, _latest_pdf_text, _release
from tests.integration.test_notes import dose_started, entered_on_their_day
from tests.integration.test_patient_questionnaires import local
from tests.outcome_protocol import OUTCOMES, library_with_outcomes
from tests.unit.test_outcome_measures import answers_totalling


TODAY = follows_the_day(globals(), "TODAY", date.today)


@pytest.fixture
def team(make, app, tmp_path):
    """A course on the test protocol that schedules the three measures, in integration."""
    app.config["PROTOCOLS_DIR"] = str(library_with_outcomes(tmp_path / "protocols"))
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk")}
    ids["patient"] = make.patient(family_name="Outcomed")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], protocol=OUTCOMES,
                                phase="integration")
    return ids


def _record(auth, course: int, key: str, total: int, when: date):
    from ketamine_integration.domain.measures import MEASURES
    answers = answers_totalling(total, MEASURES[key])
    data = {f"{key}-administered_on": when.isoformat(),
            **{f"{key}-item{n}": str(value) for n, value in enumerate(answers, 1)}}
    return auth.post(f"/courses/{course}/measures/{key}", data, follow_redirects=True)


def _record_all(make, auth, course: int) -> str:
    """Baselines a month ago (before the first dose), then today's: the measures page after."""
    with entered_on_their_day():
        for key, total in (("pcl5", 45), ("wsas", 25), ("waisr", 30)):
            assert _record(auth, course, key, total, TODAY - timedelta(days=30)).status_code == 200
    dose_started(make, course, TODAY - timedelta(days=20))
    pages = [page_text(_record(auth, course, key, total, TODAY))
             for key, total in (("pcl5", 33), ("wsas", 12), ("waisr", 48))]
    assert "PCL-5 recorded: 33 (Within the PTSD cut-off range)." in pages[0]
    assert "WSAS recorded: 12 (Functional impairment)." in pages[1]
    assert "WAI-SR recorded: 48." in pages[2]                     # a total alone: the scale has no bands
    return pages[2]


def test_each_is_recorded_scored_tabled_and_charted_in_its_own_direction(team, make, auth, client):
    auth.sign_in("ther")
    form = client.get(f"/courses/{team['course']}/measures").get_data(as_text=True)
    assert "Record a PCL-5" in form and "Record a WSAS" in form and "Record a WAI-SR" in form
    assert "20. Trouble falling or staying asleep?" in form and "3. I believe ___ likes me." in form
    assert '<label for="wsas-item1-8">8 – Very severely</label>' in form
    assert '<input id="waisr-item12-4" name="waisr-item12" required type="radio" value="5"> ' \
           '<label for="waisr-item12-4">Always</label>' in form             # the alliance scale runs 1-5

    text = _record_all(make, auth, team["course"])
    # PCL-5: 12 points down is a response (10 or more); no remission is defined, so no column
    assert "45 Above the PTSD cut-off baseline —" in text
    assert "33 Within the PTSD cut-off range -12 (-27%) Yes" in text
    # WSAS: bands, the change shown; no response rule is published, so no response column
    assert "25 Moderately severe or worse baseline" in text and "12 Functional impairment -13 (-52%)" in text
    # WAI-SR: no severity column and no baseline (an alliance rates a therapy under way: each reading
    # stands on its own, no change column); the page says higher is better
    assert "+18" not in text and "has no baseline before the first dose" in text
    assert "Higher totals are better. Response: none defined for this measure." in text
    assert "Lower totals are better. Response: a drop of at least 10 points from baseline." in text
    assert "public domain" in text and "Mundt, Marks, Shear & Greist (2002)" in text   # the sources, cited

    html = client.get(f"/courses/{team['course']}/measures").get_data(as_text=True)
    for name in ("PCL-5", "WSAS", "WAI-SR"):
        assert f"{name} totals over time" in html
    # the WAI-SR chart spans its own 12-60 range (ticks 20-60) with no band lines
    waisr = html[html.index('id="m-waisr"'):html.index('id="m-waisr"') + 6000]
    assert 'class="tick">60</text>' in waisr and "band-line" not in waisr.split("</svg>")[0]
    assert "Higher totals are better." in waisr

    def stored():
        rows = db.session.execute(select(MeasureResponse.measure, MeasureResponse.total, MeasureResponse.band)
                                  .order_by(MeasureResponse.id)).all()
        return [tuple(r) for r in rows], db.session.scalar(select(func.count()).select_from(SafetyAlert))
    assert make.query(stored) == ([("pcl5", 45, "Above the PTSD cut-off"), ("wsas", 25, "Moderately severe or worse"),
                                   ("waisr", 30, ""), ("pcl5", 33, "Within the PTSD cut-off range"),
                                   ("wsas", 12, "Functional impairment"), ("waisr", 48, "")], 0)


def test_the_highest_answers_open_no_safety_alert(team, make, auth, client):
    auth.sign_in("ther")
    for key, total in (("pcl5", 80), ("wsas", 40), ("waisr", 12)):
        page = page_text(_record(auth, team["course"], key, total, TODAY))
        assert "Safety alert" not in page
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(SafetyAlert))) == 0


def test_the_coordination_report_carries_them_under_a_release_covering_measures(team, make, auth, client):
    auth.sign_in("ther")
    _record_all(make, auth, team["course"])
    auth.logout()
    auth.sign_in("desk")
    assert _release(auth, team, ["measures"]).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    pdf = _latest_pdf_text(make, client)
    assert "PCL-5 — Response" in pdf and "33 Within the PTSD cut-off range -12" in pdf
    assert "WSAS — -13 from baseline (lower totals are better; no response rule)" in pdf
    assert "WAI-SR — Latest: 48 (no baseline: read on its own)" in pdf and "Higher totals are better." in pdf
    assert "48 —" in pdf and "+18" not in pdf                       # no severity cell, no change from a baseline


def test_the_patient_completes_a_scheduled_pcl5_in_the_portal(team, make, auth, client):
    patient = make.patient(family_name="Portaled")
    course = make.course(patient, team["therapist"], team["prescriber"], protocol=OUTCOMES, phase="experience")
    make.dosing_plan(course, first_start=local(1, 10), days_between=7, count=2,
                     reason="Test plan: spacing on purpose.", room="Suite Outcomes")
    auth.portal_sign_in(make.portal_account(patient))
    listed = page_text(client.get("/portal/questionnaires/"))
    assert "PCL-5" in listed and "WSAS" in listed              # the protocol asks both at baseline
    url = f"/portal/questionnaires/{course}/pcl5/baseline"
    page = client.get(url)
    text = page_text(page)
    assert page.status_code == 200 and "Below is a list of problems that people sometimes have" in text
    assert page.get_data(as_text=True).count("<legend>") == 20
    assert "16. Taking too many risks or doing things that could cause you harm?" in text

    answers = [4] * 16 + [3] * 4                                # 76: above the cut-off, no alert
    sent = auth.post(url, {f"item{n}": str(v) for n, v in enumerate(answers, 1)})
    assert (sent.status_code, sent.headers["Location"]) == (302, "/portal/questionnaires/")

    def stored():
        r = db.session.scalar(select(MeasureResponse))
        alerts = db.session.scalar(select(func.count()).select_from(SafetyAlert))
        return r.measure, r.answers, r.total, r.band, r.completed_by_patient, r.moment, alerts
    assert make.query(stored) == ("pcl5", answers, 76, "Above the PTSD cut-off", True, "baseline", 0)
    [row] = make.audit_rows(action="measure.patient_submit")
    assert (row.patient_id, row.outcome) == (patient, "success")
    assert "crisis" not in page_text(client.get("/portal/questionnaires/")).lower()
