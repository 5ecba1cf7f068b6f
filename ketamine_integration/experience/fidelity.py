"""How a course's dosing follows its protocol: what deviates from the dosing plan without a stated reason."""
from __future__ import annotations

from ..courses.models import TreatmentCourse
from ..domain.dosing import WEIGHT_BASED_ROUTES, dose_verdict, spacing_problems
from ..domain.phases import Phase
from ..protocols.services import protocol_of
from .models import CANCELLED, SIGNED, DosingSession
from .plan_rules import fetch_dosing_sessions, split_by_phase, usual_doses

#: phases a course reaches only once its series is over
AFTER_SERIES = (Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.COMPLETED.value)


def unexplained_deviations(course: TreatmentCourse) -> list[str]:
    """Each way the course's dosing breaks its protocol's stages, counts, doses or settings that no
    clinician's reason covers (empty: the course follows its protocol, or says why not)."""
    protocol = protocol_of(course.protocol_version)
    sessions = [s for s in fetch_dosing_sessions(course.id) if s.status != CANCELLED]
    problems = _spacing(course, sessions, protocol.experience)
    problems += _series_count(course, sessions, protocol.experience)
    for session in sessions:
        problems += _dose(session, protocol)
        if session.setting not in protocol.experience.settings:
            problems.append(f"Session {session.sequence}: {session.setting} is not a setting this protocol allows.")
    return problems


def _spacing(course, sessions: list[DosingSession], experience) -> list[str]:
    series, maintenance = split_by_phase(course, [s.started_at or s.planned_start for s in sessions])
    problems = spacing_problems(series, experience, maintenance)
    unexplained = [s.sequence for s in sessions if not s.spacing_override_reason]
    return [f"Sessions {unexplained} without an override reason: {p}" for p in problems] if unexplained else []


def _series_count(course, sessions: list[DosingSession], experience) -> list[str]:
    """A course past its series had at least the protocol's minimum, or a gate override says why."""
    if course.phase not in AFTER_SERIES:
        return []
    entered = next((t for t in course.transitions if t.to_phase == Phase.INTEGRATION.value), None)
    signed = [s for s in sessions if s.status == SIGNED and (entered is None or s.started_at < entered.occurred_at)]
    if len(signed) >= experience.min_series_sessions or (entered is not None and entered.overridden and entered.reason):
        return []
    return [f"{len(signed)} signed dosing sessions before integration; the series needs "
            f"{experience.min_series_sessions} and no override says why."]


def _dose(session: DosingSession, protocol) -> list[str]:
    if session.dose_mg is None:
        return []
    verdict = dose_verdict(float(session.dose_mg), float(session.weight_kg) if session.weight_kg else None,
                           protocol.experience.dose, usual_doses(session, session.started_at, protocol),
                           weight_based=session.route in WEIGHT_BASED_ROUTES)
    if verdict.refused:
        return [f"Session {session.sequence}: {verdict.refused}"]
    if verdict.unusual and not session.dose_confirmation_reason:
        return [f"Session {session.sequence}: {verdict.unusual} No confirmation reason."]
    return []
