"""The treatment-course phase state machine, gated by the course's protocol.

preparation -> experience -> integration -> maintenance -> completed, and discontinued
from any phase that has not ended. Pure: the facts about a course are passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .protocols import PREPARATION_ITEMS, Protocol
from .text import plural, written_length

#: a written reason must say something; "ok" or "x" is not a reason
MIN_REASON_LENGTH = 10


class Phase(StrEnum):
    PREPARATION = "preparation"
    EXPERIENCE = "experience"
    INTEGRATION = "integration"
    MAINTENANCE = "maintenance"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def ended(self) -> bool:
        return self in (Phase.COMPLETED, Phase.DISCONTINUED)


#: where each phase may go next (BRIEF: phases of a treatment course)
NEXT_PHASES: dict[Phase, tuple[Phase, ...]] = {
    Phase.PREPARATION: (Phase.EXPERIENCE, Phase.DISCONTINUED),
    Phase.EXPERIENCE: (Phase.INTEGRATION, Phase.DISCONTINUED),
    Phase.INTEGRATION: (Phase.MAINTENANCE, Phase.COMPLETED, Phase.DISCONTINUED),
    Phase.MAINTENANCE: (Phase.COMPLETED, Phase.DISCONTINUED),
    Phase.COMPLETED: (),
    Phase.DISCONTINUED: (),
}


@dataclass(frozen=True)
class CourseFacts:
    """What has been recorded for a course, as far as its phase gates are concerned."""

    phase: Phase
    preparation_items_done: frozenset[str] = frozenset()
    signed_preparation_sessions: int = 0
    dosing_sessions_done: int = 0
    #: titles of the forms the protocol names still to sign (current version, not withdrawn): issue 26
    forms_to_sign: tuple[str, ...] = ()
    #: the checklist items only signed forms meet on this course (it has a packet): "still to sign"
    items_to_sign: frozenset[str] = frozenset()
    #: (item, name) where the course's checklist names an item otherwise ("Consents and agreements")
    item_names: tuple[tuple[str, str], ...] = ()


class TransitionRefused(Exception):
    """A phase change the rules do not allow; `reasons` are plain sentences for the user."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(" ".join(reasons))


@dataclass(frozen=True)
class TransitionDecision:
    target: Phase
    reason: str | None
    #: the gate conditions a clinician overrode, in plain words (empty when none were)
    overridden: tuple[str, ...] = ()


def _preparation_missing(protocol: Protocol, facts: CourseFacts) -> list[str]:
    """The preparation items not met, named as the course's checklist names them: those only signed forms
    meet are "still to sign" (a new-user review of issue 26: the gate said "Informed consent ... still to
    record" beside a checklist row called "Consents and agreements", met by signing)."""
    names = dict(facts.item_names)
    missing = [i for i in protocol.preparation.required_items if i not in facts.preparation_items_done]
    to_record = [names.get(i, PREPARATION_ITEMS[i]) for i in missing if i not in facts.items_to_sign]
    to_sign = [names.get(i, PREPARATION_ITEMS[i]) for i in missing if i in facts.items_to_sign]
    parts = ([", ".join(to_record) + " still to record"] if to_record else []) + \
        ([", ".join(to_sign) + " still to sign"] if to_sign else [])
    return ["Preparation not complete: " + "; ".join(parts) + "."] if parts else []


def gate_blockers(protocol: Protocol, facts: CourseFacts, target: Phase) -> list[str]:
    """Why the protocol's gate into `target` is closed, in plain words (empty: it is open)."""
    blockers = []
    if target is Phase.EXPERIENCE:
        blockers.extend(_preparation_missing(protocol, facts))
        needed = protocol.preparation.min_signed_sessions
        if facts.signed_preparation_sessions < needed:
            blockers.append(f"{facts.signed_preparation_sessions} of {needed} signed preparation "
                            f"{plural(needed, 'session')} recorded.")
        if facts.forms_to_sign:
            blockers.append("Forms still to sign: " + ", ".join(facts.forms_to_sign) + ".")
    elif target is Phase.INTEGRATION:
        # The series may end at the protocol's minimum (IM KAP: 3 of 3-6 sessions).
        needed, most = protocol.experience.min_series_sessions, protocol.experience.max_series_sessions
        if facts.dosing_sessions_done < needed:
            planned = str(needed) if needed == most else f"at least {needed} (of up to {most})"
            blockers.append(f"{facts.dosing_sessions_done} of {planned} dosing sessions in the "
                            "series recorded.")
    return blockers


def decide_transition(protocol: Protocol, facts: CourseFacts, target: Phase, *,
                      reason: str | None = None, override: bool = False) -> TransitionDecision:
    """Allow a phase change or raise TransitionRefused saying why."""
    reason = (reason or "").strip() or None
    if target not in NEXT_PHASES[facts.phase]:
        if facts.phase.ended:
            raise TransitionRefused([f"The course is {facts.phase.value}; it cannot change phase."])
        allowed = " or ".join(p.value for p in NEXT_PHASES[facts.phase])
        raise TransitionRefused([f"A course in {facts.phase.value} can move to {allowed}, "
                                 f"not to {target.value}."])
    if target.ended and not _is_reason(reason):
        # Ending a course cancels what is still ahead of it (issue 20, point 8): it is a
        # clinical decision the timeline keeps with its reason, whether completed or discontinued.
        raise TransitionRefused([f"Say why the course is {target.value} (at least "
                                 f"{MIN_REASON_LENGTH} characters)."])
    blockers = gate_blockers(protocol, facts, target)
    if blockers and not override:
        raise TransitionRefused(blockers)
    if blockers and not _is_reason(reason):
        raise TransitionRefused([f"Overriding the protocol's gate needs a written reason (at "
                                 f"least {MIN_REASON_LENGTH} characters)."])
    return TransitionDecision(target=target, reason=reason, overridden=tuple(blockers))


def _is_reason(reason: str | None) -> bool:
    return written_length(reason) >= MIN_REASON_LENGTH
