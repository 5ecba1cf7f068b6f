"""Monitoring at a dosing session under its protocol: flagged readings and their clinical
responses, required readings, discharge criteria and the computed monitoring time.

The rules are domain.vitals; this module reads them from the course's protocol snapshot and
applies them to a recorded session (saving responses and discharge answers; what a signature
still needs is domain.signing, fed by experience.signing).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import format_local
from ..domain.dosing import VITAL_RANGES
from ..domain.vitals import (DISCHARGE_CRITERIA, MIN_ACTION_CHARACTERS, READINGS, TIMEPOINTS, Flag, Response,
                             VitalSignRules, breaks_do_not_start, discharge_vitals_in_range, flags, later_flags,
                             later_time_problem, monitoring_minutes, qualifying_later, substantive,
                             unanswered_discharge_criteria, unmet_discharge_criteria)
from ..extensions import db
from ..patients.access import caseload
from ..patients.models import Patient
from ..protocols.services import protocol_of
from .models import DRAFT, SIGNED, DosingSession, VitalSignResponse, VitalSigns
from .wording import timepoint_labels

def rules_of(session: DosingSession) -> VitalSignRules:
    return protocol_of(session.course.protocol_version).vital_signs


def readings_of(session: DosingSession) -> dict[str, dict[str, int | None]]:
    return {v.timepoint: {name: getattr(v, name) for name in READINGS} for v in session.vitals}


def session_flags(session: DosingSession, rules: VitalSignRules | None = None) -> list[Flag]:
    """The recorded readings outside the protocol's limits (a signed record's too: its history stays)."""
    return _named(session, flags(readings_of(session), rules or rules_of(session)))


def _named(session: DosingSession, found: list[Flag]) -> list[Flag]:
    """Flags saying their timepoint as the session's setting names it (at home: no discharge)."""
    labels = timepoint_labels(session.setting)
    return [replace(flag, label=labels[flag.timepoint]) for flag in found]


def responses_of(session: DosingSession) -> dict[str, Response]:
    return {r.timepoint: Response(r.timepoint, r.action, r.decided_by_id, r.later_at, r.later)
            for r in session.vital_responses}


def _qualifying_later(session: DosingSession, timepoint: str):
    """The later reading answering `timepoint`, if it was taken when it can stand for that reading."""
    return qualifying_later(timepoint, responses_of(session).get(timepoint), session.started_at,
                            session.discharged_at)


def discharge_in_range(session: DosingSession, rules: VitalSignRules) -> bool:
    return discharge_vitals_in_range(readings_of(session).get("discharge") or {},
                                     _qualifying_later(session, "discharge"), rules)


def dosing_limit_broken(session: DosingSession, rules: VitalSignRules) -> bool:
    """The reading before dosing, or its qualifying re-check, is past a do-not-start limit."""
    return breaks_do_not_start(readings_of(session).get("baseline") or {}, _qualifying_later(session, "baseline"),
                               rules)


def unmet_criteria(session: DosingSession) -> list[str]:
    """The discharge criteria a record shows as not met (for a record signed before the criteria
    were explicit items, nothing: it holds the single answer of its day)."""
    if session.discharge_checks is None:
        return []
    return unmet_discharge_criteria(session.discharge_checks, discharge_in_range(session, rules_of(session)))


def _response_value_problems(timepoint: str, answer: dict, session: DosingSession, now: datetime,
                             team: set[int], times: dict) -> dict[str, str]:
    field = f"response_{timepoint}"
    problems = {}
    action = (answer.get("action") or "").strip()
    if action and not substantive(action):
        problems[f"{field}.action"] = (f"Say what was done, in words (at least {MIN_ACTION_CHARACTERS} characters): "
                                       "the record must show how the flagged reading was handled.")
    for name in READINGS:
        problem = VITAL_RANGES[name].problem(answer.get(f"later_{name}"), READINGS[name][0].capitalize())
        if problem:
            problems[f"{field}.later_{name}"] = problem
    later_at = answer.get("later_at")
    if later_at is not None and later_at > now:
        problems[f"{field}.later_at"] = "This cannot be in the future."
    elif (problem := later_time_problem(timepoint, later_at, times.get("started_at"), times.get("discharged_at"))):
        problems[f"{field}.later_at"] = problem
    if not _may_decide(answer.get("decided_by_id"), session, timepoint, team):
        problems[f"{field}.decided_by"] = "Choose a clinician or nurse on the patient's care team."
    return problems


def _may_decide(decided_by: int | None, session: DosingSession, timepoint: str, team: set[int]) -> bool:
    """Nobody named, the one named before, or an active monitor on the care team."""
    if decided_by is None or decided_by == _recorded(session, timepoint, "decided_by_id"):
        return True
    user = db.session.get(User, decided_by)
    return user is not None and user.active and decided_by in team and user.can("dosing.monitor")


def _recorded(session: DosingSession, timepoint: str, column: str):
    row = next((r for r in session.vital_responses if r.timepoint == timepoint), None)
    return getattr(row, column) if row is not None else None


def response_problems_on_save(session: DosingSession, responses: dict[str, dict], now: datetime,
                              team: set[int], times: dict) -> dict[str, str]:
    """Field problems of the submitted responses: what was done in words, plausible later readings
    taken when they can answer their flag (`times`: the submitted start of dosing and discharge),
    and a decision maker on the care team."""
    problems = {}
    for timepoint, answer in responses.items():
        problems.update(_response_value_problems(timepoint, answer, session, now, team, times))
    return problems


def save_monitoring(session: DosingSession, *, discharge_checks: dict | None) -> None:
    """Store the discharge answers; then derive the monitoring time and whether discharge criteria
    were met (the responses are saved as facts with their history: experience.revisions)."""
    if discharge_checks is not None:
        session.discharge_checks = {key: discharge_checks.get(key) for key in DISCHARGE_CRITERIA}
    derive(session)


def derive(session: DosingSession) -> None:
    """Monitoring minutes from the record's times; discharge readiness from its items and readings."""
    session.monitoring_minutes = monitoring_minutes(session.started_at, session.discharged_at)
    if session.discharge_checks is not None:
        answered = not unanswered_discharge_criteria(session.discharge_checks)
        session.discharge_ready = (not unmet_criteria(session)) if answered else None


def signed_extras(session: DosingSession) -> dict:
    """What issue 19 added to a record, for its signed content: nothing for a record without it,
    so records signed before still hash as they did."""
    extras = {}
    if session.discharge_checks is not None:
        checks = session.discharge_checks
        extras["discharge_checks"] = {key: checks.get(key) for key in sorted(checks)}
    if session.vital_responses:
        extras["vital_responses"] = {
            r.timepoint: [r.action, r.decided_by_id, r.later_at.astimezone(timezone.utc).isoformat()
                          if r.later_at else None, [r.later[name] for name in READINGS]]
            for r in sorted(session.vital_responses, key=lambda r: r.timepoint)}
    return extras


def later_reading_flags(session: DosingSession) -> dict[str, list[str]]:
    """Per timepoint, the saved later reading's own flags, for the draft form."""
    rules = rules_of(session)
    return {r.timepoint: later_flags(r.timepoint, r.later, rules) for r in session.vital_responses}


def response_lines(session: DosingSession) -> list[str]:
    """Each documented response in plain words, for the record, the course page and reports."""
    return _lines(session, session.vital_responses)


def _lines(session: DosingSession, responses: list[VitalSignResponse]) -> list[str]:
    """Each response with its later reading, that reading's own flags (checked against the same
    timepoint's limits) and whether its time lets it answer the flag."""
    rules, lines, labels = rules_of(session), [], timepoint_labels(session.setting)
    for r in sorted(responses, key=lambda r: list(TIMEPOINTS).index(r.timepoint)):
        timing = later_time_problem(r.timepoint, r.later_at, session.started_at, session.discharged_at)
        notes = later_flags(r.timepoint, r.later, rules) + ([f"Later reading not counted: {timing}"] if timing else [])
        lines.append(" ".join([response_words(r, labels), *notes]))
    return lines


def response_words(r, labels: dict[str, str] = TIMEPOINTS) -> str:
    """A response (standing, or an earlier version) in plain words: what was done, who decided and
    entered it, and the later reading with its time (`labels`: the timepoints in the setting's words)."""
    later = ", ".join(f"{READINGS[name][0]} {value} {READINGS[name][1]}"
                      for name, value in r.later.items() if value is not None)
    who = r.decided_by.display_name if r.decided_by else "not recorded"
    when = format_local(r.later_at) if r.later_at else "time not recorded"
    entered = f"; entered by {r.entered_by.display_name}" if r.entered_by else ""
    return f"{labels[r.timepoint]}: {r.action} (decided by {who}{entered}; later reading {when}: " \
           f"{later or 'none recorded'})"


@dataclass(frozen=True)
class FlaggedSession:
    """A recorded session with readings outside its protocol's limits, and what was done about them."""

    session: DosingSession
    flags: tuple[Flag, ...]
    responses: tuple[str, ...]
    #: timepoints flagged but without a documented response
    unanswered: tuple[str, ...]


def _flagged(session: DosingSession, vitals: list, responses: list) -> FlaggedSession | None:
    readings = {v.timepoint: {name: getattr(v, name) for name in READINGS} for v in vitals}
    found = _named(session, flags(readings, rules_of(session)))
    if not found:
        return None
    answered = {r.timepoint for r in responses if (r.action or "").strip()}
    unanswered = tuple(tp for tp in TIMEPOINTS if tp not in answered and any(f.timepoint == tp for f in found))
    return FlaggedSession(session, tuple(found), tuple(_lines(session, responses)), unanswered)


def flagged_sessions(sessions: list[DosingSession]) -> dict[int, FlaggedSession]:
    """The flagged ones among recorded sessions, by id; their readings and responses read in two
    queries whatever the number of sessions (lists and the course page load sessions without them)."""
    recorded = [s for s in sessions if s.status in (DRAFT, SIGNED)]
    ids = [s.id for s in recorded]
    if not ids:
        return {}
    vitals, responses = defaultdict(list), defaultdict(list)
    for row in db.session.scalars(select(VitalSigns).where(VitalSigns.dosing_session_id.in_(ids))):
        vitals[row.dosing_session_id].append(row)
    for row in db.session.scalars(select(VitalSignResponse).where(VitalSignResponse.dosing_session_id.in_(ids),
                                                                 VitalSignResponse.withdrawn_at.is_(None))
                                  .options(joinedload(VitalSignResponse.decided_by),
                                           joinedload(VitalSignResponse.entered_by))):
        responses[row.dosing_session_id].append(row)
    found = {s.id: _flagged(s, vitals[s.id], responses[s.id]) for s in recorded}
    return {session_id: flagged for session_id, flagged in found.items() if flagged is not None}


#: how far back the prescriber's worklist shows flagged readings
WORKLIST_DAYS = 14


def recent_flagged(user: User, now: datetime) -> list[FlaggedSession]:
    """Flagged sessions of the user's care-team patients recorded in the last WORKLIST_DAYS days:
    drafts still needing a response first, then the signed ones with what was done."""
    stmt = (select(DosingSession).join(TreatmentCourse).join(Patient)
            .where(DosingSession.status.in_((DRAFT, SIGNED)),
                   DosingSession.started_at >= now - timedelta(days=WORKLIST_DAYS))
            .options(lazyload("*"), joinedload(DosingSession.course).joinedload(TreatmentCourse.patient),
                     joinedload(DosingSession.course).joinedload(TreatmentCourse.protocol_version))
            .order_by(DosingSession.started_at))
    sessions = db.session.scalars(caseload(user, stmt)).unique().all()
    rows = list(flagged_sessions(sessions).values())
    return sorted(rows, key=lambda row: not row.unanswered)
