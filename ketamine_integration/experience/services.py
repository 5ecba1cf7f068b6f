"""Dosing session operations: plan the series, record, sign and lock, addenda, REMS forms."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from ..accounts.models import PRESCRIBER, User
from ..domain.permissions import roles_with
from ..accounts.services import user_choices
from ..courses.models import TreatmentCourse
from ..courses.services import lock_course
from ..db.types import utcnow
from ..domain.dosing import VITAL_RANGES, WEIGHT_BASED_ROUTES, mg_per_kg
from ..domain.dosing_plan import AT_HOME, IN_CLINIC
from ..domain.phases import Phase
from ..domain.protocols import Span
from ..domain.windows import shift
from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from ..db.locking import flush_versioned, lock_row
from ..web.fields import YEARS
from ..patients.care_team import JoinRequest, admit_clinician, dosing_team_role
from ..protocols.services import protocol_of
from ..signed_forms.services import dosing_refusal
from ..bookings import booking
from ..bookings.availability import session_minutes
from ..bookings.models import BOOKED, Appointment, Room
from ..db.clinic_time import clinic_zone, format_local
from .dose_roles import care_team_ids, recorded_people_problems, recorder_limits
from . import monitoring, overruns, plan_rules, readings, record_times, revisions, signing
from .plan_rules import fetch_dosing_sessions, overrides_kept  # noqa: F401 (read from here by views and other packages)
from .signatures import (RECORD_FIELDS, content_digest, signed_content,  # noqa: F401 (read from here too)
                         verify_protocol_snapshots, verify_signed_sessions)
from .models import CANCELLED, DRAFT, PLANNED, SIGNED, DosingAddendum, DosingSession
from .record_notes import documented

#: phases in which dosing may be planned: the series, and boosters in maintenance
PLANNING_PHASES = (Phase.PREPARATION, Phase.EXPERIENCE, Phase.MAINTENANCE)
#: phases in which a dosing session may be recorded (BRIEF: not before preparation is met)
DOSING_PHASES = (Phase.EXPERIENCE, Phase.MAINTENANCE)
#: the last date a series may be planned to (beyond it, date arithmetic is a typo's risk)
LAST_PLANNABLE = date(YEARS[1], 12, 31)


def count_signed_dosing_sessions(course_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(DosingSession).where(
        DosingSession.course_id == course_id, DosingSession.status == SIGNED)) or 0


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


def _check_planning_phase(course: TreatmentCourse) -> None:
    """The course may have a dose planned or moved now: its phase and its forms, read under the course's lock
    (_check_forms_allow_dosing)."""
    lock_course(course)
    if course.current_phase not in PLANNING_PHASES:
        if course.current_phase.ended:
            raise DomainError("The course has ended; nothing more can be planned.")
        raise DomainError("The series is complete; boosters are planned once the course is in maintenance.")
    _refuse_unless_forms_allow_dosing(course)


def _check_forms_allow_dosing(course: TreatmentCourse) -> None:
    """A form dosing needs never signed (the intake, a route consent, the transport agreement), a withdrawn
    dosing consent or an unreviewed flagged answer stops planning, moving and starting a dose in any phase,
    even when the preparation gate was overridden (issue 26); a record already under way is never stopped.

    The forms are read after the course's lock is taken: a signature, a review and a withdrawal take it too
    (signed_forms.services), so a withdrawal committed a moment before is seen, never read stale and followed by
    a dose planned after it (attacker review of issue 26, finding 3)."""
    lock_course(course)
    _refuse_unless_forms_allow_dosing(course)


def _refuse_unless_forms_allow_dosing(course: TreatmentCourse) -> None:
    """_check_forms_allow_dosing for a caller already holding the course's lock."""
    refusal = dosing_refusal(course)
    if refusal:
        raise DomainError(refusal)


def dosing_clinician_choices(clinicians: list[tuple[int, str, frozenset[str]]] | None = None):
    """Active clinicians who may lead a dosing session (dosing.lead), prescribers first, for the
    plan form; from `clinicians` (accounts.services.user_choices rows) when the page read them."""
    leads = roles_with("dosing.lead")
    rows = user_choices(*leads) if clinicians is None else [row for row in clinicians if not row[2].isdisjoint(leads)]
    return [(user_id, name) for user_id, name, _roles in sorted(rows, key=lambda row: PRESCRIBER not in row[2])]


#: minutes booked beyond the protocol's minimum monitoring: the dose itself and getting settled
DOSING_MARGIN_MINUTES = 30


def booked_minutes(protocol) -> int:
    """How long a dosing session is booked when the plan does not say: the clinic's usual length,
    but never less than the protocol's minimum monitoring and the dose (review of issue 19: a
    120-minute booking cannot hold the 2 hours of REMS monitoring after an esketamine dose)."""
    return max(session_minutes()["dosing"], protocol.experience.min_monitoring_minutes + DOSING_MARGIN_MINUTES)


def _dosing_booking(course: TreatmentCourse, clinician_id: int, room_id: int | None,
                    setting: str) -> tuple[User, Room | None]:
    """The clinician and room of a plan: a room in the clinic; none when supervised at home,
    which only a protocol allowing it may plan (the supervision is a telehealth appointment)."""
    clinician = db.session.get(User, clinician_id)
    if clinician is None or not clinician.active or not clinician.can("dosing.lead"):
        raise DomainError({"clinician": "Choose an active prescriber to run the session."})
    if setting not in protocol_of(course.protocol_version).experience.settings:
        raise DomainError({"setting": "This course's protocol doses in the clinic only."})
    if setting == AT_HOME:
        return clinician, None
    room = db.session.get(Room, room_id) if room_id else None
    if room is None or not room.active:
        raise DomainError({"room": "Choose one of the clinic's rooms: dosing in the clinic happens on site."})
    return clinician, room


def plan_series(course: TreatmentCourse, *, first_start: datetime, days_between: int, count: int,
                reason: str | None, clinician_id: int, room_id: int | None, by: User,
                minutes: int | None = None, join: JoinRequest | None = None,
                setting: str = IN_CLINIC) -> list[DosingSession]:
    """Plan `count` dosing sessions and book each one's room and clinician, or plan nothing.

    The clinician is on the patient's care team, or `join` asks for their membership (granted
    and audited with the plan; refused for a user who may not keep care teams).

    Every session is checked for the clinician's, the patient's and the room's other
    appointments (and the clinician's hours and time off) before it is booked; a clash names
    the appointment it meets and the whole plan is refused. Supervised at home (where the
    protocol allows it), the booking is a telehealth appointment without a room.
    """
    _check_planning_phase(course)
    zone = clinic_zone()
    if first_start.astimezone(zone).date() + timedelta(days=days_between * (count - 1)) > LAST_PLANNABLE:
        raise DomainError({"count": f"The series would run past {LAST_PLANNABLE.year}; check the dates."})
    clinician, room = _dosing_booking(course, clinician_id, room_id, setting)
    starts = [shift(first_start, Span(days_between * i, "d"), zone) for i in range(count)]
    overrides = plan_rules.plan_spacing(course, starts, reason, by)
    length = timedelta(minutes=minutes or booked_minutes(protocol_of(course.protocol_version)))
    # The course row was locked first (_check_planning_phase): two plans at once must not draw the same sequence
    # numbers, and the forms were read under it.
    booking.lock_parties(clinician_id=clinician.id, patient_id=course.patient_id, room_id=room.id if room else None)
    sequence = db.session.scalar(select(func.max(DosingSession.sequence))
                                 .where(DosingSession.course_id == course.id)) or 0
    planned = []
    for i, start in enumerate(starts):
        try:
            booking.check_free(clinician, course.patient_id, start, start + length, room.id if room else None,
                               field="first_start")
        except DomainError as clash:
            raise DomainError({"first_start": f"Session {i + 1} of the plan ({format_local(start)}): "
                                              + clash.reasons["first_start"]}) from None
        session = DosingSession(course_id=course.id, sequence=sequence + i + 1, status=PLANNED,
                                planned_start=start, spacing_override_reason=overrides[i], setting=setting)
        appointment = Appointment(patient_id=course.patient_id, course_id=course.id, clinician_id=clinician.id,
                                  kind="dosing", dosing_session=session, starts_at=start, ends_at=start + length,
                                  modality="telehealth" if room is None else "in_person",
                                  room_id=room.id if room else None, created_by_id=by.id)
        booking.record_change(appointment, "booked", by)
        db.session.add_all((session, appointment))
        db.session.flush()  # the next session's check sees this one
        planned.append(session)
    # The clinician running the sessions joins the care team only when the form asked for it.
    admit_clinician(course.patient, clinician, dosing_team_role(clinician), join=join, by=by)
    return planned


def _check_not_documented(session: DosingSession, change: str) -> None:
    """A dose a signed dosing-session note documents was given (review of issue 20): cancelling or
    moving it would leave the note describing a session that, by the record, never happened then."""
    lock_row(session)  # a signature under way goes first; then its note is seen
    if documented(session):
        raise DomainError(f"Dosing session {session.sequence} cannot be {change}: a signed dosing-session note "
                          "documents it as given. If that is wrong, the note's author corrects it with an addendum.")


def reschedule(session: DosingSession, *, planned_start: datetime, reason: str | None, by: User) -> None:
    """Move a planned session and its booking; refused if anyone involved is busy then, or if a
    signed dosing-session note documents it."""
    _check_planning_phase(session.course)
    _check_not_documented(session, "moved")
    if session.status != PLANNED:
        raise DomainError("Only a planned session can be moved; record or cancel this one instead.")
    session.spacing_override_reason = plan_rules.move_spacing(session, planned_start, reason, by)
    session.planned_start = planned_start
    if session.appointment is not None and session.appointment.status == BOOKED:
        booking.move(session.appointment, planned_start, by=by, reason=reason, field="planned_start")
    db.session.flush()


def _release(session: DosingSession, reason: str, by: User) -> None:
    """Free the room and the clinician of a session that will not happen."""
    if session.appointment is not None and session.appointment.status == BOOKED:
        booking.cancel(session.appointment, reason=reason, by=by)


def cancel(session: DosingSession, *, reason: str, by: User) -> None:
    _check_not_documented(session, "cancelled")
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


def _record_problems(session: DosingSession, values: dict, vitals: dict, protocol,
                     sessions: list[DosingSession]) -> tuple[dict[str, str], str | None]:
    """(problems by field, why the dose is unusual for its stage or None); `sessions`: the course's."""
    problems = record_times.time_problems(values, utcnow())
    problems.update({field: problem for field, problem in record_times.overlap_problem(session, values, sessions)
                     .items() if field not in problems})
    if values.get("route") and values["route"] != protocol.route:
        problems["route"] = f"This course's protocol gives {protocol.medication} by the {protocol.route} route."
    if values.get("medication") and values["medication"] != protocol.medication:
        problems["medication"] = f"This course's protocol uses {protocol.medication}."
    problems.update(_vital_problems(vitals))
    problems.update(plan_rules.vital_source_problems(session.setting, vitals))
    usual = plan_rules.usual_doses(session, values.get("started_at"), protocol, sessions)
    dose_problems, unusual = plan_rules.dose_problems(values, protocol, usual)
    problems.update(dose_problems)
    return problems, unusual


def _vital_problems(vitals: dict[str, dict]) -> dict[str, str]:
    """Each reading within its plausible range, and diastolic pressure below systolic."""
    problems = {}
    for timepoint, readings in vitals.items():
        for name in VITAL_RANGES.keys() & readings.keys():
            problem = VITAL_RANGES[name].problem(readings[name], name.replace("_", " ").replace("spo2", "SpO2"))
            if problem:
                problems[f"{timepoint}.{name}"] = problem
        systolic, diastolic = readings.get("systolic"), readings.get("diastolic")
        if systolic is not None and diastolic is not None and diastolic >= systolic:
            problems[f"{timepoint}.diastolic"] = "Diastolic pressure must be below systolic."
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
                dose_reason: str | None = None, responses: dict[str, dict] | None = None,
                discharge_checks: dict | None = None, reasons: dict[str, str | None] | None = None,
                signing_next: bool = False) -> None:
    """Save the recorded data of a session as a draft, as `by` may; a signed session never changes.

    `responses` are the clinical responses to flagged readings by timepoint, `discharge_checks`
    the answers to the discharge criteria (experience.monitoring); monitoring minutes and
    discharge readiness are derived, whatever `values` says of them. A saved fact changed keeps
    its earlier version: a reading changed needs `reasons["vitals"]` (experience.readings), a
    response or adverse event changed or removed `reasons["responses"]` or
    `reasons["adverse_events"]` (experience.revisions); nothing saved is deleted.

    A refusal names every problem the submission shows at once, each on its field: values,
    people, responses, corrections, the dose's confirmation and the spacing's reason; with
    `signing_next` ("Sign and lock") also what signing would still need (experience.signing)."""
    _check_recordable(session)
    if session.status == PLANNED:  # starting the record starts the dose
        _check_forms_allow_dosing(session.course)
    if session.version != expected_version:
        raise ConcurrentEdit("Someone else saved this dosing session meanwhile. Your entries are still "
                             "in the form; compare and save again.", current_version=session.version)
    values, responses, reasons = dict(values), responses or {}, reasons or {}
    problems, confirmation, spacing = _save_problems(session, values, vitals, adverse_events, by=by,
                                                     spacing_reason=spacing_reason, dose_reason=dose_reason,
                                                     responses=responses, reasons=reasons)
    if problems:
        needs = signing.submitted_needs(session, values, vitals, responses, discharge_checks) if signing_next else []
        raise DomainError(signing.with_needs(problems, needs))
    session.dose_confirmation_reason, session.spacing_override_reason = confirmation, spacing
    _store_values(session, values)
    now = utcnow()
    readings.record_vitals(session, vitals, by=by, reason=reasons.get("vitals"), now=now)
    revisions.save_adverse_events(session, adverse_events, by=by, reason=reasons.get("adverse_events"), now=now)
    revisions.save_responses(session, responses, by=by, reason=reasons.get("responses"), now=now)
    monitoring.save_monitoring(session, discharge_checks=discharge_checks)
    session.status = DRAFT
    flush_versioned(session, "Someone else saved this dosing session at the same moment; review and save again.")


def _store_values(session: DosingSession, values: dict) -> None:
    """The form's columns as given, and the dose per kg computed from the weight used."""
    for name in RECORD_FIELDS:
        setattr(session, name, values.get(name))
    weight_based = session.route in WEIGHT_BASED_ROUTES and session.weight_kg and session.dose_mg
    session.dose_mg_per_kg = (Decimal(str(mg_per_kg(float(session.dose_mg), float(session.weight_kg))))
                              if weight_based else None)


def _save_problems(session: DosingSession, values: dict, vitals: dict[str, dict], adverse_events: list[dict], *,
                   by: User, spacing_reason: str | None, dose_reason: str | None, responses: dict[str, dict],
                   reasons: dict[str, str | None]) -> tuple[dict[str, str], str | None, str | None]:
    """(every problem of the submission by field, the dose's confirmation reason, the spacing
    override reason) - the reasons as they would be kept. The confirmation is judged once the dose
    is plausible, the spacing once the start time is (the protocol's spacing from the course's
    other doses, or the reason given for overriding it: the one given before stands only for the
    same clinic day and the same problems)."""
    problems = recorder_limits(session, values, spacing_reason, dose_reason, by)
    # the course's sessions read once for the overlap, stage and spacing rules (nothing here writes)
    sessions = fetch_dosing_sessions(session.course_id)
    record_problems, unusual = _record_problems(session, values, vitals, protocol_of(session.course.protocol_version),
                                                sessions)
    problems.update(record_problems)
    if values.get("started_at") is None and session.started_at is not None and documented(session):
        problems["started_at"] = ("A signed dosing-session note documents this dose as given: keep when dosing "
                                  "started.")
    problems.update(recorded_people_problems(session, values))
    problems.update(monitoring.response_problems_on_save(session, responses, utcnow(), care_team_ids(session),
                                                         values))
    problems.update(readings.correction_problems(session, vitals, reasons.get("vitals")))
    problems.update(revisions.reason_problems(session, responses, adverse_events, response_reason=reasons.get(
        "responses"), event_reason=reasons.get("adverse_events")))
    confirmation = _judged(problems, "dose_reason", lambda: plan_rules.dose_confirmation(
        session, values, unusual, dose_reason, by))
    spacing = session.spacing_override_reason
    if values.get("started_at") and "started_at" not in problems:
        spacing = _judged(problems, "spacing_reason", lambda: plan_rules.move_spacing(
            session, values["started_at"], spacing_reason, by, field="spacing_reason", sessions=sessions))
    return problems, confirmation, spacing


def _judged(problems: dict[str, str], field: str, judge):
    """What `judge` keeps, or None with its refusal added to `problems` (unless `field` has one already)."""
    if field in problems:
        return None
    try:
        return judge()
    except DomainError as refusal:
        for name, reason in refusal.reasons.items():
            problems.setdefault(name, reason)
        return None


def sign(session: DosingSession, *, by: User, expected_version: int, now: datetime | None = None) -> list[Appointment]:
    """Sign and lock the record, or refuse with all it still needs (experience.signing). Its booking
    takes the recorded times; returns the other bookings those overlap, for the caller to report
    (experience.overruns: the record is what happened, so an overlap never refuses it).
    `now`: the moment of signing (the views sign at the time of the request; the demo's invented
    history signs each dose the day it was given)."""
    lock_course(session.course)  # its windows are rewritten at commit: one writer per course
    if session.status != DRAFT:
        raise DomainError("Only a recorded, unsigned session can be signed.")
    _check_recordable(session)
    if session.version != expected_version:
        raise ConcurrentEdit("The record changed since you opened it; review it before signing.",
                             current_version=session.version)
    monitoring.derive(session)  # a draft saved before issue 19 held a typed number
    needs = signing.needs_of(session)
    if needs:
        raise signing.SignatureRefused(needs)
    session.status, session.signed_at, session.signed_by_id = SIGNED, now or utcnow(), by.id
    with db.session.no_autoflush:  # loading its history (loaded when read) must not flush it half-signed
        session.content_digest = content_digest(session)
    overlapped = overruns.align_booking(session, by)
    flush_versioned(session, "Someone else saved this dosing session at the same moment; review and save again.")
    return overlapped


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
    if on > today or on < plan_rules.local_date(session.ended_at):
        raise DomainError({"submitted_on": "Use a date between the session and today."})
    session.rems_submitted_on, session.rems_submitted_by_id = on, by.id
    db.session.flush()
