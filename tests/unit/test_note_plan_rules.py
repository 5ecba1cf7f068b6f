"""domain/note_plan.py: SMART validation of a note's new action steps (issue 24, point 3: the
criterion, the review date and the plan objective served) and when a note may move the stage."""
from datetime import date, timedelta

import pytest

from ketamine_integration.domain.note_plan import (CRITERION_NEEDED, NOT_AN_OBJECTIVE, OBJECTIVE_NEEDED,
                                                   REVIEW_BEFORE_START, STAGE_FOR_REASON, stage_move_problems,
                                                   step_problems)

DAY = date(2026, 3, 2)
OBJECTIVES = frozenset({"lineage-a", "lineage-b"})
FULL = dict(row=1, what="Walk by the river", how_often="3 times a week", starts_on=DAY,
            review_on=DAY + timedelta(days=14), success_criterion="Three walks logged each week",
            objective="lineage-a", mechanism="Activation lifts mood")


def step(**changes):
    return {**FULL, **changes}


@pytest.mark.parametrize("changes, objectives, field, words", [
    (dict(success_criterion=None), OBJECTIVES, "success_criterion", CRITERION_NEEDED),  # no criterion
    (dict(success_criterion=" . "), OBJECTIVES, "success_criterion", CRITERION_NEEDED),  # a dot says nothing
    (dict(review_on=None), OBJECTIVES, "what", "a review date"),  # no review date
    (dict(review_on=DAY - timedelta(days=1)), OBJECTIVES, "review_on", REVIEW_BEFORE_START),  # review first
    (dict(how_often=""), OBJECTIVES, "what", "how often"),  # not specific
    (dict(objective=None), OBJECTIVES, "objective", OBJECTIVE_NEEDED),  # the course has a plan: name the objective
    (dict(objective="lineage-z"), OBJECTIVES, "objective", NOT_AN_OBJECTIVE),  # not one of the plan's
    (dict(objective="lineage-a"), None, "objective", NOT_AN_OBJECTIVE),  # no plan: nothing to serve
])
def test_a_filled_step_missing_a_smart_part_is_refused_on_its_row(changes, objectives, field, words):
    problems = step_problems([step(**changes)], objectives)
    assert words in problems[f"new_steps-1-{field}"]


@pytest.mark.parametrize("changes, objectives", [
    ({}, OBJECTIVES),  # complete, serving an objective of the plan
    (dict(objective=None), None),  # no plan: the objective is optional
    (dict(mechanism=None), OBJECTIVES),  # the mechanism is welcome, not required
    (dict(review_on=DAY), OBJECTIVES),  # reviewed the day it starts
])
def test_a_complete_step_passes(changes, objectives):
    assert step_problems([step(**changes)], objectives) == {}


def test_each_row_is_named_by_its_form_row_or_its_place():
    problems = step_problems([{k: v for k, v in step(success_criterion="").items() if k != "row"}], None)
    assert set(problems) == {"new_steps-0-success_criterion", "new_steps-0-objective"}


@pytest.mark.parametrize("current, stage, reason, expected", [
    ("clarify", None, None, {}),  # nothing asked
    ("clarify", "", "   ", {}),  # blank is nothing asked
    ("clarify", "target", "Pattern mapped; ready to work on avoidance", {}),  # a move with its reason
    (None, "stabilise", "First stage recorded for this course", {}),  # a course without a stage yet
    ("clarify", "stabilise", "Crisis last week: back to safety first", {}),  # stepping back is allowed
    ("clarify", "clarify", "Still clarifying the pattern", {"move_stage": "already"}),  # the current stage
    ("clarify", "target", "", {"stage_reason": "Say why"}),  # no reason
    ("clarify", "target", "ok", {"stage_reason": "at least"}),  # a reason too short to say why
    ("clarify", None, "Because the pattern is clear", {"move_stage": STAGE_FOR_REASON}),  # a reason, no stage
    ("clarify", "nirvana", "A stage no map has", {"move_stage": "Choose"}),  # unknown stage
])
def test_a_note_moves_the_stage_only_to_another_known_stage_with_a_reason(current, stage, reason, expected):
    problems = stage_move_problems(current, stage, reason)
    assert set(problems) == set(expected)
    for field, words in expected.items():
        assert words in problems[field]
