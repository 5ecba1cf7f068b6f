"""Treatment plans, pure: the integration pathways, host theories and decision-map stages
(FRAMEWORKS.md), SMART validation of objectives, what signing a plan needs, the stage
transition rule and when a plan review is due. Time comes in as arguments."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

#: the four pathways of psychotherapy integration; a plan names its main one
PATHWAYS = {"common_factors": "Common factors", "technical_eclecticism": "Technical eclecticism",
            "theoretical_integration": "Theoretical integration",
            "assimilative_integration": "Assimilative integration"}
#: host theories (the home base of assimilative integration); keys are stored in signed notes: never remove one
HOST_THEORIES = {"": "—", "psychodynamic": "Psychodynamic", "cbt": "Cognitive behavioural (CBT)",
                 "act": "Acceptance and commitment (ACT)", "humanistic": "Humanistic / person-centred",
                 "ifs": "Internal Family Systems", "somatic": "Somatic",
                 "mindfulness": "Mindfulness-based", "integrative": "Integrative (other)"}
#: the decision map's five stages, in their usual order (a course may step back: progress is not linear)
STAGES = {"stabilise": "1. Stabilise and build safety", "clarify": "2. Clarify the problem pattern",
          "target": "3. Target maintaining factors", "deepen": "4. Go deeper when indicated",
          "consolidate": "5. Consolidate"}
#: an objective due further out than this after the plan is a typing error, not a plan (two years)
LONGEST_OBJECTIVE_DAYS = 730
#: a plan reviewed later than this after signing is not a review date (one year)
LONGEST_REVIEW_DAYS = 366
#: the SMART parts every objective needs, with what to say when one is missing
OBJECTIVE_NEEDS = {"goal": "Choose the goal this objective serves.",
                   "target": "Say who does what, how often or how many.",
                   "criterion": "Say how success is measured and what counts as success.",
                   "by_when": "Give the date it is to be reached by.",
                   "mechanism": "Say why it should help (the mechanism, in the host frame)."}
STAGE_REASON_MINIMUM = 10


@dataclass(frozen=True)
class ObjectiveRow:
    """One objective row as typed: goal number (1-based, as text), SMART parts, optional measure key."""

    goal: str = ""
    target: str = ""
    criterion: str = ""
    by_when: date | None = None
    mechanism: str = ""
    measure: str = ""

    @property
    def empty(self) -> bool:
        return not any((self.goal, self.target.strip(), self.criterion.strip(), self.by_when,
                        self.mechanism.strip(), self.measure))


def objective_problems(rows: list[ObjectiveRow], goals: list[str], plan_date: date,
                       measures: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """Field errors of the objective rows, keyed "objectives-<row>-<field>" (0-based rows, as the
    form names them). An empty row is ignored; a partly filled one must be complete."""
    problems: dict[str, str] = {}
    for index, row in enumerate(rows):
        if row.empty:
            continue
        where = f"Objective {index + 1}: "
        for name, message in OBJECTIVE_NEEDS.items():
            value = getattr(row, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems[f"objectives-{index}-{name}"] = where + message
        if row.goal and not _goal_exists(row.goal, goals):
            problems[f"objectives-{index}-goal"] = where + "that goal is empty: write the goal first."
        if row.by_when is not None:
            if row.by_when < plan_date:
                problems[f"objectives-{index}-by_when"] = where + "the date is before the plan."
            elif row.by_when > plan_date + timedelta(days=LONGEST_OBJECTIVE_DAYS):
                problems[f"objectives-{index}-by_when"] = where + "the date is more than two years away."
        if row.measure and row.measure not in measures:
            problems[f"objectives-{index}-measure"] = where + "unknown measure."
    return problems


def _goal_exists(number: str, goals: list[str]) -> bool:
    return number.isdigit() and 1 <= int(number) <= len(goals) and bool(goals[int(number) - 1].strip())


@dataclass(frozen=True)
class PlanDraft:
    """What signing looks at."""

    goals: list[str]
    objectives: list[ObjectiveRow]
    stage: str | None
    pathway: str | None
    review_on: date | None
    no_change: bool = False


def signing_problems(plan: PlanDraft, today: date) -> dict[str, str]:
    """Signing needs at least one goal and one complete objective, a stage, a pathway and a review
    date (on or after today, within a year); field errors keyed as the form names its fields."""
    problems: dict[str, str] = {}
    if not any(goal.strip() for goal in plan.goals):
        problems["goals-0"] = "Write at least one goal before signing."
    if not any(not row.empty for row in plan.objectives):
        problems["objectives-0-target"] = "Write at least one complete objective before signing."
    if plan.stage not in STAGES:
        problems["stage"] = "Choose the decision-map stage."
    if plan.pathway not in PATHWAYS:
        problems["pathway"] = "Choose the main integration pathway."
    if plan.review_on is None:
        problems["review_on"] = "Give the date the plan is to be reviewed."
    elif plan.review_on < today:
        problems["review_on"] = "The review date has passed: give a date from today on."
    elif plan.review_on > today + timedelta(days=LONGEST_REVIEW_DAYS):
        problems["review_on"] = "Review the plan within a year."
    return problems


def stage_change_problems(current: str | None, new: str, reason: str) -> dict[str, str]:
    """Any stage may follow any other (stepping back to stabilise is data), but a move names a known
    stage other than the current one, and says why."""
    problems: dict[str, str] = {}
    if new not in STAGES:
        problems["stage"] = "Choose a decision-map stage."
    elif new == current:
        problems["stage"] = "The course is at this stage already."
    if len((reason or "").strip()) < STAGE_REASON_MINIMUM:
        problems["reason"] = f"Say why the stage changes (at least {STAGE_REASON_MINIMUM} characters)."
    return problems


# -- review due -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanReviewRule:
    """A protocol's re-evaluation points (protocols/README.md `plan_review`); the default when a
    protocol says nothing: after the dosing series, and 28 days after the first dose."""

    after_series: bool = True
    days_after_first_dose: tuple[int, ...] = field(default=(28,))


DEFAULT_REVIEW_RULE = PlanReviewRule()


@dataclass(frozen=True)
class ReviewPoint:
    on: date
    why: str


def review_points(rule: PlanReviewRule, *, review_on: date | None, first_dose: date | None,
                  series_end: date | None) -> list[ReviewPoint]:
    """Every date the active plan is to be reviewed on, with why, in date order."""
    points = [ReviewPoint(review_on, "the plan's review date")] if review_on else []
    if first_dose is not None:
        points += [ReviewPoint(first_dose + timedelta(days=days), f"{days} days after the first dose")
                   for days in rule.days_after_first_dose]
    if rule.after_series and series_end is not None:
        points.append(ReviewPoint(series_end, "the end of the dosing series"))
    return sorted(points, key=lambda p: p.on)


def review_due(signed_on: date, today: date, points: list[ReviewPoint]) -> ReviewPoint | None:
    """The earliest review point reached (on or before today) that the active plan, signed on
    `signed_on`, does not answer (it was signed before the point); None: nothing due. A newer signed
    revision (a "reviewed, no change" one too) answers every point up to its signing."""
    for point in points:
        if signed_on < point.on <= today:
            return point
    return None
