"""Alert rules per source of suicide risk (issue 19, point 6): a measure's safety rule (PHQ-9
item 9, the C-SSRS screener's triage) and the therapist's risk screen, as tables."""
import pytest

from ketamine_integration.domain.measures import CSSRS, MEASURES, InvalidAnswers, score
from ketamine_integration.domain.safety import (MEASURE, PORTAL_ANSWER, RISK_SCREEN, from_measure, from_partial_answers,
                                                from_risk_screen)

N = None  # a C-SSRS question not asked (questions 3-5 follow only a yes to question 2)


@pytest.mark.parametrize("answers, alert", [
    ([0] * 9, None),                                                      # nothing reported
    ([3] * 8 + [0], None),                                                # severe, but item 9 "Not at all"
    ([0] * 8 + [1], "PHQ-9 item 9 (thoughts of self-harm) answered 1"),   # several days: alert at any total
    ([0] * 8 + [3], "PHQ-9 item 9 (thoughts of self-harm) answered 3"),   # nearly every day
])
def test_phq9_item_9_above_0_raises_an_alert(answers, alert):
    signal = from_measure("phq9", answers)
    assert (signal and signal.finding) == alert
    if signal:
        assert (signal.source, signal.item_score) == (MEASURE, answers[8])


def test_gad7_has_no_safety_rule():
    assert from_measure("gad7", [3] * 7) is None                          # anxiety alone raises nothing


@pytest.mark.parametrize("answers, level", [
    ([0, 0, N, N, N, 0], "No risk identified"),        # all no: questions 3-5 not asked
    ([1, 0, N, N, N, 0], "Low risk"),                  # wish to be dead only
    ([0, 1, 0, 0, 0, 0], "Low risk"),                  # non-specific thoughts, no method, intent or plan
    ([1, 1, 1, 0, 0, 0], "Moderate risk"),             # thinking about how (method)
    ([0, 0, N, N, N, 1], "Moderate risk"),             # behaviour, more than 3 months ago
    ([1, 1, 0, 1, 0, 0], "High risk"),                 # some intention of acting
    ([1, 1, 1, 1, 1, 0], "High risk"),                 # a plan and intent
    ([0, 0, N, N, N, 2], "High risk"),                 # behaviour within the past 3 months, no ideation now
    ([1, 1, 1, 0, 0, 1], "Moderate risk"),             # method and old behaviour: moderate, not high
])
def test_cssrs_risk_level_follows_the_published_triage(answers, level):
    assert score("cssrs", answers).band == level


@pytest.mark.parametrize("answers, finding", [
    ([0, 0, N, N, N, 0], None),                                                     # no yes: no alert
    ([1, 0, N, N, N, 0], "C-SSRS screener: Low risk (yes to question 1)"),          # low risk still alerts
    ([1, 1, 0, 1, 0, 0], "C-SSRS screener: High risk (yes to questions 1, 2 and 4)"),
    ([0, 0, N, N, N, 2], "C-SSRS screener: High risk (yes to question 6)"),        # recent behaviour
])
def test_any_yes_on_the_cssrs_raises_an_alert_with_its_level(answers, finding):
    signal = from_measure("cssrs", answers)
    assert (signal and signal.finding) == finding
    if signal:
        assert (signal.source, signal.item_score) == (MEASURE, None)


@pytest.mark.parametrize("answers, message", [
    ([0, 0, 0, N, N, 0], "item 3 is asked only when item 2"),     # answered a question that is skipped
    ([0, 1, N, 0, 0, 0], "item 3: answer “No” or “Yes”"),           # skipped a question that is asked
    ([0, 0, N, N, N, 3], "item 6: answer “No”, “Yes, more than 3 months ago” or “Yes, within the past 3 months”"),        # no such answer
    ([0, 0, N, N, N], "has 6 items; 5 answered"),                 # one missing
])
def test_cssrs_skip_logic_is_checked(answers, message):
    with pytest.raises(InvalidAnswers, match=message):
        score("cssrs", answers)


def test_cssrs_entry_keeps_the_published_wording():
    assert "cssrs" in MEASURES and len(CSSRS.items) == 6
    assert CSSRS.items[0].text == "Have you wished you were dead or wished you could go to sleep and not wake up?"
    assert CSSRS.items[4].text == ("Have you started to work out or worked out the details of how to kill "
                                   "yourself? Do you intend to carry out this plan?")
    assert [i.asked_if for i in CSSRS.items] == [None, None, (2, (1,)), (2, (1,)), (2, (1,)), None]
    assert (CSSRS.charted, CSSRS.safety_label, CSSRS.baseline_item) == (False, "C-SSRS screener", "baseline_cssrs")


@pytest.mark.parametrize("content, finding", [
    ({}, None),                                                                           # screen not filled in
    ({"self_harm_thoughts": "no", "self_harm_intent": "no"}, None),                       # screened, nothing
    ({"self_harm_thoughts": "yes"}, "Risk screen: thoughts of self-harm reported"),      # thoughts
    ({"self_harm_thoughts": "yes", "self_harm_intent": "no"}, "Risk screen: thoughts of self-harm reported"),
    ({"self_harm_thoughts": "yes", "self_harm_intent": "yes"},
     "Risk screen: intent to act on thoughts of self-harm reported"),                    # intent: the graver
    ({"self_harm_thoughts": "no", "self_harm_intent": "yes"},
     "Risk screen: intent to act on thoughts of self-harm reported"),                    # contradictory: intent wins
])
def test_the_therapists_risk_screen_raises_an_alert(content, finding):
    signal = from_risk_screen(content)
    assert (signal and signal.finding) == finding
    if signal:
        assert (signal.source, signal.item_score) == (RISK_SCREEN, None)


@pytest.mark.parametrize("measure, answers, finding", [
    # PHQ-9 item 9 valid and above 0, another question left empty: the rule is met all the same
    ("phq9", [1, 1, N, 1, 1, 1, 1, 1, 2],
     "PHQ-9 item 9 (thoughts of self-harm) answered 2 on an incomplete questionnaire in the portal"),
    ("phq9", [N] * 8 + [1],                              # item 9 the only answer given
     "PHQ-9 item 9 (thoughts of self-harm) answered 1 on an incomplete questionnaire in the portal"),
    ("phq9", [1] * 8 + [0], None),                       # item 9 "Not at all": nothing, whatever else is missing
    ("phq9", [1] * 8 + [N], None),                       # item 9 itself empty or not valid: nothing to read
    ("gad7", [3, 3, N, 3, 3, 3, 3], None),               # no safety rule
    # the C-SSRS screener: the triage level the valid answers reach (a missing one can only make it graver)
    ("cssrs", [1, N, N, N, N, N],
     "C-SSRS screener: Low risk (yes to question 1) on an incomplete questionnaire in the portal"),
    ("cssrs", [N, 1, 0, 1, N, N],
     "C-SSRS screener: High risk (yes to questions 2 and 4) on an incomplete questionnaire in the portal"),
    ("cssrs", [0, 0, N, N, N, N], None),                 # every valid answer "No": no level reached
    ("phq9", [N] * 8, None),                             # not one answer per question: not read
])
def test_the_valid_answers_of_an_incomplete_portal_form_meet_the_safety_rule(measure, answers, finding):
    signal = from_partial_answers(measure, answers)
    assert (signal and signal.finding) == finding
    if signal:
        assert signal.source == PORTAL_ANSWER and signal.guidance == MEASURES[measure].safety.guidance
        assert signal.item_score == (answers[8] if measure == "phq9" else None)
