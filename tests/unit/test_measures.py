"""PHQ-9 and GAD-7 scoring: every band edge, item 9, response and remission; registry entries
that disagree with themselves are refused."""
from decimal import Decimal

import pytest

from ketamine_integration.domain.measures import (FREQUENCY, GAD7, MEASURES, PHQ9, Band, InvalidAnswers,
                                                  InvalidMeasure, Item, Measure, MeasureRegistry, Option,
                                                  SafetyRule, change, score)


def answers_totalling(total: int, items: int, *, item9: int | None = None) -> list[int]:
    """Item scores adding up to `total` (item 9 fixed when asked)."""
    values = [0] * items
    remaining = total
    if item9 is not None:
        values[8], remaining = item9, total - item9
    for i in range(items):
        if item9 is not None and i == 8:
            continue
        values[i] = min(3, remaining)
        remaining -= values[i]
    assert remaining == 0 and sum(values) == total
    return values


@pytest.mark.parametrize("total, band", [
    (0, "None–minimal"), (4, "None–minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
    (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe"), (27, "Severe"),
])
def test_phq9_band_edges(total, band):
    result = score("phq9", answers_totalling(total, 9))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize("total, band", [
    (0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
    (15, "Severe"), (21, "Severe"),
])
def test_gad7_band_edges(total, band):
    result = score("gad7", answers_totalling(total, 7))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize("item9, alert", [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item_9_above_zero_raises_a_safety_alert_whatever_the_total(item9, alert):
    assert score("phq9", answers_totalling(item9, 9, item9=item9)).safety_alert is alert
    assert score("phq9", answers_totalling(18, 9, item9=item9)).safety_alert is alert


def test_gad7_has_no_safety_item():
    assert score("gad7", [3] * 7).safety_alert is False


@pytest.mark.parametrize("baseline, current, response", [
    (20, 10, True),     # exactly 50 % lower: a response
    (20, 11, False),    # 45 %
    (21, 10, True),     # 52 %
    (21, 11, False),    # 47.6 %
    (9, 4, True),       # 55.6 %
    (0, 0, None),       # no baseline symptoms: response is undefined
])
def test_response_is_a_drop_of_at_least_half(baseline, current, response):
    assert change("phq9", baseline, current).response is response


@pytest.mark.parametrize("current, remission", [(4, True), (5, False), (0, True), (27, False)])
def test_phq9_remission_is_a_total_under_5(current, remission):
    assert change("phq9", 20, current).remission is remission


def test_gad7_defines_no_remission_here_and_change_is_signed():
    result = change("gad7", 16, 6)
    assert result.remission is None and result.delta == -10 and result.percent == Decimal("-0.63")
    assert change("phq9", 10, 12).percent == Decimal("0.20")


@pytest.mark.parametrize("measure, answers, message", [
    ("phq9", [0] * 8, "PHQ-9 has 9 items; 8 answered."),
    ("phq9", [0] * 8 + [4], "PHQ-9 item 9: answer “Not at all”, “Several days”, “More than half the days” or “Nearly every day”."),
    ("gad7", [0, 0, -1, 0, 0, 0, 0], "GAD-7 item 3: answer “Not at all”, “Several days”, “More than half the days” or “Nearly every day”."),
    ("gad7", [0, 0, 0, 0, 0, 0, True], "GAD-7 item 7"),
    ("bdi", [0], "Unknown measure"),
])
def test_invalid_answers_are_refused_naming_the_item(measure, answers, message):
    with pytest.raises(InvalidAnswers, match=message.replace("(", r"\(")):
        score(measure, answers)


def test_the_registry_holds_the_published_wording_and_codes():
    assert list(MEASURES)[:3] == ["phq9", "gad7", "cssrs"]  # the first three; the others: test_outcome_measures.py
    assert len(PHQ9.items) == 9 and len(GAD7.items) == 7
    assert PHQ9.items[8].text == "Thoughts that you would be better off dead or of hurting yourself in some way"
    assert GAD7.items[0].text == "Feeling nervous, anxious or on edge"
    assert (PHQ9.loinc_panel, PHQ9.loinc_total, GAD7.loinc_total) == ("44249-1", "44261-6", "70274-6")
    assert PHQ9.max_total == 27 and GAD7.max_total == 21
    assert [i.loinc for i in PHQ9.items][::4] == ["44250-9", "44251-7", "44260-8"]
    assert [o.label for o in PHQ9.items[0].options] == ["Not at all", "Several days", "More than half the days",
                                                         "Nearly every day"]
    assert (PHQ9.min_total, GAD7.min_total) == (0, 0)
    assert (PHQ9.safety_label, PHQ9.safety.topic, GAD7.safety) == ("PHQ-9 item 9", "thoughts of self-harm", None)
    assert (PHQ9.baseline_item, GAD7.baseline_item) == ("baseline_phq9", "baseline_gad7")


YES_NO = (Option("No", 0), Option("Yes", 1))


def _entry(**changes) -> Measure:
    """A small, consistent entry (two yes/no items and one 0-3 item: totals 0-5); `changes` break it."""
    fields = dict(key="demo3", name="Demo-3", stem="In the last week:",
                  items=(Item("Slept badly", YES_NO), Item("Skipped meals", YES_NO), Item("Felt low", FREQUENCY)),
                  bands=(Band(0, 1, "Low"), Band(2, 5, "High")), loinc_panel="X-1", loinc_total="X-2",
                  response_drop=None, remission_below=None,
                  safety=SafetyRule(item=3, above=2, topic="low mood", guidance="Ask how low."))
    return Measure(**{**fields, **changes})


def test_a_registered_entry_scores_with_its_own_options_range_and_safety_rule():
    registry = MeasureRegistry(_entry())
    measure = registry["demo3"]
    assert (measure.min_total, measure.max_total) == (0, 5)
    assert [registry is not MEASURES, "demo3" not in MEASURES] == [True, True]


@pytest.mark.parametrize("changes, problem", [
    ({"key": "Demo 3"}, "lower-case letters, digits and _"),          # not storable as a key
    ({"key": "a_very_long_key"}, "at most 10 characters"),            # longer than the column
    ({"bands": (Band(0, 1, "Low"), Band(3, 5, "High"))}, "bands must cover 0–5"),   # a gap: 2 has no band
    ({"bands": (Band(0, 1, "Low"), Band(2, 4, "High"))}, "bands must cover 0–5"),   # 5 has no band
    ({"bands": (Band(2, 5, "High"), Band(0, 1, "Low"))}, "in order"),               # out of order
    ({"items": (Item("Only one answer", (Option("No", 0),)),)}, "at least two answers"),
    ({"items": (Item("Same value twice", (Option("No", 0), Option("Also no", 0))),)}, "distinct values"),
    ({"safety": SafetyRule(item=4, above=0, topic="t", guidance="g")}, "safety rule names item 4 of 3"),
])
def test_an_inconsistent_entry_is_refused_at_registration(changes, problem):
    with pytest.raises(InvalidMeasure, match=problem):
        MeasureRegistry(_entry(**changes))


def test_a_key_is_registered_once_and_can_be_taken_out():
    registry = MeasureRegistry(_entry())
    with pytest.raises(InvalidMeasure, match="registered already"):
        registry.register(_entry(name="Other"))
    registry.unregister("demo3")
    assert list(registry) == []


@pytest.fixture
def demo3():
    """The entry registered in the app's registry for one test, then taken out again."""
    measure = MEASURES.register(_entry())
    yield measure
    MEASURES.unregister(measure.key)


@pytest.mark.parametrize("answers, total, band, alert", [
    ([0, 0, 0], 0, "Low", False),       # lowest total
    ([1, 0, 0], 1, "Low", False),       # top of the first band
    ([0, 0, 2], 2, "High", False),      # item 3 at its threshold: no alert
    ([1, 1, 3], 5, "High", True),       # highest total; item 3 above 2 alerts
])
def test_a_registered_measure_is_scored_by_its_entry(demo3, answers, total, band, alert):
    result = score("demo3", answers)
    assert (result.total, result.band, result.safety_alert, result.safety_score) == (total, band, alert, answers[2])


def test_a_registered_measure_refuses_answers_its_items_do_not_offer(demo3):
    with pytest.raises(InvalidAnswers, match="Demo-3 item 1: answer “No” or “Yes”."):
        score("demo3", [2, 0, 0])
    assert change("demo3", 4, 1).response is None  # the entry defines no response rule


def test_a_registered_measure_is_a_preparation_item_and_may_be_scheduled_by_protocols(demo3):
    from ketamine_integration.domain.protocols import PREPARATION_ITEMS, MeasureSchedule
    assert PREPARATION_ITEMS["baseline_demo3"] == "Baseline Demo-3"
    assert MeasureSchedule.model_validate({"measure": "demo3", "at": ("baseline",)}).measure == "demo3"
