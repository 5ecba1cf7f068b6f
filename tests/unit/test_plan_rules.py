"""domain/plans.py: SMART validation of objectives, what signing needs, stage transitions, review due."""
from datetime import date, timedelta

import pytest

from ketamine_integration.domain.plans import (DEFAULT_REVIEW_RULE, ObjectiveRow, PlanDraft, PlanReviewRule,
                                               objective_problems, review_due, review_points, signing_problems,
                                               stage_change_problems)

DAY = date(2026, 3, 2)
GOALS = ["Re-engage with daily life", ""]
FULL = dict(goal="1", target="walks 3 times a week", criterion="log shows 3 walks a week",
            by_when=DAY + timedelta(days=28), mechanism="behavioural activation in a psychodynamic host")


def row(**changes):
    return ObjectiveRow(**{**FULL, **changes})


@pytest.mark.parametrize("changes, field, words", [
    (dict(target=""), "target", "who does what"),  # no specific target
    (dict(criterion="  "), "criterion", "how success is measured"),  # blank criterion
    (dict(by_when=None), "by_when", "date it is to be reached"),  # no date
    (dict(by_when=DAY - timedelta(days=1)), "by_when", "before the plan"),  # dated before the plan
    (dict(by_when=DAY + timedelta(days=731)), "by_when", "more than two years"),  # absurdly far
    (dict(mechanism=""), "mechanism", "why it should help"),  # no mechanism
    (dict(goal="2"), "goal", "that goal is empty"),  # serves a goal not written
    (dict(goal=""), "goal", "Choose the goal"),  # serves no goal
    (dict(measure="nope"), "measure", "unknown measure"),  # a measure outside the registry
])
def test_an_incomplete_objective_is_refused_naming_its_row_and_field(changes, field, words):
    problems = objective_problems([ObjectiveRow(), row(**changes)], GOALS, DAY, {"phq9"})
    assert list(problems) == [f"objectives-1-{field}"]
    assert problems[f"objectives-1-{field}"].startswith("Objective 2: ") and words in problems[f"objectives-1-{field}"]


def test_empty_rows_are_ignored_and_a_complete_one_passes():
    assert objective_problems([ObjectiveRow(), row(), row(by_when=DAY, measure="phq9")], GOALS, DAY, {"phq9"}) == {}


def test_a_row_with_only_a_measure_chosen_is_partly_filled():
    assert set(objective_problems([ObjectiveRow(measure="phq9")], GOALS, DAY, {"phq9"})) == {
        "objectives-0-goal", "objectives-0-target", "objectives-0-criterion", "objectives-0-by_when",
        "objectives-0-mechanism"}


def draft(**changes):
    values = dict(goals=GOALS, objectives=[row()], stage="stabilise", pathway="common_factors",
                  review_on=DAY + timedelta(days=30))
    return PlanDraft(**{**values, **changes})


@pytest.mark.parametrize("changes, field", [
    (dict(goals=["", " "]), "goals-0"),  # no goal
    (dict(objectives=[ObjectiveRow()]), "objectives-0-target"),  # no objective
    (dict(stage=None), "stage"),  # no stage
    (dict(pathway="eclectic"), "pathway"),  # not one of the four
    (dict(review_on=None), "review_on"),  # no review date
    (dict(review_on=DAY - timedelta(days=1)), "review_on"),  # review date passed
    (dict(review_on=DAY + timedelta(days=400)), "review_on"),  # more than a year away
])
def test_signing_needs(changes, field):
    assert list(signing_problems(draft(**changes), DAY)) == [field]


def test_a_complete_plan_signs():
    assert signing_problems(draft(), DAY) == {}


@pytest.mark.parametrize("current, new, reason, fields", [
    ("stabilise", "clarify", "formulation agreed with patient", set()),  # forward
    ("deepen", "stabilise", "setback after a loss: stabilise first", set()),  # stepping back is allowed
    (None, "consolidate", "transferred in late in therapy", set()),  # any first stage
    ("target", "target", "same stage again please", {"stage"}),  # the current stage
    ("target", "deepen", "short", {"reason"}),  # no real reason
    ("target", "unknown", "a reason long enough", {"stage"}),  # not a stage
])
def test_stage_transitions(current, new, reason, fields):
    assert set(stage_change_problems(current, new, reason)) == fields


FIRST = date(2026, 3, 1)
SERIES_END = date(2026, 3, 20)


@pytest.mark.parametrize("signed_on, today, expected", [
    (date(2026, 2, 27), date(2026, 3, 19), None),  # before any point
    (date(2026, 2, 27), date(2026, 3, 20), "the end of the dosing series"),  # the series ended
    (date(2026, 3, 21), date(2026, 3, 28), None),  # a revision signed after the series answers it
    (date(2026, 3, 21), date(2026, 3, 29), "28 days after the first dose"),  # four weeks from the first dose
    (date(2026, 3, 29), date(2026, 4, 9), None),  # answered on the day
    (date(2026, 3, 29), date(2026, 4, 10), "the plan's review date"),  # its own date
])
def test_review_due(signed_on, today, expected):
    points = review_points(DEFAULT_REVIEW_RULE, review_on=date(2026, 4, 10), first_dose=FIRST,
                           series_end=SERIES_END)
    due = review_due(signed_on, today, points)
    assert (due.why if due else None) == expected


def test_a_protocol_rule_replaces_the_default_points():
    rule = PlanReviewRule(after_series=False, days_after_first_dose=(14, 56))
    points = review_points(rule, review_on=None, first_dose=FIRST, series_end=SERIES_END)
    assert [p.why for p in points] == ["14 days after the first dose", "56 days after the first dose"]
    assert review_points(rule, review_on=None, first_dose=None, series_end=None) == []


def _protocol(**extra):
    from pathlib import Path

    import yaml

    from ketamine_integration.domain.protocols import validate_definition
    path = Path(__file__).resolve().parents[2] / "protocols" / "im-ketamine-kap.yaml"
    return validate_definition({**yaml.safe_load(path.read_text(encoding="utf-8")), **extra}, path.name)


def test_a_protocol_may_name_its_plan_review_points_and_says_nothing_by_default():
    assert _protocol().plan_review is None  # the shipped files leave it out: DEFAULT_REVIEW_RULE applies
    declared = _protocol(plan_review={"after_series": False, "days_after_first_dose": [14, 42]}).plan_review
    assert (declared.after_series, declared.days_after_first_dose) == (False, (14, 42))


@pytest.mark.parametrize("plan_review", [
    {"days_after_first_dose": [0]},  # not a day after
    {"days_after_first_dose": [28, 28]},  # twice the same point
    {"after_series": "sometimes"},  # not a yes or no
    {"every_week": True},  # an unknown key
])
def test_a_protocol_plan_review_is_validated(plan_review):
    from ketamine_integration.domain.protocols import ProtocolError
    with pytest.raises(ProtocolError):
        _protocol(plan_review=plan_review)
