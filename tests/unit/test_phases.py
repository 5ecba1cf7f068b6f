"""The phase state machine: every transition and every gate, as tables."""
from pathlib import Path

import pytest

from ketamine_integration.domain.phases import (NEXT_PHASES, CourseFacts, Phase, TransitionRefused,
                                                decide_transition, gate_blockers)
from ketamine_integration.domain.protocol_library import ProtocolLibrary

PROTOCOL = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols").find(
    "iv-ketamine-induction", 3).protocol
ALL_PREP = frozenset(PROTOCOL.preparation.required_items)
READY = CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP, signed_preparation_sessions=1)
REASON = "Patient relocating; series ends early by agreement."

ALLOWED = [(src, dst) for src, targets in NEXT_PHASES.items() for dst in targets]
FORBIDDEN = [(src, dst) for src in Phase for dst in Phase if dst not in NEXT_PHASES[src]]


def _facts(phase, **kw):
    base = dict(phase=phase, preparation_items_done=ALL_PREP, signed_preparation_sessions=1,
                dosing_sessions_done=PROTOCOL.experience.max_series_sessions)
    base.update(kw)
    return CourseFacts(**base)


@pytest.mark.parametrize("source, target", ALLOWED)
def test_every_allowed_transition_passes_when_its_gate_is_open(source, target):
    reason = REASON if target.ended else None  # ending a course always needs a reason
    decision = decide_transition(PROTOCOL, _facts(source), target, reason=reason)
    assert decision.target is target and decision.overridden == ()


@pytest.mark.parametrize("source, target", FORBIDDEN)
def test_every_other_transition_is_refused_even_with_override(source, target):
    with pytest.raises(TransitionRefused):
        decide_transition(PROTOCOL, _facts(source), target, reason=REASON, override=True)


@pytest.mark.parametrize("facts, expected", [
    # nothing recorded: every item missing and no session
    (CourseFacts(phase=Phase.PREPARATION),
     ["Preparation not complete: Intake assessment, Medical clearance (by a prescriber), Informed consent, "
      "Baseline PHQ-9, Baseline GAD-7, Intention setting still to record.",
      "0 of 1 signed preparation session recorded."]),
    # all items, no session
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP),
     ["0 of 1 signed preparation session recorded."]),
    # one item short
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP - {"informed_consent"},
                 signed_preparation_sessions=1),
     ["Preparation not complete: Informed consent still to record."]),
    # extra items recorded beyond the protocol's list do not matter
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP | {"support_person"},
                 signed_preparation_sessions=3), []),
    # everything recorded, but forms of the packet still to sign (issue 26)
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP, signed_preparation_sessions=1,
                 forms_to_sign=("Consent to IV ketamine", "Intake questionnaire")),
     ["Forms still to sign: Consent to IV ketamine, Intake questionnaire."]),
    # a course with a packet: the items its forms meet are "still to sign", named as its checklist names them
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP - {"informed_consent"},
                 signed_preparation_sessions=1, items_to_sign=frozenset({"informed_consent", "intake_assessment"}),
                 item_names=(("informed_consent", "Consents and agreements"),)),
     ["Preparation not complete: Consents and agreements still to sign."]),
    # on such a course, items recorded by hand and items signed are said apart
    (CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP - {"informed_consent", "medical_clearance"},
                 signed_preparation_sessions=1, items_to_sign=frozenset({"informed_consent"})),
     ["Preparation not complete: Medical clearance (by a prescriber) still to record; Informed consent still to sign."]),
])
def test_preparation_gate(facts, expected):
    assert gate_blockers(PROTOCOL, facts, Phase.EXPERIENCE) == expected


@pytest.mark.parametrize("done, blocked", [
    (0, True),    # nothing given yet
    (5, True),    # one short of six
    (6, False),   # the series is complete
    (7, False),   # a repeat session does not block
])
def test_series_gate_into_integration(done, blocked):
    facts = _facts(Phase.EXPERIENCE, dosing_sessions_done=done)
    assert bool(gate_blockers(PROTOCOL, facts, Phase.INTEGRATION)) == blocked


IM_KAP = ProtocolLibrary.load(Path(__file__).resolve().parents[2] / "protocols").find("im-ketamine-kap", 4).protocol


@pytest.mark.parametrize("done, blocked", [
    (2, True),    # below the protocol's minimum of three
    (3, False),   # the minimum: the series may end here (IM KAP: 3-6 sessions)
    (6, False),   # the most the series plans
])
def test_series_gate_opens_at_the_stage_minimum(done, blocked):
    facts = _facts(Phase.EXPERIENCE, dosing_sessions_done=done)
    blockers = gate_blockers(IM_KAP, facts, Phase.INTEGRATION)
    assert bool(blockers) == blocked
    assert not blocked or "of at least 3 (of up to 6)" in blockers[0]


def test_closed_gate_refuses_without_override_and_says_why():
    with pytest.raises(TransitionRefused) as refused:
        decide_transition(PROTOCOL, CourseFacts(phase=Phase.PREPARATION), Phase.EXPERIENCE)
    assert "Informed consent" in refused.value.reasons[0]


@pytest.mark.parametrize("reason", [None, "", "   ", "too short"])
def test_override_needs_a_written_reason(reason):
    with pytest.raises(TransitionRefused, match="needs a written reason"):
        decide_transition(PROTOCOL, CourseFacts(phase=Phase.PREPARATION), Phase.EXPERIENCE,
                          reason=reason, override=True)


def test_override_with_reason_records_what_was_overridden():
    decision = decide_transition(PROTOCOL, CourseFacts(phase=Phase.PREPARATION, preparation_items_done=ALL_PREP),
                                 Phase.EXPERIENCE, reason=REASON, override=True)
    assert decision.overridden == ("0 of 1 signed preparation session recorded.",)
    assert decision.reason == REASON


def test_override_of_an_open_gate_records_no_override():
    decision = decide_transition(PROTOCOL, READY, Phase.EXPERIENCE, reason=REASON, override=True)
    assert decision.overridden == ()


@pytest.mark.parametrize("phase", [Phase.PREPARATION, Phase.EXPERIENCE, Phase.INTEGRATION, Phase.MAINTENANCE])
@pytest.mark.parametrize("reason", [None, "short"])
def test_discontinuation_needs_a_reason_from_every_open_phase(phase, reason):
    with pytest.raises(TransitionRefused, match="Say why the course is discontinued"):
        decide_transition(PROTOCOL, _facts(phase), Phase.DISCONTINUED, reason=reason)


@pytest.mark.parametrize("phase", [Phase.INTEGRATION, Phase.MAINTENANCE])
@pytest.mark.parametrize("reason", [None, "", "done", "  ok  ok  "])
def test_completing_a_course_needs_a_reason_too(phase, reason):
    """Ending cancels what is ahead (issue 20, point 8): completed is a decision with a reason."""
    with pytest.raises(TransitionRefused, match="Say why the course is completed"):
        decide_transition(PROTOCOL, _facts(phase), Phase.COMPLETED, reason=reason)
    assert decide_transition(PROTOCOL, _facts(phase), Phase.COMPLETED, reason=REASON).reason == REASON


@pytest.mark.parametrize("phase", [Phase.COMPLETED, Phase.DISCONTINUED])
def test_ended_courses_never_move(phase):
    with pytest.raises(TransitionRefused, match="cannot change phase"):
        decide_transition(PROTOCOL, _facts(phase), Phase.MAINTENANCE, reason=REASON, override=True)
