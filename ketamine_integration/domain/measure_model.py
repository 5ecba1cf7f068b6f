"""The shape of a measure registry entry (items, answers, bands, triage, safety rule) and the
registry that refuses an inconsistent one. Pure; the entries themselves and their scoring are in
domain/measures.py."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

#: a measure key is stored with every response (measure_responses.measure, 10 characters)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,9}$")
DIFFICULTY = (("not", "Not difficult at all"), ("somewhat", "Somewhat difficult"), ("very", "Very difficult"),
              ("extremely", "Extremely difficult"))
#: which way a total improves: symptom and impairment scales fall as the patient gets better; an
#: alliance scale rises as the working relationship strengthens
LOWER_IS_BETTER, HIGHER_IS_BETTER = "lower", "higher"
DIRECTIONS = {LOWER_IS_BETTER: "Lower totals are better", HIGHER_IS_BETTER: "Higher totals are better"}


@dataclass(frozen=True)
class Option:
    """One answer an item offers: what the patient reads and the score it adds."""
    label: str
    value: int
    #: LOINC answer code (LA...), when the measure has one
    loinc: str | None = None


@dataclass(frozen=True)
class Item:
    text: str
    options: tuple[Option, ...]
    #: LOINC code of the question
    loinc: str | None = None
    #: asked only when an earlier item (1-based) got one of these answers; otherwise it is skipped
    #: and its answer is None (C-SSRS screener: questions 3-5 only after a yes to question 2)
    asked_if: tuple[int, tuple[int, ...]] | None = None

    def asked(self, answers: list[int | None]) -> bool:
        if self.asked_if is None:
            return True
        item, values = self.asked_if
        return answers[item - 1] in values

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    label: str
    #: the name a phone's chart writes beside the band's line, where the whole name would crowd the
    #: narrow margin (PCL-5: its bands from 31 and from 34 lie 3 points apart); "" for the label itself
    short: str = ""


@dataclass(frozen=True)
class RiskLevel:
    """One level of a measure's published triage: the answers that reach it and what it asks for."""
    label: str
    #: (item number, answers): any one of these answers puts a response at this level
    when: tuple[tuple[int, tuple[int, ...]], ...]
    #: what the published triage says to do at this level
    action: str


@dataclass(frozen=True)
class Triage:
    """A risk level read from which items were answered how (the C-SSRS screener has no total
    score): the most severe level any answer reaches, or `none`."""
    #: most severe first
    levels: tuple[RiskLevel, ...]
    #: the label of a response that reaches no level
    none: str
    #: where the rule is published
    source: str

    def level(self, answers: list[int | None]) -> RiskLevel | None:
        for level in self.levels:
            if any(answers[item - 1] in values for item, values in level.when):
                return level
        return None

    def label(self, answers: list[int | None]) -> str:
        level = self.level(answers)
        return self.none if level is None else level.label


@dataclass(frozen=True)
class SafetyRule:
    """What raises a safety alert, whatever the total: one item answered above a threshold
    (PHQ-9 item 9), or, with no item named, any risk level of the measure's triage (C-SSRS)."""
    #: 1-based item number; None: the measure's triage reaching any level raises it
    item: int | None
    above: int
    #: in a sentence: "PHQ-9 item 9 (thoughts of self-harm) answered 2"
    topic: str
    #: what the item asks about and what the clinician does, on the alert
    guidance: str

    def raised_by(self, answers: list[int | None], triage: Triage | None = None) -> bool:
        if self.item is None:
            return triage is not None and triage.level(answers) is not None
        return (answers[self.item - 1] or 0) > self.above

    def score(self, answers: list[int | None]) -> int | None:
        """The answer that raised (or would raise) the alert (None: a triage rule)."""
        return None if self.item is None else answers[self.item - 1]


@dataclass(frozen=True)
class Measure:
    key: str
    name: str
    stem: str
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    #: LOINC codes: the panel and the total score (None: the measure has none)
    loinc_panel: str | None
    loinc_total: str | None
    #: a drop of at least this fraction of the baseline total is a response (None: not defined)
    response_drop: Decimal | None
    #: a total below this is remission (None: the measure defines none here)
    remission_below: int | None
    safety: SafetyRule | None = None
    difficulty_question: str | None = None
    difficulty_options: tuple[tuple[str, str], ...] = DIFFICULTY
    #: a risk level from the answers, shown instead of a severity band (no bands then)
    triage: Triage | None = None
    #: a line shown under an item's question (the published follow-up prompt), by item number
    prompts: tuple[tuple[int, str], ...] = ()
    #: the instructions a patient reads in the portal, where the stem speaks to a clinician (None: the stem)
    patient_stem: str | None = None
    #: which way the total improves (LOWER_IS_BETTER or HIGHER_IS_BETTER): response and charts read it
    better: str = LOWER_IS_BETTER
    #: a change of at least this many points in the better direction is a response (PCL-5: 10), where
    #: the measure's rule is in points rather than a fraction of the baseline (None: not defined)
    response_points: int | None = None
    #: why the measure has no bands, where it publishes none (WAI-SR): bands are then empty and a
    #: response's band is "" (None: the bands must cover every total)
    unbanded: str | None = None
    #: whether a course takes this measure's baseline before the first dose (the preparation checklist's
    #: baseline item, change from it): not for an alliance measure (WAI-SR), which rates a therapy under way
    has_baseline: bool = True
    #: where the entry's wording, bands, cut-offs and change rules are published, and its licence
    sources: tuple[str, ...] = ()

    @property
    def min_total(self) -> int:
        return sum(0 if item.asked_if else min(item.values) for item in self.items)

    @property
    def max_total(self) -> int:
        return sum(max(item.values) for item in self.items)

    @property
    def direction(self) -> str:
        """How a chart or table says which way is better: "Lower totals are better"."""
        return DIRECTIONS[self.better]

    def reading(self, total: int, band: str) -> str:
        """A response's result in a few words: "14 (Moderate)", a screener's risk level, or the total
        alone for a measure without bands."""
        if not self.charted:
            return band
        return f"{total} ({band})" if band else str(total)

    @property
    def response_rule(self) -> str | None:
        """The response rule in words (None: the measure defines none here)."""
        if self.response_drop is not None:
            return f"a drop of at least {int(self.response_drop * 100)}% from baseline"
        if self.response_points is not None:
            way = "drop" if self.better == LOWER_IS_BETTER else "rise"
            return f"a {way} of at least {self.response_points} points from baseline"
        return None

    @property
    def safety_label(self) -> str | None:
        """How an alert names what it watches: "PHQ-9 item 9", "C-SSRS screener"."""
        if self.safety is None:
            return None
        return self.name if self.safety.item is None else f"{self.name} item {self.safety.item}"

    @property
    def charted(self) -> bool:
        """Whether totals mean something to chart and compare (not for a triage measure)."""
        return self.triage is None

    def finding(self, answers: list[int | None]) -> str:
        """What the safety rule saw, in a sentence for the alert and the safety history."""
        rule = self.safety
        if rule is None:
            return ""
        if rule.item is None:
            level = self.triage.level(answers) if self.triage else None
            yes = [str(n) for n, a in enumerate(answers, 1) if a]
            listed = " and ".join(filter(None, (", ".join(yes[:-1]), yes[-1]))) if yes else ""
            said = f" (yes to question{'s' if len(yes) > 1 else ''} {listed})" if level and yes else ""
            return f"{self.name}: {self.triage.label(answers) if self.triage else ''}{said}"
        return f"{self.safety_label} ({rule.topic}) answered {answers[rule.item - 1]}"

    @property
    def baseline_item(self) -> str:
        """The preparation checklist item recording this measure at baseline (for a measure `has_baseline`)."""
        return f"baseline_{self.key}"


@dataclass(frozen=True)
class Score:
    measure: str
    total: int
    band: str
    #: True when the measure's safety rule is met (PHQ-9: item 9 above 0)
    safety_alert: bool
    #: the answer the safety rule looks at (None: no safety rule, or a triage rule)
    safety_score: int | None = None
    #: what the safety rule saw, for the alert ("" when it raised none)
    finding: str = ""


@dataclass(frozen=True)
class Change:
    baseline: int
    current: int
    #: current minus baseline (an improvement is negative on a lower-is-better measure, positive on an
    #: alliance scale: read the measure's `better`)
    delta: int
    #: fraction of the baseline, e.g. -0.55 (None when the baseline is 0)
    percent: Decimal | None
    response: bool | None
    remission: bool | None


class InvalidAnswers(ValueError):
    """Answers that cannot be scored: the message says which item and why."""


class InvalidMeasure(ValueError):
    """A registry entry that is not self-consistent (refused when it is registered)."""


def check_entry(measure: Measure) -> None:
    """Refuse an entry whose parts disagree: it could record answers it cannot score."""
    problems = []
    if not KEY_PATTERN.match(measure.key):
        problems.append(f"key {measure.key!r}: lower-case letters, digits and _, at most 10 characters")
    if not measure.items or any(len(item.options) < 2 or len(set(item.values)) != len(item.values)
                                for item in measure.items):
        problems.append("every item offers at least two answers with distinct values")
    elif measure.unbanded is not None:
        if measure.bands:
            problems.append("a measure without bands (unbanded) lists none")
    elif measure.triage is None and [(b.low, b.high) for b in measure.bands] != _contiguous(measure):
        problems.append(f"bands must cover {measure.min_total}–{measure.max_total} in order, without gaps")
    problems += _skip_problems(measure) + _safety_problems(measure) + _change_problems(measure)
    if problems:
        raise InvalidMeasure(f"{measure.name}: " + "; ".join(problems) + ".")


def _change_problems(measure: Measure) -> list[str]:
    """One response rule at most, in a known direction, of a size the totals can reach."""
    problems = []
    if measure.better not in DIRECTIONS:
        problems.append(f"better must be {LOWER_IS_BETTER!r} or {HIGHER_IS_BETTER!r}")
    if measure.response_drop is not None and measure.response_points is not None:
        problems.append("one response rule: a fraction of the baseline or a number of points, not both")
    if measure.response_drop is not None and measure.better != LOWER_IS_BETTER:
        problems.append("a response as a fraction of the baseline is a drop: only for a lower-is-better measure")
    if measure.remission_below is not None and measure.better != LOWER_IS_BETTER:
        problems.append("remission is a total below a threshold: only for a lower-is-better measure")
    scorable = measure.items and all(item.options for item in measure.items)
    if measure.response_points is not None and scorable \
            and not 0 < measure.response_points <= measure.max_total - measure.min_total:
        problems.append(f"a response of {measure.response_points} points is outside the range of totals")
    return problems


def _safety_problems(measure: Measure) -> list[str]:
    rule = measure.safety
    if rule is None:
        return []
    if rule.item is None:
        return [] if measure.triage is not None else ["a safety rule without an item needs the measure's triage"]
    if not 1 <= rule.item <= len(measure.items):
        return [f"safety rule names item {rule.item} of {len(measure.items)}"]
    return []


def _skip_problems(measure: Measure) -> list[str]:
    """An item asked only after another names an earlier item and answers that item offers."""
    problems = []
    for n, item in enumerate(measure.items, 1):
        if item.asked_if is not None:
            after, values = item.asked_if
            if not 1 <= after < n or not set(values) <= set(measure.items[after - 1].values):
                problems.append(f"item {n} is asked after an earlier item's answers (item {after}: {values})")
    return problems


def _contiguous(measure: Measure) -> list[tuple[int, int]]:
    """The (low, high) pairs the bands would have if they tiled the total range in order."""
    edges = [b.low for b in measure.bands[1:]]
    lows, highs = [measure.min_total, *edges], [e - 1 for e in edges] + [measure.max_total]
    return list(zip(lows, highs))


class MeasureRegistry(Mapping[str, Measure]):
    """The measures this clinic records, by key, in the order pages show them."""

    def __init__(self, *measures: Measure):
        self._entries: dict[str, Measure] = {}
        for measure in measures:
            self.register(measure)

    def register(self, measure: Measure) -> Measure:
        check_entry(measure)
        if measure.key in self._entries:
            raise InvalidMeasure(f"A measure {measure.key!r} is registered already.")
        self._entries[measure.key] = measure
        return measure

    def unregister(self, key: str) -> None:
        del self._entries[key]

    def __getitem__(self, key: str) -> Measure:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
