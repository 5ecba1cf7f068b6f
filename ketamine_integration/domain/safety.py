"""Safety signals: what raises a suicide-risk alert, source by source (a measure's safety rule,
a therapist's risk screen), as plain data the notes service stores and every page shows.

Pure: answers and note content come in, a signal (or None) goes out. Each source is one rule
here; the alert itself, who sees it and its acknowledgement live in notes/. A third source is the
patient's own answer on a portal questionnaire they did not complete: the measure's safety rule read
from the answers given (a safety signal is never held back by a question left empty).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .measures import MEASURES, score

#: where an alert came from, as stored (safety_alerts.source) and as pages name it
MEASURE, RISK_SCREEN, PORTAL_ANSWER = "measure", "risk_screen", "portal_answer"
SOURCES = {MEASURE: "Measure", RISK_SCREEN: "Therapist's risk screen", PORTAL_ANSWER: "Patient's answer in the portal"}
#: how the finding of an answer on a questionnaire the patient did not complete ends
INCOMPLETE = " on an incomplete questionnaire in the portal"

#: the integration note's risk screen: its questions, as stored in the note's content
SCREEN_THOUGHTS, SCREEN_INTENT = "self_harm_thoughts", "self_harm_intent"
RISK_SCREEN_GUIDANCE = ("The therapist's risk screen reported thoughts of self-harm. Assess risk, review the "
                        "safety plan, tell the prescriber, then acknowledge with what was done.")


@dataclass(frozen=True)
class SafetySignal:
    source: str
    #: what was seen, in a sentence: "PHQ-9 item 9 (thoughts of self-harm) answered 2"
    finding: str
    #: what the clinician does about it
    guidance: str
    #: the answer to the item a measure's rule watches (None: another kind of rule)
    item_score: int | None = None


def from_measure(measure_key: str, answers: list[int | None]) -> SafetySignal | None:
    """The signal a completed questionnaire raises under its registry entry's safety rule
    (PHQ-9: item 9 above 0; C-SSRS screener: any yes, with its triage level)."""
    result = score(measure_key, answers)
    if not result.safety_alert:
        return None
    return SafetySignal(source=MEASURE, finding=result.finding, guidance=MEASURES[measure_key].safety.guidance,
                        item_score=result.safety_score)


def from_partial_answers(measure_key: str, answers: list[int | None]) -> SafetySignal | None:
    """The signal of a questionnaire the patient sent incomplete or with invalid answers, read from
    its valid answers alone (`answers`: one per item, None where none valid was given): PHQ-9 item 9
    answered above 0; a C-SSRS screener level reached by the answers given. An answer still missing
    can only make such a finding graver (the triage takes the gravest level any answer reaches), so
    it never waits for them. "PHQ-9 item 9 (thoughts of self-harm) answered 2 on an incomplete
    questionnaire in the portal"."""
    entry = MEASURES.get(measure_key)
    rule = entry.safety if entry is not None else None
    if rule is None or len(answers) != len(entry.items) or not rule.raised_by(answers, entry.triage):
        return None
    return SafetySignal(source=PORTAL_ANSWER, finding=entry.finding(answers) + INCOMPLETE, guidance=rule.guidance,
                        item_score=rule.score(answers))


def from_risk_screen(content: Mapping) -> SafetySignal | None:
    """The signal an integration note's risk screen raises: thoughts of self-harm reported, or
    an intent to act on them (either answer alone is enough; intent is the graver finding)."""
    thoughts, intent = content.get(SCREEN_THOUGHTS) == "yes", content.get(SCREEN_INTENT) == "yes"
    if intent:
        finding = "Risk screen: intent to act on thoughts of self-harm reported"
    elif thoughts:
        finding = "Risk screen: thoughts of self-harm reported"
    else:
        return None
    return SafetySignal(source=RISK_SCREEN, finding=finding, guidance=RISK_SCREEN_GUIDANCE)
