"""Demo treatment courses: every shipped protocol in every phase, built through the services.

Times are relative to `now`, so the demo always shows integration windows in every status:
not yet open, open (optimal), open, closing soon and closed, covered and uncovered.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event
from sqlalchemy import event, select

from ..accounts.models import User
from ..db.append_only import store_digest
from ..calendars.services import import_busy, own_addresses, read_upload
from ..courses.models import PhaseTransition, PreparationRecord, TreatmentCourse
from ..courses.services import change_phase, course_protocol, enrol_patient, record_preparation, recordable_items
from ..domain.phases import Phase
from ..domain.protocols import Span
from ..domain.windows import shift
from ..experience.models import SIGNED, DosingSession
from ..experience.services import fetch_dosing_sessions, mark_rems_submitted
from ..experience.windows import course_windows
from ..extensions import db
from ..protocols.services import newest_version
from ..notes.models import MeasureResponse
from ..patients.models import Patient
from ..domain.slots import Interval
from ..bookings.availability import first_free_room, free_slots, suggest_for_window
from ..bookings.booking import integration_sessions
from ..bookings.models import BOOKED, CANCELLED, Appointment, ExtraHours, Room, TimeOff, WorkingHours
from ..scheduling.services import book_integration_session, fetch_course_appointments
from .after_series import BOOKED_AHEAD, book_after_series
from .baselines import record_baselines
from .dosing import DOSING_ROOMS, plan_clash_free, record_and_sign
from .forms import sign_before_first_dose
from .preparation import sign_preparation_note
from ..db.clinic_time import clinic_zone

PROTOCOLS = ("iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems")
#: the demo series per protocol, stage by stage: (sessions, days between), inside each protocol's
#: stages (esketamine: 8 in weeks 1-4, then 4 weekly in weeks 5-8; the series within 56 days)
SERIES = {"iv-ketamine-induction": ((6, 2),), "im-ketamine-kap": ((6, 7),), "sublingual-ketamine-kap": ((6, 7),),
          "esketamine-trd-rems": ((8, 4), (4, 7))}
#: the demo course whose sessions are supervised at home by telehealth (the protocol allows it)
AT_HOME_COURSE = ("sublingual-ketamine-kap", Phase.INTEGRATION)
INDICATIONS = ("Treatment-resistant depression", "Major depressive disorder",
               "Depression with suicidal ideation", "Post-traumatic stress disorder")
#: experience-phase courses: (sessions done, at least this many hours since the last one
#: ended; office hours add up to 15 more) -> the newest window's status
EXPERIENCE_SHAPES = {"iv-ketamine-induction": (3, 30),       # 30-45 h: open, optimal (24-72 h)
                     "im-ketamine-kap": (2, 8.5 * 24),       # 204-219 h: closing soon (closes at 240 h)
                     "sublingual-ketamine-kap": (2, 1),      # 1-16 h: not yet open (opens at 24 h)
                     "esketamine-trd-rems": (5, 4 * 24)}     # 96-111 h: open, past optimal (72 h)
PHASE_PLAN = (Phase.PREPARATION, Phase.EXPERIENCE, Phase.INTEGRATION, Phase.MAINTENANCE,
              Phase.COMPLETED, Phase.DISCONTINUED)


ROOMS = ("Cedar Room", "Sage Room", "Willow Room")
#: (therapist username, weekday blocks): most work Monday to Friday with a lunch break
WORK_WEEKS = {"therapist1": range(0, 6), "therapist2": range(0, 6), "therapist3": range(0, 5),
              "therapist4": (1, 2, 3, 4, 5)}


def load_demo_schedule(users: dict[str, User], now: datetime) -> None:
    """Rooms, working hours, extra hours and a little time off, so suggestions have something to find."""
    db.session.add_all(Room(name=name) for name in ROOMS + DOSING_ROOMS)
    for username, weekdays in WORK_WEEKS.items():
        for weekday in weekdays:
            for starts, ends in ((time(9), time(12, 30)), (time(13, 30), time(17))):
                db.session.add(WorkingHours(clinician_id=users[username].id, weekday=weekday,
                                            starts=starts, ends=ends))
    # therapist3 works Monday to Friday, and covers next Saturday morning as an exception
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    db.session.add(ExtraHours(clinician_id=users["therapist3"].id, starts_at=datetime.combine(saturday, time(9), zone),
                              ends_at=datetime.combine(saturday, time(13), zone), reason="Covering the Saturday clinic"))
    db.session.flush()
    _import_demo_calendar(users["therapist2"], now)


def _import_demo_calendar(therapist: User, now: datetime) -> None:
    """therapist2's outside commitments, imported as a calendar export would bring them: a weekly
    Thursday supervision group, 16:00-17:00, as a repeating event whose third meeting runs to 18:00
    (an override with its own end), and a lunch talk they declined (which does not block)."""
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    thursday = today + timedelta(days=(3 - today.weekday()) % 7)
    calendar = Calendar()
    calendar.add("prodid", "-//Demo//Personal calendar//EN")
    calendar.add("version", "2.0")
    third = datetime.combine(thursday + timedelta(weeks=2), time(16), zone)
    calendar.add_component(_demo_event("demo-supervision@example.invalid", now, "Supervision group",
                                       datetime.combine(thursday, time(16), zone), timedelta(hours=1),
                                       rrule={"freq": "weekly", "count": 12}))
    calendar.add_component(_demo_event("demo-supervision@example.invalid", now, "Supervision group (case day)",
                                       third, timedelta(hours=2), recurrence_id=third))
    talk = _demo_event("demo-lunch-talk@example.invalid", now, "Lunch talk",
                       datetime.combine(thursday + timedelta(days=1), time(12), zone), timedelta(hours=1))
    talk.add("attendee", f"mailto:{therapist.email}", parameters={"PARTSTAT": "DECLINED"})
    calendar.add_component(talk)
    calendar.add_missing_timezones()
    import_busy(therapist, read_upload("personal-calendar.ics", calendar.to_ical(), now=now,
                                       addresses=own_addresses(therapist)), by=therapist)


def _demo_event(uid: str, now: datetime, summary: str, starts: datetime, length: timedelta, **more) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", starts)
    event.add("dtend", starts + length)
    event.add("summary", summary)
    for name, value in more.items():
        event.add(name.replace("_", "-"), value)
    return event


def load_demo_conflict(now: datetime) -> None:
    """A session booked from a suggestion in a window that needs one, then leave entered over its day: one
    to move on the worklist.

    The demo's doses and sessions fall on days that follow the clock. The window is one its course's
    sessions leave uncovered (a session inside two overlapping windows covers both: at some hours of the
    day the newest window was covered already, and the booking showed no window booked ahead); the
    suggestion taken is the best one on a day the course has no session yet (one a day at most, as
    _book_integration keeps them) and its clinician nothing booked (the day's leave leaves one session to
    move, not another course's too)."""
    zone, booked_days = clinic_zone(), {}
    for course in db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase == Phase.EXPERIENCE.value)
                                     .order_by(TreatmentCourse.id)).all():
        pick = _conflict_slot(course, now, zone, booked_days)
        if pick is not None:
            break
    else:
        return
    booked = book_integration_session(course, clinician_id=pick.clinician_id, starts_at=pick.starts_at, minutes=50,
                                      modality="telehealth", by=course.therapist, now=now)
    starts = booked.starts_at.astimezone(zone).replace(hour=0, minute=0)
    db.session.add(TimeOff(clinician_id=booked.clinician_id, starts_at=starts, ends_at=starts + timedelta(days=1),
                           reason="Conference (demo)"))
    db.session.flush()


def _conflict_slot(course: TreatmentCourse, now: datetime, zone, booked_days: dict[int, set[date]]):
    """The best suggestion in the newest window the course's sessions leave uncovered (open now, with two
    days or more left), on a day the course has no session and its clinician nothing booked; None when
    there is none. `booked_days`: each clinician's days with a booking, filled as clinicians come up."""
    appointments = fetch_course_appointments(course.id)
    rows = [r for r in course_windows(course, fetch_dosing_sessions(course.id), integration_sessions(appointments), now)
            if r.needs_booking and r.window.closes > now + timedelta(days=2) and r.window.opens < now]
    if not rows:
        return None
    taken = _session_days(appointments, zone)
    for suggestion in suggest_for_window(course, rows[-1].window, now, limit=None):  # every one, best first
        if suggestion.clinician_id not in booked_days:
            booked_days[suggestion.clinician_id] = _booked_days(suggestion.clinician_id, zone)
        day = suggestion.starts_at.astimezone(zone).date()
        if day not in taken and day not in booked_days[suggestion.clinician_id]:
            return suggestion
    return None


def _session_days(appointments: list[Appointment], zone) -> set[date]:
    """The clinic days of a course's integration sessions still on, held or missed (any with an outcome)."""
    return {a.starts_at.astimezone(zone).date() for a in appointments
            if a.kind == "integration" and (a.status != CANCELLED or a.outcome is not None)}


def _booked_days(clinician_id: int, zone) -> set[date]:
    """The clinic days on which a clinician has a booking with no outcome yet."""
    return {a.starts_at.astimezone(zone).date() for a in db.session.scalars(
        select(Appointment).where(Appointment.clinician_id == clinician_id, Appointment.status == BOOKED))}


def load_demo_courses(users: dict[str, User], patients: list[Patient], now: datetime, rng: random.Random) -> int:
    """Enrol the first 24 demo patients: each protocol in each phase. Returns courses made."""
    load_demo_schedule(users, now)
    made = 0
    users_by_id = {u.id: u for u in users.values()}
    for p_index, protocol_id in enumerate(PROTOCOLS):
        for ph_index, phase in enumerate(PHASE_PLAN):
            patient = patients[p_index * len(PHASE_PLAN) + ph_index]
            # The course's clinicians are the patient's care team.
            team = {m.role: users_by_id[m.user_id] for m in patient.care_team}
            # both nurses are on every care team; they take turns monitoring, patient by patient
            nurses = sorted((m.user_id for m in patient.care_team if m.role == "nurse"))
            team["nurse"] = users_by_id[nurses[(p_index + ph_index) % len(nurses)]]
            _build_course(patient, protocol_id, phase, team, now, rng, ph_index)
            made += 1
    load_demo_conflict(now)
    _file_rems_forms(now)
    return made


def _file_rems_forms(now: datetime) -> None:
    """The clinic files each REMS Patient Monitoring Form within days: every signed session under a
    REMS protocol that ended more than ten days ago had its form submitted two days after it; the
    newer ones stay on the prescribers' worklist, due or just overdue."""
    zone = clinic_zone()
    sessions = db.session.scalars(select(DosingSession).where(
        DosingSession.status == SIGNED, DosingSession.rems_submitted_on.is_(None),
        DosingSession.ended_at < now - timedelta(days=10)).order_by(DosingSession.id)).all()
    for session in sessions:
        if course_protocol(session.course).experience.rems_monitoring_form:
            mark_rems_submitted(session, on=(session.ended_at.astimezone(zone) + timedelta(days=2)).date(),
                                by=session.signed_by, today=now.astimezone(zone).date())


def _build_course(patient, protocol_id, phase, team: dict[str, User], now, rng, variant) -> TreatmentCourse:
    therapist, prescriber = team["therapist"], team["prescriber"]
    zone = clinic_zone()
    protocol_sessions = _series_length(protocol_id)
    done, hours_since_last = _shape(protocol_id, phase, protocol_sessions, variant)
    last_start = _office_hour_before(now - timedelta(hours=hours_since_last) - timedelta(minutes=40))
    first_start = shift(last_start, Span(-_offsets(protocol_id)[done - 1], "d"), zone) if done else \
        _office_hour_before(now + timedelta(days=3))
    start_date = (first_start - timedelta(days=14)).astimezone(zone).date()

    def enrol() -> TreatmentCourse:
        return enrol_patient(patient, protocol_key=(protocol_id, newest_version(protocol_id)),
                             start_date=start_date,
                             indication=INDICATIONS[variant % len(INDICATIONS)], therapist_id=therapist.id,
                             prescriber_id=prescriber.id, by=therapist)
    if phase is Phase.PREPARATION:
        course = enrol()
        _record_some_preparation(course, therapist, start_date, measured=protocol_id in ("iv-ketamine-induction", "sublingual-ketamine-kap"))
        return course
    if phase is Phase.DISCONTINUED:
        course = enrol()
        _complete_preparation(course, therapist, prescriber, start_date)
        _move(course, Phase.EXPERIENCE, therapist)
        _move(course, Phase.DISCONTINUED, prescriber,
              reason="Patient chose to stop after the first session; referred back to primary care.")
        return course
    enrolled = datetime.combine(start_date, time(9), zone)
    moments = {"preparation": enrolled, "experience": enrolled + timedelta(days=10)}
    with _dated_history(moments):
        course = enrol()
        _complete_preparation(course, therapist, prescriber, start_date,
                              screen_positive=protocol_id == "iv-ketamine-induction" and phase is Phase.INTEGRATION,
                              at_home=AT_HOME_COURSE == (protocol_id, phase))
        _move(course, Phase.EXPERIENCE, prescriber)
        count = protocol_sessions if phase is not Phase.EXPERIENCE else done + 2
        first_start = plan_clash_free(course, first_start, _segments(protocol_id, count), prescriber,
                                       long_past=phase is not Phase.EXPERIENCE,
                                       at_home=AT_HOME_COURSE == (protocol_id, phase))
        ended = first_start + timedelta(days=_offsets(protocol_id)[-1])
        moments.update(integration=ended + timedelta(days=1), maintenance=ended + timedelta(days=30),
                       completed=ended + timedelta(days=90))
        for session in fetch_dosing_sessions(course.id)[:done]:
            record_and_sign(session, protocol_id, prescriber, team["nurse"], rng)
        _book_integration(course, therapist, skip_latest=phase is Phase.EXPERIENCE)
        for target in (Phase.INTEGRATION, Phase.MAINTENANCE, Phase.COMPLETED):
            if PHASE_PLAN.index(target) > PHASE_PLAN.index(phase):
                break
            _move(course, target, therapist, reason="Maintenance goals met; the patient and the team agreed "
                                                   "to end the course." if target.ended else None)
            if target is Phase.INTEGRATION:
                book_after_series(course, therapist, now, ahead=(protocol_id, phase) == BOOKED_AHEAD)
    course.phase_since = course.transitions[-1].occurred_at
    return course


def _offsets(protocol_id: str) -> list[int]:
    """Days from the first dosing session to each one of the demo series (each stage's gap comes
    before each of its sessions: the first weekly dose is a week after the last twice-weekly one)."""
    offsets = []
    for sessions, gap in SERIES[protocol_id]:
        for _ in range(sessions):
            offsets.append(offsets[-1] + gap if offsets else 0)
    return offsets


def _segments(protocol_id: str, count: int) -> list[tuple[int, int, int]]:
    """(days from the first session, sessions, days between) of each stage's plan, for the first
    `count` sessions of the series."""
    offsets, segments, used = _offsets(protocol_id), [], 0
    for sessions, gap in SERIES[protocol_id]:
        planned = min(sessions, count - used)
        if planned > 0:
            segments.append((offsets[used], planned, gap))
        used += sessions
    return segments


@contextmanager
def _dated_history(moments: dict[str, datetime]):
    """Demo only: give the invented history plausible dates instead of the moment of loading.

    Real transitions and checklist entries are stamped by the services when they happen, and
    the database refuses any later change to them (migration 0016): nothing in the application
    can backdate them. This fabricated clinic can, because it is fiction, so it dates each row
    as it is inserted: a transition at `moments[phase]` (the caller adds later phases once
    their dates are known), a checklist entry at 17:00 on the day it was completed, a measure
    entered at noon on the day it was completed (an intake measure is entered before the first
    dose, so it is the course's baseline: notes/baselines.py).
    """
    zone = clinic_zone()

    def date_transition(mapper, connection, transition: PhaseTransition) -> None:
        transition.occurred_at = moments[transition.to_phase]

    def date_record(mapper, connection, record: PreparationRecord) -> None:
        record.recorded_at = datetime.combine(record.completed_on, time(17), zone)
        store_digest(record)  # whichever insert listener ran first, the digest hashes this date
    def date_measure(mapper, connection, response: MeasureResponse) -> None:
        response.created_at = datetime.combine(response.administered_on, time(12), zone)
        store_digest(response)
    listeners = ((PhaseTransition, date_transition), (PreparationRecord, date_record),
                 (MeasureResponse, date_measure))
    for model, listener in listeners:
        event.listen(model, "before_insert", listener)
    try:
        yield
    finally:
        for model, listener in listeners:
            event.remove(model, "before_insert", listener)


def _office_hour_before(instant: datetime) -> datetime:
    """The latest whole hour from 8:00 to 17:00 clinic time at or before `instant`.

    At most 15 hours earlier (overnight), which every shape in EXPERIENCE_SHAPES allows for.
    """
    local = instant.astimezone(clinic_zone()).replace(minute=0, second=0, microsecond=0)
    while not 8 <= local.hour <= 17:
        local = (local.replace(tzinfo=None) - timedelta(hours=1)).replace(tzinfo=local.tzinfo)
    return local.astimezone(instant.tzinfo)


def _series_length(protocol_id: str) -> int:
    return sum(sessions for sessions, _gap in SERIES[protocol_id])


def _shape(protocol_id: str, phase: Phase, series: int, variant: int) -> tuple[int, float]:
    if phase is Phase.EXPERIENCE:
        return EXPERIENCE_SHAPES[protocol_id]
    if phase in (Phase.PREPARATION, Phase.DISCONTINUED):
        return 0, 0
    # integration: finished ~10 days ago; maintenance ~6 weeks; completed ~4 months
    return series, {Phase.INTEGRATION: 10, Phase.MAINTENANCE: 42, Phase.COMPLETED: 120}[phase] * 24 + variant


def _move(course, target: Phase, by: User, reason: str | None = None) -> None:
    change_phase(course, target, by=by, expected_version=course.version, reason=reason, override=False)


def _record_some_preparation(course, therapist, start_date, *, measured: bool) -> None:
    """The baseline PHQ-9 measured on some courses and visibly missing on the others (a baseline is a
    measurement, never a tick). Intake and consent are the packet's signed forms (demo/forms.py)."""
    if measured:
        record_baselines(course, therapist, start_date, phq9_only=True)


def _complete_preparation(course, therapist, prescriber, start_date, *, screen_positive: bool = False,
                          at_home: bool = False) -> None:
    """Baselines measured, the packet signed (intake and consent: issue 26), the ticked items recorded
    (medical clearance), and the preparation sessions the protocol asks for written up and signed:
    they meet the intention, set-and-setting and support-person items (issue 20, point 10)."""
    protocol = course_protocol(course)
    record_baselines(course, therapist, start_date, prescriber=prescriber, screen_positive=screen_positive)
    sign_before_first_dose(course, therapist, prescriber, start_date, screen_positive=screen_positive,
                           at_home=at_home)
    for key, _label in recordable_items(protocol):
        by = prescriber if key == "medical_clearance" else therapist
        record_preparation(course, item=key, completed_on=start_date, note="Demo record", by=by,
                           today=start_date + timedelta(days=10))
    for n in range(max(protocol.preparation.min_signed_sessions, 1)):
        sign_preparation_note(course, therapist, start_date + timedelta(days=2 + n), second=n > 0)


def _book_integration(course, therapist: User, *, skip_latest: bool) -> None:
    """An integration session a day and a half after each signed dosing session in the past, one a
    day at most (doses two days apart over a weekend would put two on the Monday), every other one
    in person in a therapy room (a dosing suite is kept for dosing)."""
    signed = [s for s in fetch_dosing_sessions(course.id) if s.status == "signed"]
    if skip_latest:
        signed = signed[:-1]  # the newest window stays uncovered: the staff worklist's job
    zone, next_day = clinic_zone(), None
    for session in signed:
        after = session.ended_at + timedelta(hours=36)
        if next_day is not None:
            after = max(after, datetime.combine(next_day, time(0), zone))
        starts = _free_hour(therapist, course.patient_id, after)
        room = first_free_room(starts, starts + timedelta(minutes=50), among=ROOMS) \
            if session.sequence % 2 == 0 else None
        book_integration_session(course, clinician_id=therapist.id, starts_at=starts, minutes=50,
                                 modality="in_person" if room else "telehealth", room_id=room.id if room else None,
                                 by=therapist, now=starts - timedelta(days=1))  # booked the day before
        next_day = starts.astimezone(zone).date() + timedelta(days=1)
    db.session.flush()


def _free_hour(therapist: User, patient_id: int, after: datetime) -> datetime:
    """The therapist's first free slot (working hours, time off and bookings respected) after `after`."""
    slots = free_slots(therapist.id, patient_id, Interval(after, after + timedelta(days=10)), timedelta(minutes=50))
    if not slots:
        raise RuntimeError("no free slot for the demo booking within ten days")
    return slots[0]