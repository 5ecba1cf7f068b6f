"""A measure is one registry entry (issue 18, point 4): a made-up questionnaire registered here,
with five items on a 0-4 scale and its own bands, response, remission and safety rules, is
offered, recorded through the real form as a therapist would, scored, tabled, charted and
alerted on, without a line of the app knowing it."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.errors import DomainError
from ketamine_integration.domain.measures import MEASURES, Band, Item, Measure, Option, SafetyRule
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.notes.services import record_measure
from tests.clinic_day import follows_the_day
from tests.conftest import page_text
from tests.integration.test_notes import dose_started, entered_on_their_day, notes_team

TODAY = follows_the_day(globals(), "TODAY", date.today)
NEVER_TO_ALWAYS = tuple(Option(label, value) for value, label in enumerate(
    ("Never", "Rarely", "Sometimes", "Often", "Always")))
MOOD5 = Measure(
    key="mood5", name="MOOD-5", stem="In the past week, how often did you …",
    items=tuple(Item(text, NEVER_TO_ALWAYS) for text in (
        "feel rested on waking", "enjoy a meal", "think of giving up", "talk with a friend", "go outside")),
    bands=(Band(0, 5, "Low"), Band(6, 12, "Moderate"), Band(13, 20, "High")),
    loinc_panel="00000-0", loinc_total="00000-1",   # made up: no real measure has these codes
    response_drop=Decimal("0.4"), remission_below=4,
    safety=SafetyRule(item=3, above=2, topic="thoughts of giving up",
                      guidance="Thoughts of giving up, often or always. Ask about them today."))


@pytest.fixture
def mood5():
    """MOOD-5 in the app's registry for one test; the registry is as it was afterwards."""
    MEASURES.register(MOOD5)
    yield MOOD5
    MEASURES.unregister(MOOD5.key)


@pytest.fixture
def team(make):
    return notes_team(make)


def _record(auth, course: int, answers: list[int], when: date):
    data = {"mood5-administered_on": when.isoformat(),
            **{f"mood5-item{n}": str(value) for n, value in enumerate(answers, 1)}}
    return auth.post(f"/courses/{course}/measures/mood5", data, follow_redirects=True)


def test_a_made_up_measure_is_recorded_scored_charted_and_alerted(mood5, team, make, auth, client):
    auth.sign_in("ther")
    page = client.get(f"/courses/{team['course']}/measures").get_data(as_text=True)
    assert "Record a MOOD-5" in page and "3. think of giving up" in page
    assert '<input id="mood5-item3-4" name="mood5-item3" required type="radio" value="4"> ' \
           '<label for="mood5-item3-4">Always</label>' in page                       # the entry's own scale

    with entered_on_their_day():
        baseline = _record(auth, team["course"], [3, 3, 2, 3, 3], TODAY - timedelta(days=30))
    assert "MOOD-5 recorded: 14 (High)." in page_text(baseline) and "Safety alert" not in page_text(baseline)
    dose_started(make, team["course"], TODAY - timedelta(days=20))   # the baseline is before the first dose
    current = _record(auth, team["course"], [1, 1, 3, 1, 1], TODAY)                 # item 3 above 2
    text = page_text(current)
    assert "MOOD-5 recorded: 7 (Moderate)." in text
    assert "Safety alert: MOOD-5 item 3 (thoughts of giving up) answered 3. Assess risk now" in text
    assert f"Safety alert: MOOD-5 item 3 (thoughts of giving up) answered 3 (measure, {TODAY})" in text
    assert "Thoughts of giving up, often or always. Ask about them today." in text
    # the results table: 50 % down is a response under this entry's 40 % rule; 7 is not under 4
    assert "14 High 2 baseline" in text and "7 Moderate 3 (alert) -7 (-50%) Yes No" in text
    # the chart spans the entry's 0-20 range: y = 14 + 192 × (1 − total / 20)
    html = current.get_data(as_text=True)
    assert "MOOD-5 totals over time" in html and 'cy="71.6"' in html and 'cy="138.8"' in html
    assert '<text x="38" y="18" text-anchor="end" class="tick">20</text>' in html

    stored = make.query(lambda: db.session.execute(select(MeasureResponse.measure, MeasureResponse.answers,
                                                          MeasureResponse.total, MeasureResponse.band,
                                                          SafetyAlert.item_score)
                                                   .join(SafetyAlert)).one())
    assert tuple(stored) == ("mood5", [1, 1, 3, 1, 1], 7, "Moderate", 3)
    assert "MOOD-5 item 3 (thoughts of giving up) answered 3" in page_text(client.get("/"))
    auth.logout()
    auth.sign_in("pres")
    assert "MOOD-5 item 3 (thoughts of giving up) answered 3" in page_text(client.get("/prescriber/"))


@pytest.mark.parametrize("answers, problem", [
    ([1, 1, 5, 1, 1], "Not a valid choice"),       # 5 is not one of the item's answers
    ([1, 1, 1, 1], "Answer every item."),          # item 5 left out
])
def test_answers_the_entry_does_not_offer_are_refused_and_save_nothing(mood5, team, make, auth, answers, problem):
    auth.sign_in("ther")
    response = _record(auth, team["course"], answers, TODAY)
    assert response.status_code == 422 and problem in page_text(response)
    assert make.query(lambda: db.session.scalars(select(MeasureResponse)).all()) == []


def test_a_key_the_registry_does_not_hold_is_refused_by_the_service_and_its_page(team, make, auth):
    def record():
        course, by = db.session.get(TreatmentCourse, team["course"]), db.session.get(User, team["therapist"])
        record_measure(course, measure="mood5", answers=[0] * 5, difficulty=None, administered_on=TODAY, by=by,
                       today=TODAY)
    with pytest.raises(DomainError, match="Unknown measure 'mood5': record one of phq9, gad7."):
        make.run(record)
    auth.sign_in("ther")
    assert auth.post(f"/courses/{team['course']}/measures/mood5", {"mood5-item1": "0"}).status_code == 404
    assert make.query(lambda: db.session.scalars(select(MeasureResponse)).all()) == []
