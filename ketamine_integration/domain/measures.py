"""Standardised measures: PHQ-9 and GAD-7 with their exact wording, scoring and bands.

A registry of scorers keyed by measure, so a new measure is one more entry. Pure: answers
come in as item scores, results go out. Both questionnaires were released by Pfizer for
use without charge; the item wording must stay exactly as published.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

#: the four answers every item of both questionnaires offers, with their scores
FREQUENCY = (("0", "Not at all"), ("1", "Several days"), ("2", "More than half the days"),
             ("3", "Nearly every day"))
DIFFICULTY = (("not", "Not difficult at all"), ("somewhat", "Somewhat difficult"), ("very", "Very difficult"),
              ("extremely", "Extremely difficult"))
#: a drop of at least this fraction from baseline is a response
RESPONSE_DROP = Decimal("0.5")


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    label: str


@dataclass(frozen=True)
class Measure:
    key: str
    name: str
    stem: str
    items: tuple[str, ...]
    bands: tuple[Band, ...]
    #: LOINC codes: the panel and the total score
    loinc_panel: str
    loinc_total: str
    #: a total below this is remission (None: the measure defines none here)
    remission_below: int | None
    #: the item whose score above 0 raises a safety alert (1-based), if any
    safety_item: int | None = None
    difficulty_question: str | None = None

    @property
    def max_total(self) -> int:
        return 3 * len(self.items)


@dataclass(frozen=True)
class Score:
    measure: str
    total: int
    band: str
    #: True when the safety item was answered above 0 (PHQ-9 item 9)
    safety_alert: bool


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


PHQ9 = Measure(
    key="phq9", name="PHQ-9",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
        "fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    bands=(Band(0, 4, "None–minimal"), Band(5, 9, "Mild"), Band(10, 14, "Moderate"),
           Band(15, 19, "Moderately severe"), Band(20, 27, "Severe")),
    loinc_panel="44249-1", loinc_total="44261-6", remission_below=5, safety_item=9,
    difficulty_question="If you checked off any problems, how difficult have these problems made it for you to "
                        "do your work, take care of things at home, or get along with other people?",
)

GAD7 = Measure(
    key="gad7", name="GAD-7",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    bands=(Band(0, 4, "Minimal"), Band(5, 9, "Mild"), Band(10, 14, "Moderate"), Band(15, 21, "Severe")),
    loinc_panel="69737-5", loinc_total="70274-6", remission_below=None,
    difficulty_question="If you checked off any problems, how difficult have these problems made it for you to "
                        "do your work, take care of things at home, or get along with other people?",
)

#: the scorer registry
MEASURES: dict[str, Measure] = {m.key: m for m in (PHQ9, GAD7)}


class InvalidAnswers(ValueError):
    """Answers that cannot be scored: the message says which item and why."""


def score(measure_key: str, answers: list[int]) -> Score:
    """Total, severity band and safety flag of one completed questionnaire."""
    measure = MEASURES.get(measure_key)
    if measure is None:
        raise InvalidAnswers(f"Unknown measure {measure_key!r}.")
    if len(answers) != len(measure.items):
        raise InvalidAnswers(f"{measure.name} has {len(measure.items)} items; {len(answers)} answered.")
    for n, value in enumerate(answers, 1):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
            raise InvalidAnswers(f"{measure.name} item {n}: answer with 0, 1, 2 or 3.")
    total = sum(answers)
    return Score(measure=measure.key, total=total, band=band(measure, total),
                 safety_alert=measure.safety_item is not None and answers[measure.safety_item - 1] > 0)


def band(measure: Measure, total: int) -> str:
    for b in measure.bands:
        if b.low <= total <= b.high:
            return b.label
    raise InvalidAnswers(f"{measure.name} total {total} is outside 0–{measure.max_total}.")


def change(measure_key: str, baseline: int, current: int) -> Change:
    """Change from baseline: response is a drop of at least 50%; remission a total under the
    measure's threshold (PHQ-9: under 5)."""
    measure = MEASURES[measure_key]
    delta = current - baseline
    percent = None if baseline == 0 else (Decimal(delta) / Decimal(baseline)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)
    response = None if baseline == 0 else Decimal(-delta) >= RESPONSE_DROP * baseline
    remission = None if measure.remission_below is None else current < measure.remission_below
    return Change(baseline=baseline, current=current, delta=delta, percent=percent, response=response,
                  remission=remission)
