"""The protocol's dosing plan applied to a course: the stage a dose falls in, spacing with its
override, dose plausibility with its confirmation, and who takes the vitals in each setting.

Pure rules live in domain/dosing.py; this module reads the course's doses and phase history
for them and turns their answers into field errors (DomainError) or the reasons to store.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain.dosing import (WEIGHT_BASED_ROUTES, WEIGHT_RANGE, SpacingProblem, SpacingVerdict, ceiling_problem,
                              dose_verdict, spacing_findings, spacing_verdict, stage_of)
from ..domain.dosing_plan import AT_HOME
from ..domain.vitals import READINGS
from ..domain.phases import MIN_REASON_LENGTH, Phase
from ..extensions import db
from ..protocols.services import protocol_of
from .models import CANCELLED, DosingSession
from ..domain.text import written_length

#: who may keep a plan or record that breaks the protocol's spacing, or a dose outside its usual doses
OVERRIDE = "dosing.override"


def fetch_dosing_sessions(course_id: int) -> list[DosingSession]:
    """The course's dosing sessions in order, without their vitals, adverse events and addenda
    (loaded when read): lists, the course page and the planning rules use none of them, and
    selecting them was most of the cost of reading a long course's sessions."""
    return db.session.scalars(select(DosingSession).where(DosingSession.course_id == course_id)
                              .order_by(DosingSession.sequence)
                              .options(lazyload(DosingSession.vitals), lazyload(DosingSession.adverse_event_rows),
                                       lazyload(DosingSession.addenda))).all()


def dose_time(session: DosingSession) -> datetime | None:
    return session.started_at or session.planned_start


def local_date(instant: datetime) -> date:
    return instant.astimezone(clinic_zone()).date()


def _maintenance_since(course: TreatmentCourse) -> datetime | None:
    """When the course last entered maintenance: doses from then on follow the maintenance stage."""
    moments = [t.occurred_at for t in course.transitions if t.to_phase == Phase.MAINTENANCE.value]
    return max(moments) if moments else None


def spacing_of(course: TreatmentCourse, instants: list[datetime]) -> list[SpacingProblem]:
    """The spacing problems of doses at these times, each involving positions in `instants`."""
    since = _maintenance_since(course)
    series = [i for i, t in enumerate(instants) if since is None or t < since]
    maintenance = [i for i, t in enumerate(instants) if since is not None and t >= since]
    found = spacing_findings([local_date(instants[i]) for i in series],
                             protocol_of(course.protocol_version).experience,
                             [local_date(instants[i]) for i in maintenance])
    order = series + maintenance
    return [SpacingProblem(p.text, frozenset(order[k] for k in p.doses)) for p in found]


def course_doses(course: TreatmentCourse, ignore: DosingSession | None = None,
                 sessions: list[DosingSession] | None = None) -> list[DosingSession]:
    """The course's doses with a time, but `ignore`; from `sessions` when the caller read them."""
    return [s for s in (fetch_dosing_sessions(course.id) if sessions is None else sessions)
            if s.status != CANCELLED and s is not ignore and dose_time(s) is not None]


def _verdict(verdict: SpacingVerdict, field: str) -> str | None:
    if verdict.refused:
        raise DomainError({field: verdict.refused})
    return verdict.reason


def plan_spacing(course: TreatmentCourse, starts: list[datetime], reason: str | None, by: User,
                 field: str = "reason") -> list[str | None]:
    """For each new dose planned at `starts`, the override reason it keeps (None where no spacing
    problem involves it); DomainError on `field` if a problem involving the new doses is
    unexplained. In every phase, maintenance included; only a prescriber may override. Problems
    among the course's other doses are theirs to explain: a compliant booster needs no reason."""
    others = [dose_time(s) for s in course_doses(course)]
    found, new = spacing_of(course, others + starts), range(len(others), len(others) + len(starts))
    involving = [p.text for p in found if not p.doses.isdisjoint(new)]
    kept = _verdict(spacing_verdict(involving, before=None, same_day=False, kept=None, reason=reason,
                                    may_override=by.can(OVERRIDE)), field)
    return [kept if any(i in p.doses for p in found) else None for i in new]


def move_spacing(session: DosingSession, start: datetime, reason: str | None, by: User,
                 field: str = "reason", sessions: list[DosingSession] | None = None) -> str | None:
    """The override reason a session keeps when it is moved or recorded at `start` (None if no
    spacing problem involves it there), or DomainError on `field`. Its reason stands only for the
    clinic day and the problems it was given for (domain.dosing.spacing_verdict): a dose recorded
    on another day, or meeting a new problem, needs a prescriber's fresh reason. `sessions`: the
    course's sessions when the caller read them already."""
    others = [dose_time(s) for s in course_doses(session.course, ignore=session, sessions=sessions)]

    def involving(instant: datetime) -> list[str]:
        return [p.text for p in spacing_of(session.course, others + [instant]) if len(others) in p.doses]
    was = dose_time(session) if session.status != CANCELLED else None
    return _verdict(spacing_verdict(involving(start), before=involving(was) if was is not None else None,
                                    same_day=was is not None and local_date(was) == local_date(start),
                                    kept=session.spacing_override_reason, reason=reason,
                                    may_override=by.can(OVERRIDE)), field)


def unexplained_spacing(session: DosingSession) -> list[str]:
    """The spacing problems a recorded dose is part of while it keeps no reason (checked at signing:
    a draft saved before these rules, or whose neighbours moved since, may carry one unexplained)."""
    if session.spacing_override_reason or dose_time(session) is None:
        return []
    others = [dose_time(s) for s in course_doses(session.course, ignore=session)]
    return [p.text for p in spacing_of(session.course, others + [dose_time(session)]) if len(others) in p.doses]


def usual_doses(session: DosingSession, started_at: datetime | None, protocol,
                sessions: list[DosingSession] | None = None):
    """The usual doses of the stage this session's dose falls in (its place among the course's
    doses of its phase), or the protocol's usual doses past the plan; None if it states none.
    `sessions`: the course's sessions when the caller read them already."""
    experience = protocol.experience
    moment = started_at or dose_time(session) or utcnow()
    since = _maintenance_since(session.course)
    in_maintenance = since is not None and moment >= since
    number = 1 + sum(1 for s in course_doses(session.course, ignore=session, sessions=sessions)
                     if (since is not None and dose_time(s) >= since) == in_maintenance and dose_time(s) < moment)
    stage, first = stage_of(number, experience, maintenance=in_maintenance)
    if stage is None:
        return experience.dose.usual if experience.dose else None
    return stage.usual_for(first, experience.dose)


def vital_source_problems(setting: str, vitals: dict[str, dict]) -> dict[str, str]:
    """In the clinic its staff take the readings; at home they are the patient's or their device's,
    said explicitly for every set of readings (a blank is not silently "reported by the patient")."""
    allowed = ("patient_reported", "device") if setting == AT_HOME else ("clinician",)
    problems = {f"{timepoint}.source": ("At home, readings are the patient's own or their device's."
                                        if setting == AT_HOME else "In the clinic, the clinician takes the readings.")
                for timepoint, readings in vitals.items() if (readings.get("source") or allowed[0]) not in allowed}
    if setting == AT_HOME:
        problems.update({f"{timepoint}.source": "Say who took these readings: the patient, or their device."
                         for timepoint, readings in vitals.items()
                         if not readings.get("source") and any(readings.get(name) is not None for name in READINGS)})
    return problems


def dose_problems(values: dict, protocol, usual) -> tuple[dict[str, str], str | None]:
    """A plausible weight; a dose above 0 and within the clinic's ceiling for the medication;
    then, when both are fine, within the hard limits (a typing error otherwise) and, if outside
    the usual doses of its stage, the reason why (returned, for a confirmation). A refusal says
    the dose in mg and, on a weight-based route, in mg/kg for the (plausible) weight given."""
    problems = {}
    medication, weight, dose = values.get("medication"), values.get("weight_kg"), values.get("dose_mg")
    if (problem := WEIGHT_RANGE.problem(float(weight) if weight is not None else None, "A weight")):
        problems["weight_kg"] = problem
    route = values.get("route") or protocol.route
    weight_based, weight_used = route in WEIGHT_BASED_ROUTES, float(weight) if weight and not problems else None
    ceiling = current_app.config["DOSE_CEILING_MG"].get(medication or "")
    if dose is not None and (problem := ceiling_problem(float(dose), weight_used, ceiling, medication,
                                                        weight_based=weight_based)):
        problems["dose_mg"] = problem
    if dose is None or problems:
        return problems, None
    verdict = dose_verdict(float(dose), weight_used, protocol.experience.dose, usual, weight_based=weight_based,
                           route=route)
    if verdict.refused:
        return {"dose_mg": verdict.refused}, None
    return problems, verdict.unusual


def dose_confirmation(session: DosingSession, values: dict, unusual: str | None, reason: str | None,
                       by: User) -> str | None:
    """The reason kept with an unusual dose: a prescriber's new one, or the one already given for
    this same dose; DomainError (on dose_reason) without one."""
    reason = (reason or "").strip()
    if unusual is None:
        return None
    if not reason and session.dose_confirmation_reason and values.get("dose_mg") == session.dose_mg \
            and values.get("weight_kg") == session.weight_kg:
        return session.dose_confirmation_reason
    if not by.can(OVERRIDE):
        raise DomainError({"dose_reason": unusual + " Only a prescriber may confirm it, with a reason."})
    if written_length(reason) < MIN_REASON_LENGTH:
        raise DomainError({"dose_reason": unusual + f" Confirm it with the reason for this dose (at least "
                                                    f"{MIN_REASON_LENGTH} characters), or correct it."})
    return reason


def overrides_kept(session: DosingSession) -> str | None:
    """What a saved record keeps against the protocol, for the audit trail (the reasons are on the record)."""
    kept = [what for what, reason in (("spacing override", session.spacing_override_reason),
                                      ("dose outside the usual doses confirmed", session.dose_confirmation_reason))
            if reason]
    return "; ".join(kept) + " (reason on the record)" if kept else None
