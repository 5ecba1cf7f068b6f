"""Standardised measures: the registry of questionnaires (PHQ-9, GAD-7, C-SSRS screener, PCL-5, WSAS,
WAI-SR) and their scoring.

Each entry is complete: its items with their exact wording and answer options, LOINC codes,
severity bands, response and remission rules, which way a total improves and the rule that raises
a safety alert. Nothing else in the app names a measure or an item: forms, scoring, charts, alerts,
the preparation checklist and protocol validation read the registry, so a new measure is one more
entry (`MEASURES.register`; the PCL-5, WSAS and WAI-SR entries are in domain/outcome_measures.py). Pure:
answers come in as item scores, results go out. The item wording of every entry must stay exactly
as published.

Licences, checked for each entry (its `sources` cite them):
- PHQ-9 and GAD-7 were released by Pfizer for use without charge; the C-SSRS screener is free to
  use in clinical practice (The Columbia Lighthouse Project, cssrs.columbia.edu).
- PCL-5: public domain, from the U.S. National Center for PTSD (Weathers et al. 2013).
- WSAS: published in full by Mundt et al. (2002), copyright Isaac M. Marks; used without charge in
  routine care (the NHS Talking Therapies data set records its score). No licence text restricting
  clinical use was found.
- WAI-SR (alliance): the Working Alliance Inventory and its short forms are distributed open access
  (wai.profhorvath.com/downloads); Horvath released the rights to the Society for Psychotherapy
  Research, which answers permission requests.
- Left out: the Session Rating Scale (Miller, Duncan & Johnson). Its licence (PCOMS International /
  Better Outcomes Now) is for an individual's own practice only: a clinic needs a paid group licence,
  and the licensee may not put the measures into electronic or computerised formats, so a clinic's
  software may not embed it.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .measure_model import (DIFFICULTY, HIGHER_IS_BETTER, KEY_PATTERN, LOWER_IS_BETTER, Band, Change, InvalidAnswers,
                            InvalidMeasure, Item, Measure, MeasureRegistry, Option, RiskLevel, SafetyRule, Score,
                            Triage, check_entry)
from .outcome_measures import PCL5, WAISR, WSAS

#: what other modules read here: the entries' shape (domain/measure_model.py), the entries and the registry
__all__ = ["DIFFICULTY", "HIGHER_IS_BETTER", "LOWER_IS_BETTER", "KEY_PATTERN", "Band", "Change", "InvalidAnswers",
           "InvalidMeasure", "Item", "Measure", "MeasureRegistry", "Option", "RiskLevel", "SafetyRule", "Score", "Triage", "check_entry", "MEASURES",
           "PHQ9", "GAD7", "CSSRS", "PCL5", "WSAS", "WAISR", "FREQUENCY", "HALF", "score", "band", "change"]
#: the response rule of both questionnaires: a drop of at least half from baseline
HALF = Decimal("0.5")


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
    patient_stem="Questions 1 to 5 are about the past month. Answer questions 1 and 2. If you answer Yes to "
                 "question 2, answer questions 3, 4 and 5 too; if you answer No, leave them as “Skipped”. Then "
                 "answer question 6.",
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


#: the registry
MEASURES = MeasureRegistry(PHQ9, GAD7, CSSRS, PCL5, WSAS, WAISR)


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
                                 f"{_one_of(_labels(measure.items[after - 1], values))}; mark it not asked.")
    elif isinstance(value, bool) or not isinstance(value, int) or value not in item.values:
        raise InvalidAnswers(f"{measure.name} item {n}: answer {_one_of(_labels(item, item.values))}.")


def _labels(item: Item, values) -> list[str]:
    return [f"“{o.label}”" for o in item.options if o.value in values]


def band(measure: Measure, total: int) -> str:
    """The band the total falls in ("" for a measure that publishes none, such as the WAI-SR)."""
    if measure.unbanded is not None:
        if not measure.min_total <= total <= measure.max_total:
            raise InvalidAnswers(f"{measure.name} total {total} is outside {measure.min_total}–{measure.max_total}.")
        return ""
    for b in measure.bands:
        if b.low <= total <= b.high:
            return b.label
    raise InvalidAnswers(f"{measure.name} total {total} is outside {measure.min_total}–{measure.max_total}.")


def change(measure_key: str, baseline: int, current: int) -> Change:
    """Change from baseline: response is a drop of at least the measure's fraction (PHQ-9 and
    GAD-7: 50%) or a change of at least its points in the better direction (PCL-5: 10 lower);
    remission a total under the measure's threshold (PHQ-9: under 5)."""
    measure = MEASURES[measure_key]
    delta = current - baseline
    percent = None if baseline == 0 else (Decimal(delta) / Decimal(baseline)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)
    remission = None if measure.remission_below is None else current < measure.remission_below
    return Change(baseline=baseline, current=current, delta=delta, percent=percent,
                  response=_response(measure, baseline, delta), remission=remission)


def _response(measure: Measure, baseline: int, delta: int) -> bool | None:
    """Whether the change is a response by the measure's own rule (None: it defines none, or a
    fraction of a zero baseline)."""
    if measure.response_points is not None:
        better = -delta if measure.better == LOWER_IS_BETTER else delta
        return better >= measure.response_points
    if measure.response_drop is None or baseline == 0:
        return None
    return Decimal(-delta) >= measure.response_drop * baseline
