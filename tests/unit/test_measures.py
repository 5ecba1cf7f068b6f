"""PHQ-9 and GAD-7 scoring: every band edge, item 9, response and remission."""
from decimal import Decimal

import pytest

from ketamine_integration.domain.measures import GAD7, MEASURES, PHQ9, InvalidAnswers, change, score


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
    ("phq9", [0] * 8 + [4], "PHQ-9 item 9: answer with 0, 1, 2 or 3."),
    ("gad7", [0, 0, -1, 0, 0, 0, 0], "GAD-7 item 3: answer with 0, 1, 2 or 3."),
    ("gad7", [0, 0, 0, 0, 0, 0, True], "GAD-7 item 7"),
    ("bdi", [0], "Unknown measure"),
])
def test_invalid_answers_are_refused_naming_the_item(measure, answers, message):
    with pytest.raises(InvalidAnswers, match=message.replace("(", r"\(")):
        score(measure, answers)


def test_the_registry_holds_the_published_wording_and_codes():
    assert set(MEASURES) == {"phq9", "gad7"}
    assert len(PHQ9.items) == 9 and len(GAD7.items) == 7
    assert PHQ9.items[8] == "Thoughts that you would be better off dead or of hurting yourself in some way"
    assert GAD7.items[0] == "Feeling nervous, anxious or on edge"
    assert (PHQ9.loinc_panel, PHQ9.loinc_total, GAD7.loinc_total) == ("44249-1", "44261-6", "70274-6")
    assert PHQ9.max_total == 27 and GAD7.max_total == 21
