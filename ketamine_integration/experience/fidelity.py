"""How a course's dosing follows its protocol: what deviates from the dosing plan without a stated reason."""
from __future__ import annotations

from ..courses.models import TreatmentCourse
from ..domain.dosing import WEIGHT_BASED_ROUTES, dose_verdict
from ..domain.phases import Phase
from ..protocols.services import protocol_of
from .models import CANCELLED, SIGNED, DosingSession
from .plan_rules import dose_time, fetch_dosing_sessions, spacing_of, usual_doses

#: phases a course reaches only once its series is over
AFTER_SERIES = (Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.COMPLETED.value)


def unexplained_deviations(course: TreatmentCourse, sessions: list[DosingSession] | None = None) -> list[str]:
    """Each way the course's dosing breaks its protocol's stages, counts, doses or settings that no
    clinician's reason covers (empty: the course follows its protocol, or says why not).
    `sessions`: the course's dosing sessions when the caller read them already."""
    protocol = protocol_of(course.protocol_version)
    sessions = [s for s in (fetch_dosing_sessions(course.id) if sessions is None else sessions)
                if s.status != CANCELLED]
    problems = _spacing(course, sessions)
    problems += _series_count(course, sessions, protocol.experience)
    for session in sessions:
        problems += _dose(session, protocol, sessions)
        if session.setting not in protocol.experience.settings:
            problems.append(f"Session {session.sequence}: {session.setting} is not a setting this protocol allows.")
    return problems


def _spacing(course, sessions: list[DosingSession]) -> list[str]:
    """A spacing problem is explained when a session it involves carries an override reason."""
    dosed = [s for s in sessions if dose_time(s) is not None]
    found = spacing_of(course, [dose_time(s) for s in dosed])
    return [f"Sessions {sorted(dosed[i].sequence for i in p.doses)} without an override reason: {p.text}"
            for p in found if not any(dosed[i].spacing_override_reason for i in p.doses)]


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


def _dose(session: DosingSession, protocol, sessions: list[DosingSession]) -> list[str]:
    if session.dose_mg is None:
        return []
    verdict = dose_verdict(float(session.dose_mg), float(session.weight_kg) if session.weight_kg else None,
                           protocol.experience.dose, usual_doses(session, session.started_at, protocol, sessions),
                           weight_based=session.route in WEIGHT_BASED_ROUTES)
    if verdict.refused:
        return [f"Session {session.sequence}: {verdict.refused}"]
    if verdict.unusual and not session.dose_confirmation_reason:
        return [f"Session {session.sequence}: {verdict.unusual} No confirmation reason."]
    return []
