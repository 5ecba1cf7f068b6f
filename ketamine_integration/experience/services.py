"""Dosing session operations: plan the series, record, sign and lock, addenda, REMS forms."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..accounts.models import PRESCRIBER, User
from ..domain.permissions import permissions_of, roles_with
from ..accounts.services import user_choices
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..db.types import utcnow
from ..domain.dosing import (MG_PER_KG_RANGE, VITAL_RANGES, WEIGHT_BASED_ROUTES, WEIGHT_RANGE, mg_per_kg,
                             spacing_problems)
from ..domain.phases import MIN_REASON_LENGTH, Phase
from ..domain.protocols import Span, content_hash
from ..domain.windows import shift
from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from ..db.locking import flush_versioned
from ..web.fields import YEARS
from ..patients.care_team import JoinRequest, admit_clinician, dosing_team_role
from ..protocols.models import ProtocolVersion
from ..protocols.services import protocol_of
from ..bookings import booking
from ..bookings.availability import session_minutes
from ..bookings.models import ATTENDED, BOOKED, Appointment, Room
from ..db.clinic_time import clinic_zone, format_local
from . import monitoring
from .models import CANCELLED, DRAFT, PLANNED, SIGNED, AdverseEvent, DosingAddendum, DosingSession, VitalSigns

#: phases in which the induction series' spacing rules apply
SERIES_PHASES = (Phase.PREPARATION, Phase.EXPERIENCE)
#: phases in which dosing may be planned: the series, and boosters in maintenance
PLANNING_PHASES = (Phase.PREPARATION, Phase.EXPERIENCE, Phase.MAINTENANCE)
#: phases in which a dosing session may be recorded (BRIEF: not before preparation is met)
DOSING_PHASES = (Phase.EXPERIENCE, Phase.MAINTENANCE)
#: a dosing session longer than this, or a discharge later than this after it, is a typo
MAX_SESSION = timedelta(hours=12)
MAX_DISCHARGE_DELAY = timedelta(hours=24)
#: the last date a series may be planned to (beyond it, date arithmetic is a typo's risk)
LAST_PLANNABLE = date(YEARS[1], 12, 31)
#: columns copied from the record form as they are
RECORD_FIELDS = ("started_at", "ended_at", "route", "medication", "dose_mg", "weight_kg", "lot_number",
                 "administered_by_id", "monitored_by_id", "sedation", "dissociation",
                 "concomitant_sedating_medications", "discharged_at", "ready_to_leave_at",
                 "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge")
#: columns derived when the record is saved (monitoring from its times, discharge readiness from
#: its criteria: experience.monitoring), signed with the rest
DERIVED_FIELDS = ("monitoring_minutes", "discharge_ready")


def count_signed_dosing_sessions(course_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(DosingSession).where(
        DosingSession.course_id == course_id, DosingSession.status == SIGNED)) or 0


def fetch_dosing_sessions(course_id: int) -> list[DosingSession]:
    """The course's dosing sessions in order, without their vitals, adverse events and addenda
    (loaded when read): lists, the course page and the planning rules use none of them, and
    selecting them was most of the cost of reading a long course's sessions."""
    return db.session.scalars(select(DosingSession).where(DosingSession.course_id == course_id)
                              .order_by(DosingSession.sequence)
                              .options(lazyload(DosingSession.vitals), lazyload(DosingSession.adverse_events),
                                       lazyload(DosingSession.addenda))).all()


def fetch_signed_sessions_by_course(course_ids: list[int], *, session=None) -> dict[int, list]:
    """Signed dosing sessions of many courses in one query, by course id, in sequence order.

    Each is a row of what windows and coordination rules need (id, course_id, sequence, status,
    ended_at), not the clinical record: list pages read hundreds of them, and building each
    session with its every column cost more than the rest of the page."""
    grouped: dict[int, list] = {}
    if course_ids:
        rows = (session or db.session).execute(select(
            DosingSession.id, DosingSession.course_id, DosingSession.sequence, DosingSession.status,
            DosingSession.ended_at).where(
            DosingSession.course_id.in_(course_ids), DosingSession.status == SIGNED)
            .order_by(DosingSession.course_id, DosingSession.sequence))
        for row in rows:
            grouped.setdefault(row.course_id, []).append(row)
    return grouped


def _when(session: DosingSession) -> datetime | None:
    return session.started_at or session.planned_start


def _local_date(instant: datetime) -> date:
    return instant.astimezone(clinic_zone()).date()


def _check_spacing(course: TreatmentCourse, starts: list[datetime], reason: str | None,
                   ignore: DosingSession | None = None) -> str | None:
    """The override reason to store, or DomainError if the series breaks the protocol unexplained."""
    if course.current_phase not in SERIES_PHASES:
        return None
    others = [_when(s) for s in fetch_dosing_sessions(course.id)
              if s.status != CANCELLED and s is not ignore and _when(s) is not None]
    problems = spacing_problems([_local_date(t) for t in others + starts],
                                protocol_of(course.protocol_version).experience)
    if not problems:
        return None
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise DomainError({"reason": "This breaks the protocol's spacing: " + " ".join(problems)
                           + f" Give a clinician's reason (at least {MIN_REASON_LENGTH} characters) to keep it."})
    return reason


def _check_planning_phase(course: TreatmentCourse) -> None:
    if course.current_phase not in PLANNING_PHASES:
        if course.current_phase.ended:
            raise DomainError("The course has ended; nothing more can be planned.")
        raise DomainError("The series is complete; boosters are planned once the course is in maintenance.")


def dosing_clinician_choices(clinicians: list[tuple[int, str, frozenset[str]]] | None = None):
    """Active clinicians who may lead a dosing session (dosing.lead), prescribers first, for the
    plan form; from `clinicians` (accounts.services.user_choices rows) when the page read them."""
    leads = roles_with("dosing.lead")
    rows = user_choices(*leads) if clinicians is None else [row for row in clinicians if not row[2].isdisjoint(leads)]
    return [(user_id, name) for user_id, name, _roles in sorted(rows, key=lambda row: PRESCRIBER not in row[2])]


#: who a dosing record may name, by its column: front-desk staff never administer or monitor
RECORDED_AS = {"administered_by_id": "dosing.administer", "monitored_by_id": "dosing.monitor"}


#: what only a clinician who may record the dose enters (a nurse records vitals, times, monitoring
#: and observations, and names only themselves as administering or monitoring)
DOSE_FIELDS = ("route", "medication", "dose_mg", "weight_kg", "lot_number", "concomitant_sedating_medications")


def _care_team_ids(session: DosingSession) -> set[int]:
    return {member.user_id for member in session.course.patient.care_team}


def dosing_team_choices(session: DosingSession) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(who may be recorded as administering, who as monitoring): the patient's care team's active
    members holding that permission, by name, in one query; whoever the record names already
    stays a choice, so a save never drops who really did it."""
    team = _care_team_ids(session)
    rows = user_choices(*{role for permission in RECORDED_AS.values() for role in roles_with(permission)})

    def holding(column: str) -> list[tuple[int, str]]:
        chosen = [(user_id, name) for user_id, name, roles in rows
                  if user_id in team and RECORDED_AS[column] in permissions_of(roles)]
        named = getattr(session, column.removesuffix("_id"))
        if named is not None and all(user_id != named.id for user_id, _ in chosen):
            chosen.append((named.id, named.display_name))
        return chosen
    return holding("administered_by_id"), holding("monitored_by_id")


def _recorded_people_problems(session: DosingSession, values: dict) -> dict[str, str]:
    """A person named as administering or monitoring must be on the patient's care team and hold
    that permission now (one named before, and unchanged since, stays: a record keeps who really
    did it)."""
    team = _care_team_ids(session)
    problems = {}
    for column, permission in RECORDED_AS.items():
        user_id = values.get(column)
        if user_id is None or user_id == getattr(session, column):
            continue
        user = db.session.get(User, user_id)
        if user is None or not user.active or not user.can(permission) or user_id not in team:
            problems[column.removesuffix("_id")] = ("Choose an active clinician or nurse on the patient's care team "
                                                    "who may be named here.")
    return problems


def _recorder_limits(session: DosingSession, values: dict, spacing_reason: str | None, by: User) -> dict[str, str]:
    """What a user who may not record the dose (a nurse) may change: not the dose fields (left
    blank, as their disabled inputs send them, they keep the recorded value), not a spacing
    override, and of the people fields only naming themselves."""
    if by.can("dosing.record_dose"):
        return {}
    problems = {}
    for column in DOSE_FIELDS:
        recorded = getattr(session, column)
        if values.get(column) is None:
            values[column] = recorded
        elif values[column] != recorded:
            problems[column] = "Recorded by the clinician who gives the dose; ask them to change it."
    for column in RECORDED_AS:
        recorded = getattr(session, column)
        if values.get(column) is None:
            values[column] = recorded
        elif values[column] not in (recorded, by.id):
            problems[column.removesuffix("_id")] = "You can name only yourself here; the signing clinician names others."
    if spacing_reason and spacing_reason.strip():
        problems["spacing_reason"] = "A spacing override is the prescribing clinician's decision."
    return problems


def _dosing_booking(clinician_id: int, room_id: int) -> tuple[User, Room]:
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.can("dosing.lead"):
        raise DomainError({"clinician": "Choose an active prescriber or therapist to run the session."})
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        raise DomainError({"room": "Choose one of the clinic's rooms: dosing happens on site."})
    return clinician, room


def plan_series(course: TreatmentCourse, *, first_start: datetime, days_between: int, count: int,
                reason: str | None, clinician_id: int, room_id: int, by: User,
                minutes: int | None = None, join: JoinRequest | None = None) -> list[DosingSession]:
    """Plan `count` dosing sessions and book each one's room and clinician, or plan nothing.

    The clinician is on the patient's care team, or `join` asks for their membership (granted
    and audited with the plan; refused for a user who may not keep care teams).

    Every session is checked for the clinician's, the patient's and the room's other
    appointments (and the clinician's hours and time off) before it is booked; a clash names
    the appointment it meets and the whole plan is refused.
    """
    _check_planning_phase(course)
    zone = clinic_zone()
    if first_start.astimezone(zone).date() + timedelta(days=days_between * (count - 1)) > LAST_PLANNABLE:
        raise DomainError({"count": f"The series would run past {LAST_PLANNABLE.year}; check the dates."})
    clinician, room = _dosing_booking(clinician_id, room_id)
    starts = [shift(first_start, Span(days_between * i, "d"), zone) for i in range(count)]
    override = _check_spacing(course, starts, reason)
    length = timedelta(minutes=minutes or session_minutes()["dosing"])
    # Lock the course row: two plans at once must not draw the same sequence numbers.
    lock_course(course)
    booking.lock_parties(clinician_id=clinician.id, patient_id=course.patient_id, room_id=room.id)
    sequence = db.session.scalar(select(func.max(DosingSession.sequence))
                                 .where(DosingSession.course_id == course.id)) or 0
    planned = []
    for i, start in enumerate(starts):
        try:
            booking.check_free(clinician, course.patient_id, start, start + length, room.id, field="first_start")
        except DomainError as clash:
            raise DomainError({"first_start": f"Session {i + 1} of the plan ({format_local(start)}): "
                                              + clash.reasons["first_start"]}) from None
        session = DosingSession(course_id=course.id, sequence=sequence + i + 1, status=PLANNED,
                                planned_start=start, spacing_override_reason=override)
        appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician.id,
                                  kind="dosing", dosing_session=session, starts_at=start, ends_at=start + length,
                                  modality="in_person", room_id=room.id, created_by_id=by.id)
        booking.record_change(appointment, "booked", by)
        db.session.add_all((session, appointment))
        db.session.flush()  # the next session's check sees this one
        planned.append(session)
    # The clinician running the sessions joins the care team only when the form asked for it.
    admit_clinician(course.patient, clinician, dosing_team_role(clinician), join=join, by=by)
    return planned


def reschedule(session: DosingSession, *, planned_start: datetime, reason: str | None, by: User) -> None:
    """Move a planned session and its booking; refused if anyone involved is busy then."""
    _check_planning_phase(session.course)
    if session.status != PLANNED:
        raise DomainError("Only a planned session can be moved; record or cancel this one instead.")
    session.spacing_override_reason = _check_spacing(session.course, [planned_start], reason, ignore=session)
    session.planned_start = planned_start
    if session.appointment is not None and session.appointment.status == BOOKED:
        booking.move(session.appointment, planned_start, by=by, reason=reason, field="planned_start")
    db.session.flush()


def _align_booking(session: DosingSession, by: User) -> None:
    """At signing, the booking takes the recorded times (start to discharge) and says attended.

    What happened is a fact: no conflict check refuses it. A session held earlier than
    planned frees the planned time this way.
    """
    appointment = session.appointment
    if appointment is None or appointment.status != BOOKED:
        return
    ends = max(t for t in (session.discharged_at, session.ended_at) if t is not None)
    if (appointment.starts_at, appointment.ends_at) != (session.started_at, ends):
        previous = appointment.starts_at
        appointment.starts_at, appointment.ends_at = session.started_at, ends
        booking.record_change(appointment, "rescheduled", by, reason="Aligned with the signed record",
                              previous_start=previous)
    appointment.status = ATTENDED
    booking.record_change(appointment, ATTENDED, by)


def _release(session: DosingSession, reason: str, by: User) -> None:
    """Free the room and the clinician of a session that will not happen."""
    if session.appointment is not None and session.appointment.status == BOOKED:
        booking.cancel(session.appointment, reason=reason, by=by)


def cancel(session: DosingSession, *, reason: str, by: User) -> None:
    if session.status in (SIGNED, CANCELLED):
        raise DomainError("A signed or cancelled session cannot be cancelled; add an addendum instead.")
    session.status, session.cancel_reason = CANCELLED, reason.strip()
    _release(session, reason.strip(), by)
    db.session.flush()


def cancel_planned_for_ended_course(course: TreatmentCourse, by: User) -> int:
    """When a course ends, its still-planned dosing sessions are cancelled (kept, with why)."""
    planned = [s for s in fetch_dosing_sessions(course.id) if s.status == PLANNED]
    for session in planned:
        session.status, session.cancel_reason = CANCELLED, f"Course {course.phase}"
        _release(session, session.cancel_reason, by)
    return len(planned)


def _time_problems(values: dict, now: datetime) -> dict[str, str]:
    problems = {}
    start, end, discharged = values.get("started_at"), values.get("ended_at"), values.get("discharged_at")
    for name in ("started_at", "ended_at", "discharged_at", "ready_to_leave_at"):
        if values.get(name) and values[name] > now:
            problems[name] = "This cannot be in the future: record a session once it has happened."
    if start and end and (problem := _length_problem(end - start)):
        problems.setdefault("ended_at", problem)
    if end and discharged and (problem := _discharge_problem(discharged - end)):
        problems.setdefault("discharged_at", problem)
    return problems


def _length_problem(length: timedelta) -> str | None:
    if length <= timedelta(0):
        return "The session must end after it starts."
    if length > MAX_SESSION:
        return "A dosing session longer than 12 hours is not plausible; check the date."
    return None


def _discharge_problem(after_end: timedelta) -> str | None:
    if after_end < timedelta(0):
        return "Discharge cannot come before the end of dosing."
    if after_end > MAX_DISCHARGE_DELAY:
        return "Discharge more than 24 hours after dosing is not plausible; check the date."
    return None


def _record_problems(values: dict, vitals: dict, protocol) -> dict[str, str]:
    problems = _time_problems(values, utcnow())
    if values.get("route") and values["route"] != protocol.route:
        problems["route"] = f"This course's protocol gives {protocol.medication} by the {protocol.route} route."
    if values.get("medication") and values["medication"] != protocol.medication:
        problems["medication"] = f"This course's protocol uses {protocol.medication}."
    problems.update(_vital_problems(vitals))
    problems.update(_dose_problems(values))
    return problems


def _vital_problems(vitals: dict[str, dict]) -> dict[str, str]:
    """Each reading within its plausible range, and diastolic pressure below systolic."""
    problems = {}
    for timepoint, readings in vitals.items():
        for name, value in readings.items():
            problem = VITAL_RANGES[name].problem(value, name.replace("_", " ").replace("spo2", "SpO2"))
            if problem:
                problems[f"{timepoint}.{name}"] = problem
        systolic, diastolic = readings.get("systolic"), readings.get("diastolic")
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            problems[f"{timepoint}.diastolic"] = "Diastolic pressure must be below systolic."
    return problems


def _dose_problems(values: dict) -> dict[str, str]:
    """A plausible weight; a dose above 0 and within the clinic's ceiling for the medication;
    then, when both are fine, a plausible dose per kilogram."""
    problems = {}
    medication, weight, dose = values.get("medication"), values.get("weight_kg"), values.get("dose_mg")
    if (problem := WEIGHT_RANGE.problem(float(weight) if weight is not None else None, "A weight")):
        problems["weight_kg"] = problem
    ceiling = current_app.config["DOSE_CEILING_MG"].get(medication or "")
    if dose is not None and (dose <= 0 or (ceiling is not None and dose > ceiling)):
        problems["dose_mg"] = f"The dose must be above 0 and at most {ceiling} mg for {medication} (clinic ceiling)."
    if weight and dose and not problems:
        problem = MG_PER_KG_RANGE.problem(mg_per_kg(float(dose), float(weight)), "The dose")
        if problem:
            problems["dose_mg"] = problem
    return problems


def _check_recordable(session: DosingSession) -> None:
    if session.status == SIGNED:
        raise DomainError("This dosing session is signed and locked; add an addendum to correct it.")
    if session.status == CANCELLED:
        raise DomainError("This dosing session was cancelled.")
    if session.course.current_phase not in DOSING_PHASES:
        raise DomainError(f"The course is in {session.course.phase}: dosing is recorded in the experience "
                          "phase (after preparation) or as a booster in maintenance.")


def save_record(session: DosingSession, *, values: dict, vitals: dict[str, dict], adverse_events: list[dict],
                expected_version: int, by: User, spacing_reason: str | None = None,
                responses: dict[str, dict] | None = None, discharge_checks: dict | None = None) -> None:
    """Save the recorded data of a session as a draft, as `by` may; a signed session never changes.

    `responses` are the clinical responses to flagged readings by timepoint, `discharge_checks`
    the answers to the discharge criteria (experience.monitoring); monitoring minutes and
    discharge readiness are derived, whatever `values` says of them."""
    _check_recordable(session)
    if session.version != expected_version:
        raise ConcurrentEdit("Someone else saved this dosing session meanwhile. Your entries are still "
                             "in the form; compare and save again.", current_version=session.version)
    values = dict(values)
    problems = _recorder_limits(session, values, spacing_reason, by)
    problems.update(_record_problems(values, vitals, protocol_of(session.course.protocol_version)))
    problems.update(_recorded_people_problems(session, values))
    problems.update(monitoring.response_problems_on_save(session, responses or {}, utcnow(),
                                                         _care_team_ids(session)))
    if problems:
        raise DomainError(problems)
    if values.get("started_at"):
        _record_spacing(session, values["started_at"], spacing_reason)
    for name in RECORD_FIELDS:
        setattr(session, name, values.get(name))
    weight_based = session.route in WEIGHT_BASED_ROUTES and session.weight_kg and session.dose_mg
    session.dose_mg_per_kg = (Decimal(str(mg_per_kg(float(session.dose_mg), float(session.weight_kg))))
                              if weight_based else None)
    _record_vitals(session, vitals)
    session.adverse_events = [AdverseEvent(**event) for event in adverse_events]
    monitoring.save_monitoring(session, responses=responses or {}, discharge_checks=discharge_checks)
    session.status = DRAFT
    flush_versioned(session, "Someone else saved this dosing session at the same moment; review and save again.")


def _record_spacing(session: DosingSession, started_at: datetime, spacing_reason: str | None) -> None:
    """The protocol's spacing from the course's other sessions, or the reason given for overriding it."""
    try:
        override = _check_spacing(session.course, [started_at], spacing_reason, ignore=session)
    except DomainError as err:
        raise DomainError({"spacing_reason": err.reasons["reason"]}) from None
    session.spacing_override_reason = override or session.spacing_override_reason


def _record_vitals(session: DosingSession, vitals: dict[str, dict]) -> None:
    """Update the readings at each submitted timepoint, adding the timepoints not yet recorded."""
    by_point = {v.timepoint: v for v in session.vitals}
    for timepoint, readings in vitals.items():
        row = by_point.get(timepoint) or VitalSigns(timepoint=timepoint)
        for name, value in readings.items():
            setattr(row, name, value)
        if row not in session.vitals:
            session.vitals.append(row)


#: what a signature needs, and how the refusal names it
REQUIRED_TO_SIGN = {"started_at": "start time", "ended_at": "end time", "route": "route",
                    "medication": "medication", "dose_mg": "dose", "administered_by_id": "who administered",
                    "monitored_by_id": "who monitored", "discharged_at": "discharge time",
                    "sedation": "sedation", "dissociation": "dissociation"}
REQUIRED_FOR_REMS = {"ready_to_leave_at": "REMS: when the patient would have been ready to leave",
                     "lot_number": "lot number",
                     "vitals_acceptable_before_dosing": "REMS: vital signs acceptable before dosing (yes or no)",
                     "vitals_acceptable_before_discharge": "REMS: vital signs acceptable before discharge (yes or no)",
                     "concomitant_sedating_medications": "concomitant sedating medications (write 'none' if none)"}


def _missing_for_signature(session: DosingSession) -> list[str]:
    protocol = protocol_of(session.course.protocol_version)
    required = dict(REQUIRED_TO_SIGN, **(REQUIRED_FOR_REMS if protocol.experience.rems_monitoring_form else {}))
    missing = [label for name, label in required.items() if getattr(session, name) in (None, "")]
    if session.route in WEIGHT_BASED_ROUTES and session.weight_kg is None:
        missing.append("weight used (weight-based route)")
    return missing + monitoring.signature_problems(session)


def sign(session: DosingSession, *, by: User, expected_version: int) -> None:
    lock_course(session.course)  # its windows are rewritten at commit: one writer per course
    if session.status != DRAFT:
        raise DomainError("Only a recorded, unsigned session can be signed.")
    _check_recordable(session)
    if session.version != expected_version:
        raise ConcurrentEdit("The record changed since you opened it; review it before signing.",
                             current_version=session.version)
    monitoring.derive(session)  # a draft saved before issue 19 held a typed number
    missing = _missing_for_signature(session)
    if missing:
        raise DomainError("Not signed. Still needed: " + "; ".join(missing) + ".")
    session.status, session.signed_at, session.signed_by_id = SIGNED, utcnow(), by.id
    session.content_digest = content_digest(session)
    _align_booking(session, by)
    flush_versioned(session, "Someone else saved this dosing session at the same moment; review and save again.")


#: decimal places of the numeric columns, so a value hashes the same before and after storage
DECIMAL_PLACES = {"dose_mg": 2, "weight_kg": 1, "dose_mg_per_kg": 3}


def _canonical(name: str, value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if name in DECIMAL_PLACES:
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-DECIMAL_PLACES[name])))
    return value


def signed_content(session: DosingSession) -> dict:
    """The clinical content a signature covers, as canonical plain data (digest and documents)."""
    content = {name: getattr(session, name) for name in RECORD_FIELDS + DERIVED_FIELDS}
    content.update(id=session.id, course_id=session.course_id, sequence=session.sequence,
                   status=session.status, dose_mg_per_kg=session.dose_mg_per_kg,
                   signed_by_id=session.signed_by_id, signed_at=session.signed_at)
    content = {name: _canonical(name, value) for name, value in content.items()}
    # a respiratory rate is signed when recorded; records without one hash as they always did
    content["vitals"] = {v.timepoint: [v.systolic, v.diastolic, v.heart_rate, v.spo2]
                         + ([v.respiratory_rate] if v.respiratory_rate is not None else [])
                         for v in sorted(session.vitals, key=lambda v: v.timepoint)}
    content["adverse_events"] = [[e.event_type, e.severity, e.action_taken] for e in session.adverse_events]
    content.update(monitoring.signed_extras(session))
    return content


def content_digest(session: DosingSession) -> str:
    payload = json.dumps(signed_content(session), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def verify_signed_sessions() -> list[tuple[int, bool]]:
    """(id, digest still matches) for every signed dosing session."""
    sessions = db.session.scalars(select(DosingSession).where(DosingSession.status == SIGNED)
                                  .order_by(DosingSession.id)).all()
    return [(s.id, s.content_digest == content_digest(s)) for s in sessions]


def verify_protocol_snapshots() -> list[tuple[str, bool]]:
    """("id vN", snapshot still hashes to its recorded content hash) for every registered version."""
    versions = db.session.scalars(select(ProtocolVersion).order_by(ProtocolVersion.id)).all()
    return [(f"{v.protocol_id} v{v.version}", content_hash(v.definition) == v.content_hash) for v in versions]


def add_addendum(session: DosingSession, *, body: str, by: User) -> DosingAddendum:
    if session.status != SIGNED:
        raise DomainError("Addenda are for signed sessions; edit the draft instead.")
    addendum = DosingAddendum(author_id=by.id, body=body.strip())
    session.addenda.append(addendum)
    db.session.flush()
    return addendum


def mark_rems_submitted(session: DosingSession, *, on: date, by: User, today: date) -> None:
    if session.status != SIGNED or not protocol_of(session.course.protocol_version).experience.rems_monitoring_form:
        raise DomainError("Only a signed session under a REMS protocol has a monitoring form.")
    if session.rems_submitted_on is not None:
        raise DomainError("This form is already marked as submitted.")
    if on > today or on < _local_date(session.ended_at):
        raise DomainError({"submitted_on": "Use a date between the session and today."})
    session.rems_submitted_on, session.rems_submitted_by_id = on, by.id
    db.session.flush()
