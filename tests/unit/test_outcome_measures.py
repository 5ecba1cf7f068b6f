"""PCL-5, WSAS and WAI-SR (issue 24, point 5): scoring against their published cut-offs and change
rules, the published wording and codes, which way each total improves, and that none of them raises
a safety alert; the registry refuses an entry whose direction, bands or change rules disagree."""
from decimal import Decimal

import pytest

from ketamine_integration.domain import safety
from ketamine_integration.domain.measures import (HIGHER_IS_BETTER, MEASURES, PCL5, WAISR, WSAS, Band, InvalidAnswers,
                                                  InvalidMeasure, Item, Measure, MeasureRegistry, Option, change,
                                                  score)


def answers_totalling(total: int, measure: Measure) -> list[int]:
    """Item answers of `measure` adding up to `total`, filled from the first item."""
    answers, remaining = [], total - measure.min_total
    for item in measure.items:
        low, high = min(item.values), max(item.values)
        answers.append(low + min(high - low, remaining))
        remaining -= answers[-1] - low
    assert remaining == 0 and sum(answers) == total
    return answers


# -- PCL-5 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("total, band", [
    (0, "Below the PTSD cut-off"),
    (30, "Below the PTSD cut-off"),             # one under the NC-PTSD cut-off range
    (31, "Within the PTSD cut-off range"),      # its lower end
    (33, "Within the PTSD cut-off range"),      # its upper end
    (34, "Above the PTSD cut-off"),             # probable PTSD under every cut-off in the range
    (80, "Above the PTSD cut-off"),             # all twenty items "Extremely"
])
def test_pcl5_bands_are_the_provisional_ptsd_cut_off(total, band):
    result = score("pcl5", answers_totalling(total, PCL5))
    assert (result.total, result.band, result.safety_alert) == (total, band, False)


@pytest.mark.parametrize("baseline, current, response", [
    (50, 40, True),     # 10 points lower: the NC-PTSD's clinically meaningful change
    (50, 41, False),    # 9 lower: more than the 5-point reliable change, not yet a response
    (50, 45, False),    # 5 lower: the minimum detectable change only
    (12, 2, True),      # a response whatever the baseline: the rule is in points, not a fraction
    (40, 55, False),    # worse
    (0, 0, False),      # nothing to drop from: no response (a points rule needs no baseline fraction)
])
def test_pcl5_response_is_a_drop_of_ten_points(baseline, current, response):
    result = change("pcl5", baseline, current)
    assert result.response is response and result.remission is None and result.delta == current - baseline


def test_pcl5_wording_scale_and_codes_are_the_published_ones():
    assert len(PCL5.items) == 20 and (PCL5.min_total, PCL5.max_total) == (0, 80)
    assert PCL5.stem == "In the past month, how much were you bothered by:"
    assert PCL5.items[0].text == "Repeated, disturbing, and unwanted memories of the stressful experience?"
    assert PCL5.items[19].text == "Trouble falling or staying asleep?"
    assert [o.label for o in PCL5.items[7].options] == ["Not at all", "A little bit", "Moderately", "Quite a bit",
                                                         "Extremely"]
    assert [o.value for o in PCL5.items[7].options] == [0, 1, 2, 3, 4]
    assert (PCL5.loinc_panel, PCL5.loinc_total) == ("101697-1", "101698-9")
    assert PCL5.response_rule == "a drop of at least 10 points from baseline"
    assert any("public domain" in s for s in PCL5.sources) and any("31–33" in s for s in PCL5.sources)


# -- WSAS --------------------------------------------------------------------------------------

@pytest.mark.parametrize("total, band", [
    (0, "Subclinical"),
    (9, "Subclinical"),                        # under 10: subclinical populations (Mundt et al. 2002)
    (10, "Functional impairment"),            # 10-20: significant functional impairment
    (20, "Functional impairment"),
    (21, "Moderately severe or worse"),        # above 20
    (40, "Moderately severe or worse"),        # every domain 8, "very severely"
])
def test_wsas_bands_are_mundts(total, band):
    result = score("wsas", answers_totalling(total, WSAS))
    assert (result.total, result.band, result.safety_alert) == (total, band, False)


def test_wsas_items_answer_0_to_8_with_the_published_anchors():
    assert len(WSAS.items) == 5 and (WSAS.min_total, WSAS.max_total) == (0, 40)
    assert WSAS.items[1].text.startswith("Because of my [problem] my home management (cleaning, tidying")
    assert [o.label for o in WSAS.items[0].options][::2] == ["0 – Not at all", "2 – Slightly", "4 – Definitely",
                                                             "6 – Markedly", "8 – Very severely"]
    with pytest.raises(InvalidAnswers, match="WSAS item 5: answer"):
        score("wsas", [0, 0, 0, 0, 9])
    # no published response rule: the change is reported, never judged
    assert change("wsas", 30, 8).response is None and WSAS.response_rule is None


# -- WAI-SR ------------------------------------------------------------------------------------

@pytest.mark.parametrize("answers, total", [
    ([1] * 12, 12),          # "Seldom" throughout: the lowest total
    ([5] * 12, 60),          # "Always" throughout
    ([3] * 6 + [4] * 6, 42),
])
def test_waisr_totals_12_to_60_without_bands(answers, total):
    result = score("waisr", answers)
    assert (result.total, result.band, result.safety_alert) == (total, "", False)


def test_waisr_answers_1_to_5_and_a_rising_total_is_better():
    assert [o.label for o in WAISR.items[0].options] == ["Seldom", "Sometimes", "Fairly often", "Very often",
                                                          "Always"]
    with pytest.raises(InvalidAnswers, match="WAI-SR item 1: answer"):
        score("waisr", [0] + [3] * 11)          # the scale starts at 1
    assert WAISR.items[2].text == "I believe ___ likes me." and len(WAISR.items) == 12
    assert WAISR.better == HIGHER_IS_BETTER and WAISR.direction == "Higher totals are better"
    rising = change("waisr", 30, 48)
    assert (rising.delta, rising.percent, rising.response, rising.remission) == (18, Decimal("0.60"), None, None)
    assert WAISR.reading(48, "") == "48" and PCL5.reading(33, "Within the PTSD cut-off range") == \
        "33 (Within the PTSD cut-off range)"


# -- safety ------------------------------------------------------------------------------------

@pytest.mark.parametrize("measure", [PCL5, WSAS, WAISR])
def test_no_answer_to_these_measures_raises_a_safety_alert(measure):
    """None asks about suicide or self-harm: the highest answer to every item raises nothing."""
    highest = [max(item.values) for item in measure.items]
    assert measure.safety is None
    assert safety.from_measure(measure.key, highest) is None
    assert safety.from_partial_answers(measure.key, highest[:-1] + [None]) is None


def test_the_registry_offers_them_after_the_first_three():
    assert list(MEASURES) == ["phq9", "gad7", "cssrs", "pcl5", "wsas", "waisr"]
    assert [m.baseline_item for m in (PCL5, WSAS)] == ["baseline_pcl5", "baseline_wsas"]
    assert not WAISR.has_baseline and PCL5.has_baseline     # an alliance rates a therapy under way: no baseline


# -- the model's new rules ---------------------------------------------------------------------

ONE_TO_THREE = (Option("Low", 1), Option("Mid", 2), Option("High", 3))


def _entry(**changes) -> Measure:
    """A small alliance-like entry (two 1-3 items: totals 2-6, higher better, no bands); `changes` break it."""
    fields = dict(key="ally2", name="ALLY-2", stem="Lately:", items=(Item("We agree", ONE_TO_THREE),
                                                                     Item("We get on", ONE_TO_THREE)),
                  bands=(), unbanded="None published.", better=HIGHER_IS_BETTER, loinc_panel=None,
                  loinc_total=None, response_drop=None, remission_below=None)
    return Measure(**{**fields, **changes})


def change_of(entry: Measure, baseline: int, current: int) -> bool | None:
    """The response of a change under an entry registered in the app's registry for the call."""
    MEASURES.register(entry)
    try:
        return change(entry.key, baseline, current).response
    finally:
        MEASURES.unregister(entry.key)


def test_an_unbanded_higher_is_better_entry_registers():
    entry = MeasureRegistry(_entry(response_points=2))["ally2"]
    assert entry.response_rule == "a rise of at least 2 points from baseline"
    assert (change_of(entry, 3, 5), change_of(entry, 5, 3)) == (True, False)   # a rise of 2 is a response


@pytest.mark.parametrize("changes, problem", [
    ({"bands": (Band(2, 6, "All"),)}, "unbanded"),                         # says it has none, lists one
    ({"unbanded": None}, "bands must cover 2–6"),                           # no bands without saying why
    ({"better": "sideways"}, "better must be"),
    ({"response_drop": Decimal("0.5")}, "only for a lower-is-better measure"),   # a drop, on a rising scale
    ({"remission_below": 3}, "only for a lower-is-better measure"),
    ({"response_points": 5}, "outside the range of totals"),                # totals span 4 points
    ({"response_points": 0}, "outside the range of totals"),
    ({"better": "lower", "response_points": 2, "response_drop": Decimal("0.5")}, "one response rule"),
])
def test_an_entry_whose_direction_bands_or_rules_disagree_is_refused(changes, problem):
    with pytest.raises(InvalidMeasure, match=problem):
        MeasureRegistry(_entry(**changes))
