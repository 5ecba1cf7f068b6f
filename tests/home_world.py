"""A clinic whose home pages each have their day and something waiting (issue 21, point 1), built through
the services, for the integration and the browser tests:

- "Closing": a dose signed 13 days ago whose 14-day window closes within 48 hours, nothing booked;
- "Today": a dose signed four days ago, its integration session with the therapist today, a dose planned
  two days ago never recorded (overdue) and the next one planned for tomorrow (a nurse on the team);
- a routine note from the therapist the prescriber answered with a reply, an urgent one waiting on the
  prescriber, a note from the prescriber waiting on the therapist, and a draft with something written.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import Room, WorkingHours
from ketamine_integration.coordination import services as coordination
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.types import utcnow
from ketamine_integration.experience.services import plan_series, save_record, sign
from ketamine_integration.extensions import db
from ketamine_integration.notes.services import create_note
from ketamine_integration.scheduling.services import book_integration_session
from tests.conftest import todays_world
from tests.factories import DISCHARGE_MET

NY = ZoneInfo("America/New_York")
URGENT = "Item 9 answered 1 on today's PHQ-9: passive thoughts, no plan. Could you see her before the next dose?"
REPLY = "Good to hear. Keep the current spacing."


def at(days_from_today: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(NY).date() + timedelta(days=days_from_today)
    return datetime.combine(day, time(hour, minute), NY)


def home_world(make) -> dict:
    """The users, the clinic, and the first "Closing" and "Today" patients (more: add_patients)."""
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "other_therapist": make.user("therapist", username="ther2", full_name="Ivo Second"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "nurse": make.user("nurse", username="nurse", full_name="Mira Nurse"),
           "staff": make.user("staff", username="desk", full_name="Dana Whitlow")}
    make.run(lambda: _clinic(ids))
    ids.update(add_patients(make, ids, 0))
    return ids


def reused_home_world(make) -> dict:
    """home_world(make), built once per engine per worker (per clinic day: its times are today's) and
    loaded from its snapshot by the tests after (tests.conftest.reused_world)."""
    return todays_world(make.app, "home_world", lambda: home_world(make))


def grown_home_world(make) -> dict:
    """reused_home_world with two more pairs of patients (add_patients 1 and 2), built and kept the same
    way: the count tests' larger clinic. The ids of the first world (what the tests sign in and read)."""
    ids = reused_home_world(make)

    def grow() -> dict:
        reused_home_world(make)  # what the caller did meanwhile (its sign-ins, its pages' audit rows) left out
        for n in (1, 2):
            add_patients(make, ids, n)
        return ids
    return todays_world(make.app, "home_world_grown", grow)


def _clinic(ids: dict) -> None:
    # the therapist works around the clock, so a time is free whenever the test runs
    db.session.add_all(WorkingHours(clinician_id=ids["therapist"], weekday=d, starts=time(0), ends=time(23, 59))
                       for d in range(7))
    db.session.add(Room(name="Dosing Suite"))


def add_patients(make, ids: dict, n: int) -> dict:
    """The n-th pair of patients, "Closing" and "Today" (their times n times 3 hours later, so that
    the prescriber's doses and the therapist's sessions never clash); their ids."""
    suffix = str(n) if n else ""
    made = {"closing_patient": make.patient(given_name="Cleo", family_name=f"Closing{suffix}", nurses=[ids["nurse"]]),
            "today_patient": make.patient(given_name="Tate", family_name=f"Today{suffix}", nurses=[ids["nurse"]])}
    made["closing"] = make.course(made["closing_patient"], ids["therapist"], ids["prescriber"], phase="experience")
    made["today"] = make.course(made["today_patient"], ids["therapist"], ids["prescriber"], phase="experience")
    make.run(lambda: _arrange(ids, made, n))
    return made


def _arrange(ids: dict, made: dict, n: int) -> None:
    therapist, prescriber = (db.session.get(User, ids[k]) for k in ("therapist", "prescriber"))
    room = db.session.scalar(select(Room).where(Room.name == "Dosing Suite"))
    closing, today = (db.session.get(TreatmentCourse, made[k]) for k in ("closing", "today"))
    hour = 9 + 3 * n
    sign_dose(closing, prescriber, at(-13, hour), room)
    sign_dose(today, prescriber, at(-4, hour), room)
    starts = at(0, n, 30)  # today, whatever the hour: booked the day before
    made["todays_session"] = book_integration_session(
        today, clinician_id=therapist.id, starts_at=starts, minutes=50, modality="telehealth", by=therapist,
        now=starts - timedelta(days=1)).id
    [overdue] = plan_series(today, first_start=at(-2, hour), days_between=2, count=1, reason=None,
                            clinician_id=prescriber.id, room_id=room.id, by=prescriber)
    [tomorrow] = plan_series(today, first_start=at(1, hour), days_between=3, count=1, reason=None,
                             clinician_id=prescriber.id, room_id=room.id, by=prescriber)
    made["overdue_dose"], made["tomorrows_dose"] = overdue.id, tomorrow.id
    on = datetime.now(NY).date()
    answered = coordination.send_note(today, recipient_id=prescriber.id, priority="routine", category="response",
                                      body="Sleeping better, walking daily.", by=therapist, today=on)
    coordination.acknowledge_note(answered, reply=REPLY, by=prescriber, now=utcnow())
    made["answered_note"] = answered.id
    made["urgent_note"] = coordination.send_note(today, recipient_id=prescriber.id, priority="urgent",
                                                 category="safety", body=URGENT, by=therapist, today=on).id
    made["note_to_therapist"] = coordination.send_note(
        closing, recipient_id=therapist.id, priority="routine", category="scheduling",
        body="Could the next integration session be in the morning?", by=prescriber, today=on).id
    draft = create_note(closing, kind="integration", session_date=on - timedelta(days=3), by=therapist, today=on)
    draft.content = {"insights": "Started, to finish"}
    made["draft"] = draft.id


def sign_dose(course: TreatmentCourse, prescriber: User, start: datetime, room: Room):
    """Plan one IV dose at `start` and record and sign it (40 minutes, discharged 90 minutes later)."""
    [session] = plan_series(course, first_start=start, days_between=2, count=1, reason=None,
                            clinician_id=prescriber.id, room_id=room.id, by=prescriber)
    vitals = {tp: {"systolic": 125, "diastolic": 80, "heart_rate": 70, "spo2": 98}
              for tp in ("baseline", "post_40", "discharge")}
    save_record(session, values=dict(
        started_at=start, ended_at=start + timedelta(minutes=40), route="iv", medication="ketamine", dose_mg=35,
        weight_kg=70, lot_number="L1", administered_by_id=prescriber.id, monitored_by_id=prescriber.id,
        sedation="mild", dissociation="mild", concomitant_sedating_medications=None,
        discharged_at=start + timedelta(minutes=130), ready_to_leave_at=None,
        vitals_acceptable_before_dosing=None, vitals_acceptable_before_discharge=None),
        vitals=vitals, adverse_events=[], expected_version=session.version, by=prescriber,
        discharge_checks=DISCHARGE_MET)
    sign(session, by=prescriber, expected_version=session.version)
    return session
