"""Standardised measures: the registry of questionnaires (PHQ-9, GAD-7, C-SSRS screener) and their scoring.

Each entry is complete: its items with their exact wording and answer options, LOINC codes,
severity bands, response and remission rules and the rule that raises a safety alert. Nothing
else in the app names a measure or an item: forms, scoring, charts, alerts, the preparation
checklist and protocol validation read the registry, so a new measure is one more entry
(`MEASURES.register`). Pure: answers come in as item scores, results go out. PHQ-9 and GAD-7
were released by Pfizer for use without charge; the C-SSRS screener is free to use in clinical
practice (The Columbia Lighthouse Project, cssrs.columbia.edu). The item wording of all three
must stay exactly as published.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

#: a measure key is stored with every response (measure_responses.measure, 10 characters)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,9}$")
DIFFICULTY = (("not", "Not difficult at all"), ("somewhat", "Somewhat difficult"), ("very", "Very difficult"),
              ("extremely", "Extremely difficult"))
#: the response rule of both questionnaires: a drop of at least half from baseline
HALF = Decimal("0.5")


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

    @property
    def min_total(self) -> int:
        return sum(0 if item.asked_if else min(item.values) for item in self.items)

    @property
    def max_total(self) -> int:
        return sum(max(item.values) for item in self.items)

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
            listed = yes[0] if len(yes) == 1 else ", ".join(yes[:-1]) + " and " + yes[-1]
            said = f" (yes to question{'s' if len(yes) > 1 else ''} {listed})" if level and yes else ""
            return f"{self.name}: {self.triage.label(answers) if self.triage else ''}{said}"
        return f"{self.safety_label} ({rule.topic}) answered {answers[rule.item - 1]}"

    @property
    def baseline_item(self) -> str:
        """The preparation checklist item recording this measure at baseline."""
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
    #: current minus baseline (negative is improvement)
    delta: int
    #: fraction of the baseline, e.g. -0.55 (None when the baseline is 0)
    percent: Decimal | None
    response: bool | None
    remission: bool | None


class InvalidAnswers(ValueError):
    """Answers that cannot be scored: the message says which item and why."""


class InvalidMeasure(ValueError):
    """A registry entry that is not self-consistent (refused when it is registered)."""


def _options(*pairs: tuple[str, int, str | None]) -> tuple[Option, ...]:
    return tuple(Option(label, value, loinc) for label, value, loinc in pairs)


#: the four answers every item of both questionnaires offers, with their scores and LOINC answers
FREQUENCY = _options(("Not at all", 0, "LA6568-5"), ("Several days", 1, "LA6569-3"),
                     ("More than half the days", 2, "LA6570-1"), ("Nearly every day", 3, "LA6571-9"))
_DIFFICULTY_QUESTION = ("If you checked off any problems, how difficult have these problems made it for you to "
                        "do your work, take care of things at home, or get along with other people?")

PHQ9 = Measure(
    key="phq9", name="PHQ-9",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    items=tuple(Item(text, FREQUENCY, loinc) for text, loinc in (
        ("Little interest or pleasure in doing things", "44250-9"),
        ("Feeling down, depressed, or hopeless", "44255-8"),
        ("Trouble falling or staying asleep, or sleeping too much", "44259-0"),
        ("Feeling tired or having little energy", "44254-1"),
        ("Poor appetite or overeating", "44251-7"),
        ("Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
         "44258-2"),
        ("Trouble concentrating on things, such as reading the newspaper or watching television", "44252-5"),
        ("Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
         "fidgety or restless that you have been moving around a lot more than usual", "44253-3"),
        ("Thoughts that you would be better off dead or of hurting yourself in some way", "44260-8"),
    )),
    bands=(Band(0, 4, "None–minimal"), Band(5, 9, "Mild"), Band(10, 14, "Moderate"),
           Band(15, 19, "Moderately severe"), Band(20, 27, "Severe")),
    loinc_panel="44249-1", loinc_total="44261-6", response_drop=HALF, remission_below=5,
    # Any answer above "Not at all" to the self-harm item needs a risk assessment now.
    safety=SafetyRule(item=9, above=0, topic="thoughts of self-harm",
                      guidance="Thoughts that they would be better off dead or of hurting themselves. "
                               "Assess risk, then acknowledge with what was done."),
    difficulty_question=_DIFFICULTY_QUESTION,
)

GAD7 = Measure(
    key="gad7", name="GAD-7",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=tuple(Item(text, FREQUENCY, loinc) for text, loinc in (
        ("Feeling nervous, anxious or on edge", "69725-0"),
        ("Not being able to stop or control worrying", "68509-9"),
        ("Worrying too much about different things", "69733-4"),
        ("Trouble relaxing", "69734-2"),
        ("Being so restless that it is hard to sit still", "69735-9"),
        ("Becoming easily annoyed or irritable", "69689-8"),
        ("Feeling afraid as if something awful might happen", "69736-7"),
    )),
    bands=(Band(0, 4, "Minimal"), Band(5, 9, "Mild"), Band(10, 14, "Moderate"), Band(15, 21, "Severe")),
    loinc_panel="69737-5", loinc_total="70274-6", response_drop=HALF, remission_below=None,
    difficulty_question=_DIFFICULTY_QUESTION,
)


#: the screener's answers: yes or no (LOINC answers LA33-6 and LA32-8, list LL5384-4)
NO_YES = _options(("No", 0, "LA32-8"), ("Yes", 1, "LA33-6"))
#: question 6 with its follow-up ("If YES, ask: Was this within the past 3 months?") as one answer
BEHAVIOUR = _options(("No", 0, None), ("Yes, more than 3 months ago", 1, None),
                     ("Yes, within the past 3 months", 2, None))
#: questions 3-5 are asked only after a yes to question 2
AFTER_Q2 = (2, (1,))

CSSRS = Measure(
    key="cssrs", name="C-SSRS screener",
    stem="Ask questions 1 and 2. If YES to 2, ask questions 3, 4, 5 and 6; if NO to 2, go directly to "
         "question 6. Questions 1-5: in the past month.",
    items=(
        Item("Have you wished you were dead or wished you could go to sleep and not wake up?", NO_YES),
        Item("Have you actually had any thoughts of killing yourself?", NO_YES),
        Item("Have you been thinking about how you might do this?", NO_YES, asked_if=AFTER_Q2),
        Item("Have you had these thoughts and had some intention of acting on them?", NO_YES, asked_if=AFTER_Q2),
        Item("Have you started to work out or worked out the details of how to kill yourself? Do you intend "
             "to carry out this plan?", NO_YES, asked_if=AFTER_Q2),
        Item("Have you ever done anything, started to do anything, or prepared to do anything to end your "
             "life?", BEHAVIOUR),
    ),
    bands=(),
    # No LOINC panel or total is given for the screener (LOINC codes the full lifetime/recent scale,
    # 93245-9, whose items ask differently): none is claimed here.
    loinc_panel=None, loinc_total=None, response_drop=None, remission_below=None,
    prompts=((6, "Examples: collected pills, obtained a gun, gave away valuables, wrote a will or suicide "
                 "note, took out pills but didn't swallow any, held a gun but changed your mind or it was "
                 "grabbed from your hand, went to the roof but didn't jump; or actually took pills, tried to "
                 "shoot yourself, cut yourself, tried to hang yourself, etc. If YES, ask: Was this within "
                 "the past 3 months?"),),
    # The triage points of the published screener (C-SSRS Screener, recent, with triage colours,
    # The Columbia Lighthouse Project, 2021): yes to 1 or 2 is low risk; yes to 3, or behaviour
    # more than 3 months ago, moderate; yes to 4 or 5, or behaviour within 3 months, high.
    triage=Triage(
        levels=(
            RiskLevel("High risk", ((4, (1,)), (5, (1,)), (6, (2,))),
                      "Behavioural health consultation and patient safety precautions now."),
            RiskLevel("Moderate risk", ((3, (1,)), (6, (1,))),
                      "Behavioural health consultation; consider patient safety precautions."),
            RiskLevel("Low risk", ((1, (1,)), (2, (1,))), "Behavioural health referral; review the safety plan."),
        ),
        none="No risk identified",
        source="C-SSRS Screener, recent, with triage points (The Columbia Lighthouse Project, 2021; "
               "cssrs.columbia.edu)"),
    # Every yes is a suicide-risk signal: the alert carries the triage level.
    safety=SafetyRule(item=None, above=0, topic="suicidal ideation or behaviour",
                      guidance="The screener found suicidal ideation or behaviour. Act on its triage level "
                               "(high risk: safety precautions and consultation now), then acknowledge with "
                               "what was done."),
)


def check_entry(measure: Measure) -> None:
    """Refuse an entry whose parts disagree: it could record answers it cannot score."""
    problems = []
    if not KEY_PATTERN.match(measure.key):
        problems.append(f"key {measure.key!r}: lower-case letters, digits and _, at most 10 characters")
    if not measure.items or any(len(item.options) < 2 or len(set(item.values)) != len(item.values)
                                for item in measure.items):
        problems.append("every item offers at least two answers with distinct values")
    elif measure.triage is None and [(b.low, b.high) for b in measure.bands] != _contiguous(measure):
        problems.append(f"bands must cover {measure.min_total}–{measure.max_total} in order, without gaps")
    problems += _skip_problems(measure) + _safety_problems(measure)
    if problems:
        raise InvalidMeasure(f"{measure.name}: " + "; ".join(problems) + ".")


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


#: the registry
MEASURES = MeasureRegistry(PHQ9, GAD7, CSSRS)


def _one_of(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def score(measure_key: str, answers: list[int]) -> Score:
    """Total, severity band and safety flag of one completed questionnaire."""
    measure = MEASURES.get(measure_key)
    if measure is None:
        raise InvalidAnswers(f"Unknown measure {measure_key!r}.")
    if len(answers) != len(measure.items):
        raise InvalidAnswers(f"{measure.name} has {len(measure.items)} items; {len(answers)} answered.")
    for n, (item, value) in enumerate(zip(measure.items, answers), 1):
        _check_answer(measure, n, item, value, asked=item.asked(answers))
    total = sum(a for a in answers if a is not None)
    rule = measure.safety
    raised = rule is not None and rule.raised_by(answers, measure.triage)
    return Score(measure=measure.key, total=total,
                 band=measure.triage.label(answers) if measure.triage else band(measure, total),
                 safety_alert=raised, safety_score=None if rule is None else rule.score(answers),
                 finding=measure.finding(answers) if raised else "")


def _check_answer(measure: Measure, n: int, item: Item, value, *, asked: bool) -> None:
    if not asked:
        if value is not None:
            after, values = item.asked_if
            raise InvalidAnswers(f"{measure.name} item {n} is asked only when item {after} is answered "
                                 f"{_one_of(_labels(measure.items[after - 1], values))}; leave it empty.")
    elif isinstance(value, bool) or not isinstance(value, int) or value not in item.values:
        raise InvalidAnswers(f"{measure.name} item {n}: answer with {_one_of(item.values)}.")


def _labels(item: Item, values) -> list[str]:
    return [f"“{o.label}”" for o in item.options if o.value in values]


def band(measure: Measure, total: int) -> str:
    for b in measure.bands:
        if b.low <= total <= b.high:
            return b.label
    raise InvalidAnswers(f"{measure.name} total {total} is outside {measure.min_total}–{measure.max_total}.")


def change(measure_key: str, baseline: int, current: int) -> Change:
    """Change from baseline: response is a drop of at least the measure's fraction (PHQ-9 and
    GAD-7: 50%); remission a total under the measure's threshold (PHQ-9: under 5)."""
    measure = MEASURES[measure_key]
    delta = current - baseline
    percent = None if baseline == 0 else (Decimal(delta) / Decimal(baseline)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)
    response = None if baseline == 0 or measure.response_drop is None \
        else Decimal(-delta) >= measure.response_drop * baseline
    remission = None if measure.remission_below is None else current < measure.remission_below
    return Change(baseline=baseline, current=current, delta=delta, percent=percent, response=response,
                  remission=remission)
