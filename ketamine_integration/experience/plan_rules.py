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
from ..domain.dosing import WEIGHT_BASED_ROUTES, WEIGHT_RANGE, dose_verdict, spacing_problems, stage_of
from ..domain.dosing_plan import AT_HOME
from ..domain.vitals import READINGS
from ..domain.phases import MIN_REASON_LENGTH, Phase
from ..extensions import db
from ..protocols.services import protocol_of
from .models import CANCELLED, DosingSession

#: who may keep a plan or record that breaks the protocol's spacing, or a dose outside its usual doses
OVERRIDE = "dosing.override"


def fetch_dosing_sessions(course_id: int) -> list[DosingSession]:
    """The course's dosing sessions in order, without their vitals, adverse events and addenda
    (loaded when read): lists, the course page and the planning rules use none of them, and
    selecting them was most of the cost of reading a long course's sessions."""
    return db.session.scalars(select(DosingSession).where(DosingSession.course_id == course_id)
                              .order_by(DosingSession.sequence)
                              .options(lazyload(DosingSession.vitals), lazyload(DosingSession.adverse_events),
                                       lazyload(DosingSession.addenda))).all()


def dose_time(session: DosingSession) -> datetime | None:
    return session.started_at or session.planned_start


def local_date(instant: datetime) -> date:
    return instant.astimezone(clinic_zone()).date()


def _maintenance_since(course: TreatmentCourse) -> datetime | None:
    """When the course last entered maintenance: doses from then on follow the maintenance stage."""
    moments = [t.occurred_at for t in course.transitions if t.to_phase == Phase.MAINTENANCE.value]
    return max(moments) if moments else None


def split_by_phase(course: TreatmentCourse, instants: list[datetime]) -> tuple[list[date], list[date]]:
    """(series dates, maintenance dates) of these dose times, in clinic days."""
    since = _maintenance_since(course)
    series = [local_date(t) for t in instants if since is None or t < since]
    return series, [local_date(t) for t in instants if since is not None and t >= since]


def course_doses(course: TreatmentCourse, ignore: DosingSession | None = None) -> list[DosingSession]:
    return [s for s in fetch_dosing_sessions(course.id)
            if s.status != CANCELLED and s is not ignore and dose_time(s) is not None]


def check_spacing(course: TreatmentCourse, starts: list[datetime], reason: str | None, by: User,
                   ignore: DosingSession | None = None, kept: str | None = None) -> str | None:
    """The override reason to store, or DomainError if the course's doses break the protocol's
    stages unexplained. In every phase, maintenance included; only a prescriber may override.
    `kept`: the reason a prescriber already gave for this session, which stands unless replaced."""
    series, maintenance = split_by_phase(course, [dose_time(s) for s in course_doses(course, ignore)] + starts)
    problems = spacing_problems(series, protocol_of(course.protocol_version).experience, maintenance)
    if not problems:
        return None
    reason = (reason or "").strip()
    if not reason and kept:
        return kept
    refusal = "This breaks the protocol's dosing plan: " + " ".join(problems)
    if not by.can(OVERRIDE):
        raise DomainError({"reason": refusal + " Only a prescriber may keep it, with a reason."})
    if len(reason) < MIN_REASON_LENGTH:
        raise DomainError({"reason": refusal + f" Give a clinician's reason (at least {MIN_REASON_LENGTH} "
                                               "characters) to keep it."})
    return reason


def usual_doses(session: DosingSession, started_at: datetime | None, protocol):
    """The usual doses of the stage this session's dose falls in (its place among the course's
    doses of its phase), or the protocol's usual doses past the plan; None if it states none."""
    experience = protocol.experience
    moment = started_at or dose_time(session) or utcnow()
    since = _maintenance_since(session.course)
    in_maintenance = since is not None and moment >= since
    number = 1 + sum(1 for s in course_doses(session.course, ignore=session)
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
    the usual doses of its stage, the reason why (returned, for a confirmation)."""
    problems = {}
    medication, weight, dose = values.get("medication"), values.get("weight_kg"), values.get("dose_mg")
    if (problem := WEIGHT_RANGE.problem(float(weight) if weight is not None else None, "A weight")):
        problems["weight_kg"] = problem
    ceiling = current_app.config["DOSE_CEILING_MG"].get(medication or "")
    if dose is not None and (dose <= 0 or (ceiling is not None and dose > ceiling)):
        problems["dose_mg"] = f"The dose must be above 0 and at most {ceiling} mg for {medication} (clinic ceiling)."
    if dose is None or problems:
        return problems, None
    verdict = dose_verdict(float(dose), float(weight) if weight else None, protocol.experience.dose, usual,
                           weight_based=(values.get("route") or protocol.route) in WEIGHT_BASED_ROUTES)
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
    if len(reason) < MIN_REASON_LENGTH:
        raise DomainError({"dose_reason": unusual + f" Confirm it with the reason for this dose (at least "
                                                    f"{MIN_REASON_LENGTH} characters), or correct it."})
    return reason


def overrides_kept(session: DosingSession) -> str | None:
    """What a saved record keeps against the protocol, for the audit trail (the reasons are on the record)."""
    kept = [what for what, reason in (("spacing override", session.spacing_override_reason),
                                      ("dose outside the usual doses confirmed", session.dose_confirmation_reason))
            if reason]
    return "; ".join(kept) + " (reason on the record)" if kept else None
