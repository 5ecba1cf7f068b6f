"""The plan in an integration note, pure (issue 24, point 3): what makes a new action step SMART
(what, how often, from, a review date after the start, a success criterion, and the plan objective
it serves when the course has a plan), and when a note may move the course's decision-map stage."""
from __future__ import annotations

from .plans import STAGES, stage_change_problems
from .text import is_written

#: what a new action step must say, and how the message names it (the row's "what" field shows it)
STEP_NEEDS = (("what", "what the step is"), ("how_often", "how often"), ("starts_on", "from when"),
              ("review_on", "a review date"))
#: the step's needs written as text (a zero-width space or "." says nothing)
STEP_TEXT = ("what", "how_often")
CRITERION_NEEDED = "Say how you will both know it worked: the step's success criterion."
OBJECTIVE_NEEDED = "Choose the plan objective this step serves."
NOT_AN_OBJECTIVE = "Choose one of the active plan's objectives."
REVIEW_BEFORE_START = "The review comes after the start."
STAGE_FOR_REASON = "Choose the stage to move the course to (or clear the reason)."


def step_problems(steps: list[dict], objectives: frozenset[str] | set[str] | None) -> dict[str, str]:
    """Field errors of new action-step rows ({row, what, how_often, starts_on, review_on,
    success_criterion, objective}), keyed "new_steps-<row>-<field>". `objectives`: the lineage ids of
    the active plan's objectives, one of which each step must serve; None when the course has no
    signed plan (the objective is optional then, and none may be named)."""
    problems: dict[str, str] = {}
    for i, step in enumerate(steps):
        where = f"new_steps-{step.get('row', i)}"
        missing = [label for key, label in STEP_NEEDS
                   if not (is_written(step.get(key)) if key in STEP_TEXT else step.get(key))]
        if missing:
            problems[f"{where}-what"] = "A specific step needs " + ", ".join(missing) + "."
        elif step["review_on"] < step["starts_on"]:
            problems[f"{where}-review_on"] = REVIEW_BEFORE_START
        if not is_written(step.get("success_criterion")):
            problems[f"{where}-success_criterion"] = CRITERION_NEEDED
        objective = step.get("objective")
        if objective and objective not in (objectives or ()):
            problems[f"{where}-objective"] = NOT_AN_OBJECTIVE
        elif not objective and objectives:
            problems[f"{where}-objective"] = OBJECTIVE_NEEDED
    return problems


def stage_move_problems(current: str | None, stage: str | None, reason: str | None) -> dict[str, str]:
    """Field errors of a note's "move the course to stage" (move_stage, stage_reason): nothing asked
    when both are empty; else a known stage other than `current`, with a reason."""
    if not stage and not (reason or "").strip():
        return {}
    if not stage:
        return {"move_stage": STAGE_FOR_REASON}
    names = {"stage": "move_stage", "reason": "stage_reason"}
    return {names[k]: v for k, v in stage_change_problems(current, stage, reason or "").items()}


def stage_name(stage: str | None) -> str:
    return STAGES.get(stage or "", "")
