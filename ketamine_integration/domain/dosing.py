"""Dosing-series rules: spacing of sessions under a protocol, and plausible clinical values.

Pure: dates and values come in, plain-language problems go out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# WEIGHT_BASED_ROUTES lives with the protocol format now; read from here as before
from .dosing_plan import WEIGHT_BASED_ROUTES, DoseRange, DoseRule, Stage  # noqa: F401
from .phases import MIN_REASON_LENGTH
from .protocols import Experience
from .vitals import READINGS
from .text import counted, written_length


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str

    def problem(self, value, what: str) -> str | None:
        if value is None or self.low <= value <= self.high:
            return None
        return f"{what} of {value:g} {self.unit} is not plausible (expected {self.low:g}–{self.high:g})."


#: the widest values a monitored adult could show; anything outside is a typing error
VITAL_RANGES = {name: Range(low, high, unit) for name, (_words, unit, (low, high)) in READINGS.items()}
WEIGHT_RANGE = Range(25, 350, "kg")
MG_PER_KG_RANGE = Range(0.01, 5, "mg/kg")


def stage_of(number: int, rule: Experience, *, maintenance: bool = False) -> tuple[Stage | None, bool]:
    """The stage of the `number`-th dose (1 = first) of the series, or of maintenance, and whether it
    is that stage's first dose; (None, False) past the series' last stage or with no maintenance stage."""
    if maintenance:
        return rule.maintenance_stage, number == 1
    start = 0
    for stage in rule.series_stages:
        if number <= start + stage.sessions.max:
            return stage, number == start + 1
        start += stage.sessions.max
    return None, False


@dataclass(frozen=True)
class SpacingProblem:
    """One way a course's dosing breaks its protocol's stages, and the doses it involves."""

    text: str
    #: positions of the doses involved, in the dates given (series dates first, then maintenance dates)
    doses: frozenset[int]


def _gap_problem(earlier: date, later: date, stage: Stage, *, check_max: bool) -> str | None:
    gap, bounds = (later - earlier).days, stage.days_between
    span = f"{earlier.isoformat()} to {later.isoformat()} is {counted(gap, 'day')}"
    if gap == 0:
        return f"Two dosing sessions on {later.isoformat()}: never more than one a day."
    if gap < bounds.min:
        return f"{span}; the protocol's {stage.name} asks for at least {bounds.min}."
    if check_max and bounds.max is not None and gap > bounds.max:
        return f"{span}; the protocol's {stage.name} allows at most {bounds.max}."
    return None


def _stage_span_problems(series: list[tuple[date, int]], rule: Experience) -> list[SpacingProblem]:
    """Each series stage within its `within_days` (involving every dose of the stage: which doses
    a stage holds follows their count), and the series within `max_series_days` (involving the
    doses on its first and last day)."""
    problems, by_stage = [], {}
    for number, (day, position) in enumerate(series, start=1):
        stage, _ = stage_of(number, rule)
        if stage is not None:
            by_stage.setdefault(stage.name, (stage, []))[1].append((day, position))
    for stage, doses in by_stage.values():
        span = (doses[-1][0] - doses[0][0]).days
        if stage.within_days is not None and span > stage.within_days:
            problems.append(SpacingProblem(f"The protocol's {stage.name} spans {span} days; it allows "
                                           f"{stage.within_days}.", frozenset(p for _, p in doses)))
    if len(series) > 1 and rule.max_series_days is not None:
        first, last = series[0][0], series[-1][0]
        if (last - first).days > rule.max_series_days:
            problems.append(SpacingProblem(
                f"The series spans {(last - first).days} days; the protocol allows {rule.max_series_days}.",
                frozenset(p for day, p in series if day in (first, last))))
    return problems


def spacing_findings(dates: list[date], rule: Experience, maintenance: list[date] = ()) -> list[SpacingProblem]:
    """Ways a course's dosing (dates of its series sessions and of its maintenance sessions, any
    order) breaks the protocol's stages, each with the doses it involves: count (every series
    dose), spacing from the previous dose in the stage the dose falls in (the two doses), span of
    each stage and of the series. A second dose on one day is always a problem; a maintenance
    dose keeps the maintenance stage's minimum from the dose before it (its maximum only from an
    earlier maintenance dose: when maintenance starts is the prescriber's call)."""
    series = sorted((day, position) for position, day in enumerate(dates))
    problems = []
    if len(series) > rule.max_series_sessions:
        problems.append(SpacingProblem(f"{len(series)} dosing sessions; the protocol's series has at most "
                                       f"{rule.max_series_sessions}.", frozenset(range(len(series)))))
    doses = sorted([(day, False, position) for day, position in series]
                   + [(day, True, len(series) + i) for i, day in enumerate(maintenance)])
    numbers = {False: 0, True: 0}
    previous = None
    for day, in_maintenance, position in doses:
        numbers[in_maintenance] += 1
        stage, _ = stage_of(numbers[in_maintenance], rule, maintenance=in_maintenance)
        problem = None
        if previous is not None and stage is None and day == previous[0]:
            problem = f"Two dosing sessions on {day.isoformat()}: never more than one a day."
        elif previous is not None and stage is not None:
            problem = _gap_problem(previous[0], day, stage, check_max=not in_maintenance or previous[1])
        if problem:
            problems.append(SpacingProblem(problem, frozenset({previous[2], position})))
        previous = (day, in_maintenance, position)
    return problems + _stage_span_problems(series, rule)


def spacing_problems(dates: list[date], rule: Experience, maintenance: list[date] = ()) -> list[str]:
    """The plain-language problems of spacing_findings."""
    return [problem.text for problem in spacing_findings(dates, rule, maintenance)]


@dataclass(frozen=True)
class SpacingVerdict:
    #: the override reason to keep with the dose (None: no problem involves it, or none is explained)
    reason: str | None = None
    #: why the dose cannot be kept so, for the reason field
    refused: str | None = None


def spacing_verdict(problems: list[str], *, before: list[str] | None, same_day: bool, kept: str | None,
                    reason: str | None, may_override: bool) -> SpacingVerdict:
    """Whether a dose planned, moved or recorded may be kept, and the reason kept with it.

    `problems`: the spacing problems that involve the dose where it is now; `before`: those that
    involved it where it was (None for a new dose); `same_day`: it stays on its clinic day;
    `kept`: the override reason it carries. A kept reason stands only for the day and the
    problems it was given for: the same day with no problem that was not there before keeps it
    (and a dose without one stays without: a problem it shares with another dose was explained
    there). Anything new needs a fresh reason, which only a clinician who may override gives.
    Problems that do not involve the dose are not its to explain."""
    if not problems:
        return SpacingVerdict()
    reason = (reason or "").strip()
    if not reason and before is not None and same_day and set(problems) <= set(before):
        return SpacingVerdict(reason=kept)
    refusal = "This breaks the protocol's dosing plan: " + " ".join(dict.fromkeys(problems))
    if not may_override:
        return SpacingVerdict(refused=refusal + " Only a prescriber may keep it, with a reason: a prescriber "
                                                "must give the reason, or correct the date.")
    if written_length(reason) < MIN_REASON_LENGTH:
        earlier = " The reason given before was for another day or another problem." if kept else ""
        return SpacingVerdict(refused=refusal + earlier + f" Give a clinician's reason (at least "
                                                          f"{MIN_REASON_LENGTH} characters) to keep it.")
    return SpacingVerdict(reason=reason)


@dataclass(frozen=True)
class DoseVerdict:
    #: beyond a hard limit: refused as a typing error
    refused: str | None = None
    #: outside the protocol's usual doses: kept only with a clinician's reason
    unusual: str | None = None


def route_label(route: str | None) -> str:
    """A route as the record writes it: IV, IM; sublingual, intranasal."""
    return "" if not route else route.upper() if len(route) == 2 else route


def dose_words(dose_mg: float, weight_kg: float | None, *, weight_based: bool) -> str:
    """A dose in mg and, on a weight-based route with the weight known, the mg/kg it works out to
    ("105 mg is 1.5 mg/kg for 70 kg"): a typing error is plainest in the unit the protocol uses."""
    if weight_based and weight_kg:
        return f"{dose_mg:g} mg is {mg_per_kg(dose_mg, weight_kg):g} mg/kg for {weight_kg:g} kg"
    return f"{dose_mg:g} mg"


def _mg_for(per_kg: float, weight_kg: float) -> str:
    """What a dose per kg comes to in mg for this weight."""
    return f"{round(per_kg * weight_kg, 2):g} mg for {weight_kg:g} kg"


def ceiling_problem(dose_mg: float, weight_kg: float | None, ceiling: float | None, medication: str | None, *,
                    weight_based: bool) -> str | None:
    """A dose above 0 and within the clinic's ceiling for the medication (config DOSE_CEILING_MG),
    said in mg and in mg/kg for this patient's weight where the route is weight-based."""
    if dose_mg <= 0:
        return "The dose must be above 0 mg."
    if ceiling is None or dose_mg <= ceiling:
        return None
    if not (weight_based and weight_kg):
        return (f"{dose_mg:g} mg is above the clinic's ceiling of {ceiling:g} mg for {medication}: check for a "
                "typing error.")
    return (f"{dose_words(dose_mg, weight_kg, weight_based=True)}; the clinic's ceiling for {medication} is "
            f"{ceiling:g} mg ({mg_per_kg(ceiling, weight_kg):g} mg/kg for {weight_kg:g} kg): check for a typing error.")


def dose_verdict(dose_mg: float, weight_kg: float | None, rule: DoseRule | None,
                 usual: DoseRange | None, *, weight_based: bool, route: str | None = None) -> DoseVerdict:
    """A dose against the hard limits (MG_PER_KG_RANGE for weight-based routes, the protocol's
    `limit`) and the usual doses of its stage, in the protocol's unit. A mg/kg rule needs the
    weight; without it only the mg limits apply (signing a weight-based dose needs the weight).
    A refusal says the dose in mg and in mg/kg for the weight used, and the limit in both."""
    per_kg = mg_per_kg(dose_mg, weight_kg) if weight_based and weight_kg else None
    given = dose_words(dose_mg, weight_kg, weight_based=weight_based)
    if per_kg is not None and MG_PER_KG_RANGE.problem(per_kg, "A dose"):
        low, high = MG_PER_KG_RANGE.low, MG_PER_KG_RANGE.high
        lowest = round(low * weight_kg, 2)
        return DoseVerdict(refused=f"{given}; a plausible dose is {low:g}–{high:g} mg/kg ({lowest:g}–"
                                   f"{_mg_for(high, weight_kg)}): check for a typing error.")
    if rule is None:
        return DoseVerdict()
    value = per_kg if rule.unit == "mg/kg" else dose_mg
    if value is None:
        return DoseVerdict()
    if value > rule.limit:
        limit = f"{rule.limit:g} {rule.unit} {route_label(route)}".rstrip()
        if rule.unit == "mg":
            return DoseVerdict(refused=f"{dose_mg:g} mg is above the protocol's hard limit of {limit}: check for a "
                                       "typing error.")
        return DoseVerdict(refused=f"{given}; the protocol's hard limit is {limit} ({_mg_for(rule.limit, weight_kg)}): "
                                   "check for a typing error.")
    # a dose per kg is compared at two decimals: 29.2 mg for 58.5 kg is the 0.5 mg/kg it was meant as
    if usual is not None and not usual.contains(round(value, 2) if rule.unit == "mg/kg" else value):
        return DoseVerdict(unusual=f"{value:g} {rule.unit} is outside this protocol's usual doses here "
                                   f"({usual.label(rule.unit)}).")
    return DoseVerdict()


def mg_per_kg(dose_mg: float, weight_kg: float) -> float:
    """mg/kg from the dose and the weight used, to three decimals."""
    return round(dose_mg / weight_kg, 3)
