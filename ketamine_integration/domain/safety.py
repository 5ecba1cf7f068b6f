"""Safety signals: what raises a suicide-risk alert, source by source (a measure's safety rule,
a therapist's risk screen), as plain data the notes service stores and every page shows.

Pure: answers and note content come in, a signal (or None) goes out. Each source is one rule
here; the alert itself, who sees it and its acknowledgement live in notes/.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .measures import MEASURES, score

#: where an alert came from, as stored (safety_alerts.source) and as pages name it
MEASURE, RISK_SCREEN = "measure", "risk_screen"
SOURCES = {MEASURE: "Measure", RISK_SCREEN: "Therapist's risk screen"}

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
