"""One treatment course of the synthetic clinic, lived out day by day up to `now`.

Preparation (checklist, baseline measures, signed preparation sessions), the dosing series
(booked in a dosing suite, recorded and signed once held, planned when still ahead), an
integration session inside each dosing session's window (signed note when held, booked or
left uncovered when ahead), then integration, maintenance and completion, or an early
discontinuation. Everything after `now` is left as the clinic would have it: booked or planned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketamine_integration.domain.dosing import spacing_problems
from ketamine_integration.domain.windows import window_for

from . import records
from .records import CourseState, audit
from .timetable import Timetable, units_for

#: days between dosing sessions, per protocol (inside each protocol's spacing rules)
GAP_DAYS = {"iv-ketamine-induction": 2, "im-ketamine-kap": 7, "sublingual-ketamine-kap": 7,
            "esketamine-trd-rems": 3}
#: who runs the dosing session: the prescriber for infusions and esketamine, the therapist for KAP
RUN_BY_THERAPIST = ("im-ketamine-kap", "sublingual-ketamine-kap")
INDICATIONS = ("Treatment-resistant depression", "Major depressive disorder", "Post-traumatic stress disorder",
               "Depression with anxious distress")
DISCONTINUE_REASON = "Patient chose to stop after an early session; referred back to primary care."


@dataclass
class Clinic:
    """Everything the course simulation shares: the rows being built, the timetable, the clock."""
    rows: object
    rng: object
    now: datetime
    zone: ZoneInfo
    protocols: dict
    therapy_rooms: list[int]
    dosing_rooms: list[int]
    themes: list[int]
    table: Timetable = None
    audit_rows: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.table = Timetable(self.zone)
        self.today = self.now.astimezone(self.zone).date()

    def ip_for(self, user_id: int | None) -> str:
        return f"10.20.{(user_id or 0) // 250}.{(user_id or 0) % 250 + 1}"


def weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _transition(clinic: Clinic, course: CourseState, target: str, when: datetime, by: int,
                reason: str | None = None) -> None:
    clinic.rows.add("phase_transitions", course_id=course.id, from_phase=None if target == "preparation"
                    else course.phase, to_phase=target, occurred_at=when, by_user_id=by, reason=reason,
                    overridden=None)
    if target != "preparation":
        audit(clinic, when, by, "course.phase_change", obj_type="treatmentcourse", obj_id=course.id,
              patient_id=course.patient_id, detail=f"to {target}")
    course.phase, course.phase_since = target, when
    course.transitions += 1


def _book(clinic: Clinic, course: CourseState, kind: str, clinician_id: int, day: date, minutes: int, *,
          rooms, earliest: int = 0, booked_at: datetime, dosing_session_id=None):
    """Place a session on `day` (or the next working days) with no clash; the appointment row."""
    for offset in range(0, 10):
        when = weekday(day + timedelta(days=offset))
        order = sorted(range(20), key=lambda u: (u < earliest, clinic.rng.random())) if kind != "dosing" else None
        spot = clinic.table.place(when, units_for(minutes), [("user", clinician_id), ("patient", course.patient_id)],
                                  rooms, earliest=earliest if offset == 0 else 0, order=order)
        if spot is not None:
            break
    else:
        return None
    first, room = spot
    starts = clinic.table.at(when, first)
    appointment_id = clinic.rows.add(
        "appointments", patient_id=course.patient_id, course_id=course.id, clinician_id=clinician_id, kind=kind,
        dosing_session_id=dosing_session_id, starts_at=starts, ends_at=starts + timedelta(minutes=minutes),
        modality="in_person" if room else "telehealth", room_id=room, status="booked", outcome=None,
        cancel_reason=None, created_at=booked_at, created_by_id=course.therapist_id, version=1)
    clinic.rows.add("appointment_changes", appointment_id=appointment_id, change="booked", occurred_at=booked_at,
                    by_user_id=course.therapist_id, previous_start=None, reason=None, outcome=None)
    audit(clinic, booked_at, course.therapist_id, "appointment.create", obj_type="appointment",
          obj_id=appointment_id, patient_id=course.patient_id, detail=kind)
    return clinic.rows.tables["appointments"][-1]


def _settle(clinic: Clinic, appointment: dict, status: str, by: int, reason: str | None = None,
            when: datetime | None = None) -> None:
    """The appointment's outcome once it has happened (attended, no-show) or was called off ahead."""
    outcome = status if status in ("attended", "no_show") else None
    appointment["status"], appointment["outcome"], appointment["cancel_reason"] = status, outcome, reason
    appointment["version"] = 2
    when = when or (appointment["ends_at"] if status != "cancelled" else appointment["starts_at"] - timedelta(days=1))
    clinic.rows.add("appointment_changes", appointment_id=appointment["id"], change=status,
                    occurred_at=min(when, clinic.now), by_user_id=by, previous_start=None, reason=reason,
                    outcome=outcome)


def _therapy_rooms(clinic: Clinic):
    return clinic.therapy_rooms + [None] if clinic.rng.random() < 0.6 else [None]


def _preparation(clinic: Clinic, course: CourseState, start: date) -> datetime | None:
    """The checklist, baseline measures and preparation sessions; when preparation was done."""
    protocol, rows = course.protocol, clinic.rows
    for item in protocol.preparation.required_items:
        day = start + timedelta(days=1 if item == "medical_clearance" else 0)
        if day > clinic.today:
            return None
        by = course.prescriber_id if item == "medical_clearance" else course.therapist_id
        rows.add("preparation_records", course_id=course.id, item=item, completed_on=day, note=None,
                 recorded_at=datetime.combine(day, time(17), clinic.zone), recorded_by_id=by, voided_at=None,
                 voided_by_id=None, void_reason=None)
    baseline_at = datetime.combine(start, time(10), clinic.zone)
    records.measure(clinic, course, "phq9", start, 0.0, baseline_at)
    records.measure(clinic, course, "gad7", start, 0.0, baseline_at)
    done = datetime.combine(start, time(17), clinic.zone)
    for n in range(protocol.preparation.min_signed_sessions):
        appointment = _book(clinic, course, "preparation", course.therapist_id, start + timedelta(days=2 + 3 * n),
                            60, rooms=_therapy_rooms(clinic), booked_at=done)
        if appointment is None or appointment["ends_at"] >= clinic.now:
            return None
        _settle(clinic, appointment, "attended", course.therapist_id)
        done = appointment["ends_at"]
        day = done.astimezone(clinic.zone).date()
        # a signed preparation note is the preparation session: the checklist reads it (no entry)
        records.preparation_note(clinic, course, day, done + timedelta(hours=1))
    return done


def _plan_series(clinic: Clinic, course: CourseState, planned_at: datetime) -> list[dict]:
    """Every dosing session of the series, booked in a dosing suite; spacing broken only with a reason."""
    runner = course.therapist_id if course.protocol_id in RUN_BY_THERAPIST else course.prescriber_id
    minutes = course.protocol.experience.min_monitoring_minutes + 30
    plans, days, gap = [], [], GAP_DAYS[course.protocol_id]
    day = weekday(planned_at.astimezone(clinic.zone).date() + timedelta(days=2))
    for sequence in range(1, course.protocol.experience.max_series_sessions + 1):
        session_id = next(clinic.rows._ids["dosing_sessions"])
        appointment = _book(clinic, course, "dosing", runner, day, minutes, rooms=clinic.dosing_rooms,
                            booked_at=planned_at, dosing_session_id=session_id)
        if appointment is None:
            break
        days.append(appointment["starts_at"].astimezone(clinic.zone).date())
        day = weekday(days[-1] + timedelta(days=gap))  # weekends only ever lengthen a gap
        plans.append({"id": session_id, "sequence": sequence, "appointment": appointment, "runner": runner})
    problems = spacing_problems(days, course.protocol.experience)
    reason = ("Clinic timetable: " + " ".join(problems))[:1000] if problems else None
    for plan in plans:
        plan["override"] = reason
    audit(clinic, planned_at, course.prescriber_id, "dosing.plan", obj_type="treatmentcourse", obj_id=course.id,
          patient_id=course.patient_id, detail=f"{len(plans)} sessions")
    return plans


def _cancel_plan(clinic: Clinic, course: CourseState, plan: dict, reason: str, when: datetime) -> None:
    clinic.rows.add("dosing_sessions", id=plan["id"], course_id=course.id, sequence=plan["sequence"],
                    status="cancelled", planned_start=plan["appointment"]["starts_at"],
                    spacing_override_reason=plan["override"], cancel_reason=reason,
                    created_at=plan["appointment"]["created_at"], updated_at=when, version=2)
    _settle(clinic, plan["appointment"], "cancelled", course.prescriber_id, reason, when=when)


def _leave_planned(clinic: Clinic, course: CourseState, plan: dict, planned_at: datetime) -> None:
    clinic.rows.add("dosing_sessions", id=plan["id"], course_id=course.id, sequence=plan["sequence"],
                    status="planned", planned_start=plan["appointment"]["starts_at"],
                    spacing_override_reason=plan["override"], created_at=planned_at, updated_at=planned_at,
                    version=1)


def _hold_dosing(clinic: Clinic, course: CourseState, plan: dict, weight: float, fraction: float) -> dict:
    """A dosing session that took place: pre-dose PHQ-9, the signed record, the booking attended."""
    appointment, start = plan["appointment"], plan["appointment"]["starts_at"]
    day = start.astimezone(clinic.zone).date()
    records.measure(clinic, course, "phq9", day, fraction, start - timedelta(minutes=20))
    values = records.dosing_values(clinic.rng, course.protocol, start, course.prescriber_id, plan["runner"],
                                   weight)
    signed_at = values["discharged_at"] + timedelta(minutes=30)
    records.sign_dosing(clinic, course, plan["id"], plan["sequence"], values, signed_at,
                        planned=appointment["created_at"])
    clinic.rows.tables["dosing_sessions"][-1]["spacing_override_reason"] = plan["override"]
    appointment["ends_at"] = max(values["discharged_at"], values["ended_at"])
    _settle(clinic, appointment, "attended", course.prescriber_id)
    for action in ("dosing.update", "dosing.sign"):
        audit(clinic, signed_at, course.prescriber_id, action, obj_type="dosingsession", obj_id=plan["id"],
              patient_id=course.patient_id)
    return values


def _integration_after(clinic: Clinic, course: CourseState, dosing_id: int, ended: datetime) -> None:
    """The integration session of one dosing session's window: held and signed, booked, or not yet."""
    window = window_for(dosing_id, ended, course.protocol.integration.window, clinic.zone)
    opens_local = window.opens.astimezone(clinic.zone)
    earliest = max(0, -(-((opens_local.hour - 8) * 60 + opens_local.minute) // 30))
    day, booked_at = opens_local.date(), ended + timedelta(hours=2)
    if earliest >= 18:  # the window opens after hours: the next morning
        day, earliest = day + timedelta(days=1), 0
    if window.opens > clinic.now and clinic.rng.random() < 0.35:
        return  # not yet booked: the worklist and the auto-schedule have this one
    appointment = _book(clinic, course, "integration", course.therapist_id, day, 50, rooms=_therapy_rooms(clinic),
                        earliest=earliest, booked_at=min(booked_at, clinic.now))
    if appointment is None or not window.contains(appointment["starts_at"]):
        if appointment is not None:
            _settle(clinic, appointment, "cancelled", course.therapist_id, "Outside the window; rebooking")
        return
    if appointment["ends_at"] >= clinic.now:
        return
    roll = clinic.rng.random()
    if roll < 0.04:
        _settle(clinic, appointment, "no_show", course.therapist_id)
        return
    _settle(clinic, appointment, "attended", course.therapist_id)
    day = appointment["starts_at"].astimezone(clinic.zone).date()
    records.integration_note(clinic, course, day, [dosing_id], appointment["ends_at"] + timedelta(hours=1))


def build_course(clinic: Clinic, *, course_id: int, patient_id: int, therapist_id: int, prescriber_id: int,
                 protocol_id: str, start: date) -> tuple[str, date] | None:
    """Write one course's history up to now; its phase and the last day anything happened."""
    enrolled = datetime.combine(start, time(9), clinic.zone)
    if enrolled >= clinic.now:
        return None
    version_id, protocol = clinic.protocols[protocol_id]
    rng = clinic.rng
    row = dict(id=course_id, patient_id=patient_id, protocol_version_id=version_id,
               indication=rng.choice(INDICATIONS), start_date=start, therapist_id=therapist_id,
               prescriber_id=prescriber_id, created_at=enrolled, created_by_id=therapist_id, version=1)
    course = CourseState(course_id, patient_id, therapist_id, prescriber_id, protocol_id, protocol, row,
                         responder=rng.random() < 0.66, baseline=rng.randint(14, 22),
                         recurring=tuple(rng.sample(clinic.themes, 2)))
    clinic.rows.add("treatment_courses", **row)
    row = clinic.rows.tables["treatment_courses"][-1]
    _transition(clinic, course, "preparation", enrolled, therapist_id)
    audit(clinic, enrolled, therapist_id, "course.create", obj_type="treatmentcourse", obj_id=course_id,
          patient_id=patient_id)
    last = _live_course(clinic, course, start)
    row.update(phase=course.phase, phase_since=course.phase_since, version=course.transitions)
    return course.phase, last


def _live_course(clinic: Clinic, course: CourseState, start: date) -> date:
    """Preparation, then the dosing series with its integration sessions, as far as `now`."""
    prepared = _preparation(clinic, course, start)
    if prepared is None:
        return clinic.today
    day = weekday(prepared.astimezone(clinic.zone).date() + timedelta(days=clinic.rng.randint(1, 4)))
    entered = datetime.combine(day, time(9, 30), clinic.zone)
    if entered >= clinic.now:
        return clinic.today
    _transition(clinic, course, "experience", entered, course.prescriber_id)
    plans = _plan_series(clinic, course, entered)
    weight = round(clinic.rng.uniform(52, 110), 1)
    quit_after = clinic.rng.choice((1, 2)) if clinic.rng.random() < 0.08 else None
    last_end = None
    for n, plan in enumerate(plans):
        if n == quit_after and last_end + timedelta(days=2) < clinic.now:
            when = last_end + timedelta(days=2)
            _transition(clinic, course, "discontinued", when, course.prescriber_id, DISCONTINUE_REASON)
            for later in plans[n:]:
                _cancel_plan(clinic, course, later, "Course discontinued", when)
            return when.date()
        if plan["appointment"]["ends_at"] + timedelta(hours=1) >= clinic.now:
            for later in plans[n:]:
                _leave_planned(clinic, course, later, entered)
            return clinic.today
        values = _hold_dosing(clinic, course, plan, weight, (n + 1) / len(plans))
        last_end = values["ended_at"]
        _integration_after(clinic, course, plan["id"], last_end)
        if n == 2:
            _coordination_note(clinic, course, last_end + timedelta(days=1))
    return _after_series(clinic, course, last_end) if last_end else clinic.today


def _coordination_note(clinic: Clinic, course: CourseState, when: datetime) -> None:
    """The therapist tells the prescriber how the series goes; acknowledged with a reply a day later."""
    if when >= clinic.now - timedelta(days=3):
        return
    urgent = clinic.rng.random() < 0.1
    acknowledged = when + timedelta(days=1)
    note_id = clinic.rows.add(
        "coordination_notes", patient_id=course.patient_id, course_id=course.id, author_id=course.therapist_id,
        recipient_id=course.prescriber_id, priority="urgent" if urgent else "routine", category="response",
        body="PHQ-9 is coming down; sleeping better and walking most days." if course.responder
        else "Little change on the PHQ-9 so far; could we review the dose and spacing?", follows_id=None,
        sent_at=when, acknowledged_at=acknowledged if acknowledged < clinic.now else None,
        reply="Thanks; keep the current plan." if acknowledged < clinic.now else None)
    audit(clinic, when, course.therapist_id, "coordination.send", obj_type="coordinationnote", obj_id=note_id,
          patient_id=course.patient_id, detail="response")


def _after_series(clinic: Clinic, course: CourseState, last_end: datetime) -> date:
    """Integration (with the protocol's after-series sessions), maintenance, then completed."""
    moved = last_end + timedelta(days=1)
    if moved >= clinic.now:
        return clinic.today
    _transition(clinic, course, "integration", moved, course.therapist_id)
    after = course.protocol.integration.after_series
    for i in range(after.sessions):
        day = (last_end + timedelta(days=after.every_days * (i + 1))).astimezone(clinic.zone).date()
        appointment = _book(clinic, course, "integration", course.therapist_id, day, 50,
                            rooms=_therapy_rooms(clinic), booked_at=min(moved, clinic.now))
        if appointment is None or appointment["ends_at"] >= clinic.now:
            break
        _settle(clinic, appointment, "attended", course.therapist_id)
        records.integration_note(clinic, course, appointment["starts_at"].astimezone(clinic.zone).date(), [],
                                 appointment["ends_at"] + timedelta(hours=1))
    for target, days in (("maintenance", 30), ("completed", 90)):
        when = last_end + timedelta(days=days)
        if when >= clinic.now:
            return clinic.today
        _transition(clinic, course, target, when, course.therapist_id)
    return (last_end + timedelta(days=90)).astimezone(clinic.zone).date()
