"""One seeded clinic for the security matrices: two care teams, every kind of record on each
patient, and a snapshot of every table to prove a request changed nothing.

Records are made through the real services (as the demo clinic is), in one app context, so a
matrix seeds once per engine and then sends hundreds of requests at the same database.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketamine_integration.extensions import db
from tests.conftest import todays_world
from tests.security.invariants import BOOKKEEPING
from tests.factories import DISCHARGE_MET, sign_dosing_forms

NY = ZoneInfo("America/New_York")
#: the REMS protocol, so a signed dosing session also has its Patient Monitoring Form (rems.pdf)
PROTOCOL = "esketamine-trd-rems"
#: the form each patient signed on the clinic tablet (its "read and understood" answered no: flagged)
SIGNED_FORM = "consent-intranasal-esketamine"
#: a form of the world's packets waiting for the patient's signature again (withdrawn), signed in the portal
WAITING_FORM = "agreement-transport-no-driving"
#: written into every outside patient's records: no refused response may contain it
OUTSIDE_MARKER = "Zzoutside"
PROCESS_SECRET = "Process secret: the outside therapist's countertransference"
#: an id no table reaches in a test database (and inside the <id:...> converter's range)
MISSING_ID = 2_000_000_000
#: tables a request may legitimately write whatever it is (the same bookkeeping the fuzzing
#: suite allows)
ALWAYS_WRITTEN = BOOKKEEPING

ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Fictional//Matrix test//EN\r
BEGIN:VEVENT\r
UID:supervision-1@fictional.invalid\r
DTSTAMP:20250101T000000Z\r
DTSTART:%(start)s\r
DTEND:%(end)s\r
SUMMARY:Supervision group\r
END:VEVENT\r
END:VCALENDAR\r
"""


@dataclass
class Team:
    therapist: int
    prescriber: int


@dataclass
class World:
    """Ids of everything seeded. `records[patient_id][kind]` lists that patient's records."""
    users: dict[str, int]                      # role key -> user id
    usernames: dict[str, str]                  # role key -> username
    inside: int                                # the patient the signed-in users treat
    outside: list[int]                         # patients on another care team
    records: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    #: clinician id -> their own records (hours, time off, extra hours, feeds)
    clinician_rows: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    clinic: dict[str, list[int]] = field(default_factory=dict)   # rooms, themes
    #: clinician id -> {"live": secret, "revoked": secret} of their feeds
    feed_tokens: dict[int, dict[str, str]] = field(default_factory=dict)
    #: a note the inside therapist wrote on an outside patient before leaving that care team
    former_note: int = 0
    #: the inside patient's own portal account (accepted, enrolled with the factory's authenticator)
    portal_account: int = 0


def local(days: float, hour: int = 9) -> datetime:
    """A clinic-local time `days` from today (negative: in the past)."""
    day = (datetime.now(NY) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=NY)


def seed_world(make, *, outside_patients: int = 1) -> World:
    """Users of every role, patient A (their care team) and `outside_patients` patients on
    another care team, each with a record of every kind."""
    users = {"admin": make.user("admin"), "staff": make.user("staff"),
             "therapist": make.user("therapist", email="ther.inside@fictional.invalid"),
             "prescriber": make.user("prescriber", email="pres.inside@fictional.invalid"),
             "b_therapist": make.user("therapist", email="ther.outside@fictional.invalid"),
             "b_prescriber": make.user("prescriber"),
             "nurse": make.user("nurse", email="nurse.inside@fictional.invalid")}
    usernames = make.query(lambda: _usernames(users))
    inside = make.patient(given_name="Insidea", family_name="Fictional",
                          therapists=[users["therapist"]], prescribers=[users["prescriber"]],
                          nurses=[users["nurse"]])
    outside = [make.patient(given_name="Outsida", family_name=f"{OUTSIDE_MARKER}{n}",
                            therapists=[users["b_therapist"]], prescribers=[users["b_prescriber"]])
               for n in range(outside_patients)]
    world = World(users=users, usernames=usernames, inside=inside, outside=outside)
    world.clinic = make.run(_seed_clinic)
    theme = world.clinic["theme"][0]
    room = world.clinic["room"][0]
    for n, patient in enumerate([inside, *outside]):
        team = Team(users["therapist"], users["prescriber"]) if patient == inside \
            else Team(users["b_therapist"], users["b_prescriber"])
        # Each patient's dosing sessions at their own time, so one room and one prescriber hold them all.
        marker = "Inside" if patient == inside else OUTSIDE_MARKER
        world.records[patient] = make.run(lambda: _seed_patient(patient, team, room, theme, hour=7 + 3 * (n % 4),
                                                                days_back=3 + n // 4, marker=marker))
    world.former_note = make.run(lambda: _note_by_former_member(outside[0], users["therapist"]))
    world.portal_account = make.portal_account(inside)
    for key in ("therapist", "prescriber", "b_therapist", "b_prescriber"):
        rows, tokens = make.run(lambda: _seed_clinician(users[key]))
        world.clinician_rows[users[key]], world.feed_tokens[users[key]] = rows, tokens
    return world


def shared_world(make, *, outside_patients: int = 1) -> World:
    """seed_world's clinic, built once per engine, worker, clinic day and number of outside patients, then
    loaded from its snapshot (tests.conftest.reused_world): the CSRF, IDOR and portal matrices all start
    from the same one, and each gets its own copy of the ids (a matrix may not change another's)."""
    return todays_world(make.app, f"security-world-{outside_patients}",
                        lambda: seed_world(make, outside_patients=outside_patients))


def _usernames(users: dict[str, int]) -> dict[str, str]:
    from ketamine_integration.accounts.models import User
    return {key: db.session.get(User, uid).username for key, uid in users.items()}


def _seed_clinic() -> dict[str, list[int]]:
    from ketamine_integration.notes.models import Theme
    from ketamine_integration.bookings.models import Room
    rooms = [Room(name="Matrix Suite"), Room(name="Matrix Annex")]
    themes = [Theme(name="Safety in the body"), Theme(name="Not enough")]
    db.session.add_all(rooms + themes)
    db.session.flush()
    return {"room": [r.id for r in rooms], "theme": [t.id for t in themes]}


def _seed_patient(patient_id: int, team: Team, room_id: int, theme_id: int, *, hour: int, days_back: int,
                  marker: str) -> dict[str, list[int]]:
    """A course in its experience phase with one signed and one planned dosing session, a
    booked integration session, a signed note (theme, step, process note), a draft note, the
    formulation, a signed safety plan, a PHQ-9 whose item 9 raised an alert, a release, a coordination note
    and a report."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.coordination import services as coordination
    from ketamine_integration.courses.services import change_phase, enrol_patient, record_preparation
    from ketamine_integration.domain.phases import Phase
    from ketamine_integration.experience.services import plan_series
    from ketamine_integration.notes import services as notes
    from ketamine_integration.notes.models import SafetyAlert
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.scheduling.services import book_integration_session

    therapist, prescriber = db.session.get(User, team.therapist), db.session.get(User, team.prescriber)
    patient = db.session.get(Patient, patient_id)
    today, now = local(0).date(), datetime.now(NY)
    course = enrol_patient(patient, protocol_key=(PROTOCOL, 3), start_date=today - timedelta(days=20),
                           indication="Treatment-resistant depression", therapist_id=therapist.id,
                           prescriber_id=prescriber.id, by=therapist)
    prep = record_preparation(course, item="medical_clearance", completed_on=today - timedelta(days=19),
                              note=f"{marker} clearance", by=prescriber, today=today)
    sign_dosing_forms(course, witness=therapist)  # no dose is planned before them, whatever the override
    change_phase(course, Phase.EXPERIENCE, by=therapist, expected_version=course.version,
                 reason="Test setup: gate overridden on purpose.", override=True)
    signed, planned = plan_series(course, first_start=local(-days_back, hour), days_between=4, count=2, reason=None,
                                  clinician_id=prescriber.id, room_id=room_id, by=prescriber)
    _record_and_sign(signed, prescriber)
    # three hours after the planned dose tomorrow: its booking holds REMS monitoring (150 minutes)
    appointment = book_integration_session(course, clinician_id=therapist.id, starts_at=local(1, hour + 3),
                                           minutes=50, modality="telehealth", by=therapist, now=now)
    note = _signed_note(course, therapist, theme_id, signed.id, today, marker)
    notes.save_process_note(note, body=PROCESS_SECRET if marker == OUTSIDE_MARKER else "Own reflections",
                            by=therapist, expected_version=None)
    draft = notes.create_note(course, kind="integration", session_date=today, by=therapist, today=today)
    notes.save_formulation(course, content={"presenting_concerns": f"{marker} low mood"}, by=therapist,
                           expected_revision=0)
    plan = _signed_safety_plan(patient, therapist, marker)
    measure = notes.record_measure(course, measure="phq9", answers=[2, 2, 1, 1, 1, 1, 1, 1, 1], difficulty="somewhat",
                                   administered_on=today, by=therapist, today=today)
    alert = db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.measure_response_id == measure.id))
    release = coordination.create_release(patient, recipient_user_id=prescriber.id, recipient_name=None,
                                          categories=["dosing", "measures", "attendance", "safety"],
                                          purpose="Coordination of ketamine treatment",
                                          effective_on=today - timedelta(days=20), expires_on=None, by=therapist)
    message = coordination.send_note(course, recipient_id=prescriber.id, priority="routine", category="response",
                                     body=f"{marker}: sleeping better.", by=therapist, today=today)
    report = coordination.generate_report(course, recipient_id=prescriber.id, by=therapist, now=now, today=today,
                                          questions="Keep the spacing?", recommendations=None)
    assignment = _practice_with_a_log(course, therapist, note, today, marker)
    entry = _private_journal_entry(patient, signed, marker)
    plans = _treatment_plan(course, therapist, today, marker)
    ended, summary, copy = _discharged_course(patient, therapist, prescriber, today, marker)
    # last: its flagged answer, still to be reviewed, stops dosing from now on
    consent = _signed_consent(course, therapist)
    return {"plan": plans, "journal_entry": [entry], "patient": [patient.id], "course": [course.id], "prep": [prep.id], "dosing": [signed.id, planned.id],
            "assignment": [assignment],
            "appointment": [appointment.id, *[a.id for a in _dosing_bookings(course.id)]],
            "note": [note.id, draft.id], "step": [s.id for s in note.new_steps], "measure": [measure.id],
            "alert": [alert], "release": [release.id], "coord_note": [message.id], "report": [report.id],
            "ended_course": [ended], "discharge": [summary], "discharge_copy": [copy],
            "safety_plan": [plan], "signed_form": [consent]}


def _discharged_course(patient, therapist, prescriber, today: date, marker: str) -> tuple[int, int, int]:
    """An earlier course of the patient, discontinued, with its signed discharge summary and the copy
    sent to the prescriber under the release."""
    from ketamine_integration.courses.services import change_phase, enrol_patient
    from ketamine_integration.discharge import services as discharge
    from ketamine_integration.discharge.content import WRITTEN
    from ketamine_integration.discharge.document import render_copy
    from ketamine_integration.domain.phases import Phase
    course = enrol_patient(patient, protocol_key=(PROTOCOL, 3), start_date=today - timedelta(days=200),
                           indication="Treatment-resistant depression", therapist_id=therapist.id,
                           prescriber_id=prescriber.id, by=therapist)
    change_phase(course, Phase.DISCONTINUED, by=therapist, expected_version=course.version,
                 reason="Test setup: the patient stopped the course.", override=False)
    summary = discharge.start_summary(course, by=therapist)
    discharge.save_summary(summary, written={w.key: f"{marker} discharge text" for w in WRITTEN}, by=therapist,
                           expected_version=summary.version)
    discharge.sign_summary(summary, by=therapist, expected_version=summary.version)
    copy = discharge.send_copy(summary, recipient_id=prescriber.id, by=therapist, today=today, render=render_copy)
    return course.id, summary.id, copy.id



def _signed_consent(course, therapist) -> int:
    """The protocol's consent signed again on the clinic tablet, the therapist witnessing, with one flagged
    answer for the prescriber to review. The forms dosing needs were signed before the doses were planned (no
    dose is planned before them); the patient then withdrew the consent, signed here again, and the transport
    agreement, which waits for their signature in the portal (portal_world), as the packet's other forms do."""
    from ketamine_integration.signed_forms.services import packet_status, sign_form, withdraw
    from ketamine_integration.domain.form_answers import sample_answers
    status = packet_status(course)
    for form_id in (SIGNED_FORM, WAITING_FORM):
        withdraw(status.item(form_id).signed, reason="Told the therapist: wants to think it over.",
                 recorded_by=therapist)
    form = status.item(SIGNED_FORM).form
    signed = sign_form(course, SIGNED_FORM, raw_answers=sample_answers(form, flagged=("read_and_understood",)),
                       typed_name=course.patient.full_name, agreed=True, method="in_clinic", witness=therapist)
    return signed.id


def _signed_safety_plan(patient, therapist, marker: str) -> int:
    """The patient's safety plan, signed (its warning sign carries the marker)."""
    from ketamine_integration.safety_plans import services as safety_plans
    plan = safety_plans.save_draft(patient, content={
        "warning_signs": [f"{marker} warning sign"], "coping_strategies": ["Walk by the river"],
        "professionals": [{"name": "988 Suicide & Crisis Lifeline", "phone": "988"}]}, by=therapist, expected=0)
    safety_plans.sign(plan, by=therapist)
    return plan.id


def _practice_with_a_log(course, therapist, note, today: date, marker: str) -> int:
    """A practice assigned to the course, logged once by the patient (with what got in the way), and
    the patient's check-in on the signed note's step."""
    from ketamine_integration.notes.patient_check_ins import check_in_on_step
    from ketamine_integration.practices.patient import log_practice
    from ketamine_integration.practices.services import assign_practice
    assignment = assign_practice(course, practice_key="movement", times=3, per="week", starts_on=today - timedelta(days=5),
                                 ends_on=today + timedelta(days=20), instructions=f"{marker} walk", by=therapist,
                                 today=today)
    now = datetime.now(NY)
    log_practice(course.patient, assignment.id, "partly", today, f"{marker} obstacle", now)
    check_in_on_step(course.patient, note.new_steps[0].id, "not", today, f"{marker} step obstacle", now)
    return assignment.id


def _treatment_plan(course, therapist, today: date, marker: str) -> list[int]:
    """The course's treatment plan: revision 1 signed (its stage recorded), and revision 2 a draft."""
    from ketamine_integration.plans import services as plans
    plan = plans.start_revision(course, by=therapist)
    later = today + timedelta(days=30)
    plans.save_plan(plan, by=therapist, expected_version=plan.version, today=today,
                    content={"problems_patient": f"{marker} low mood", "goals": [f"{marker} goal"]},
                    objectives=[{"goal": "1", "target": f"{marker} walks", "criterion": "3 a week", "by_when": later,
                                 "mechanism": "activation", "measure": "phq9"}],
                    techniques=[{"technique": "behavioural-activation", "rationale": f"{marker} inertia"}],
                    pathway="common_factors", host_theory="cbt", stage="stabilise", review_on=later, no_change=False)
    plans.sign_plan(plan, by=therapist, expected_version=plan.version, today=today)
    return [plan.id, plans.start_revision(course, by=therapist).id]


def _private_journal_entry(patient, dose, marker: str) -> int:
    """The patient's private journal entry about the signed dose, written as the portal writes it."""
    from ketamine_integration.journal.services import write_entry
    entry = write_entry(patient, prompt="stood_out", text=f"{marker} journal entry", now=datetime.now(NY),
                        dosing_session_id=dose.id)
    return entry.id


def _note_by_former_member(patient_id: int, therapist_id: int) -> int:
    """A covering therapist writes a note (and process notes) on the patient, then leaves the
    care team: from then on the patient is outside their care team, their own notes included."""
    from ketamine_integration.accounts.models import THERAPIST, User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.notes import services as notes
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.patients.care_team import add_to_care_team
    patient, therapist, today = db.session.get(Patient, patient_id), db.session.get(User, therapist_id), local(0).date()
    add_to_care_team(patient, therapist, THERAPIST, by=None, reason="test setup: a covering therapist")
    course = db.session.scalar(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id))
    note = notes.create_note(course, kind="integration", session_date=today, by=therapist, today=today)
    notes.save_process_note(note, body=PROCESS_SECRET, by=therapist, expected_version=None)
    patient.care_team = [m for m in patient.care_team if m.user_id != therapist_id]
    db.session.flush()
    return note.id


def _dosing_bookings(course_id: int):
    from ketamine_integration.bookings.models import Appointment
    return db.session.scalars(select(Appointment).where(Appointment.course_id == course_id,
                                                        Appointment.kind == "dosing")).all()


def _record_and_sign(session, prescriber) -> None:
    from ketamine_integration.experience.models import VITAL_TIMEPOINTS
    from ketamine_integration.experience.services import save_record, sign
    start = session.planned_start
    values = dict(started_at=start, ended_at=start + timedelta(minutes=15), route="intranasal",
                  medication="esketamine", dose_mg=56, weight_kg=None, lot_number="LOT-MATRIX",
                  administered_by_id=prescriber.id, monitored_by_id=prescriber.id, sedation="mild",
                  dissociation="moderate", concomitant_sedating_medications="none",
                  discharged_at=start + timedelta(minutes=120),
                  ready_to_leave_at=start + timedelta(minutes=90), vitals_acceptable_before_dosing=True,
                  vitals_acceptable_before_discharge=True)
    vitals = {tp: {"systolic": 128, "diastolic": 80, "heart_rate": 70, "spo2": 98} for tp in VITAL_TIMEPOINTS}
    save_record(session, values=values, vitals=vitals, adverse_events=[], expected_version=session.version,
                by=prescriber, discharge_checks=DISCHARGE_MET)
    sign(session, by=prescriber, expected_version=session.version)


def _signed_note(course, therapist, theme_id: int, dosing_id: int, today: date, marker: str):
    from ketamine_integration.notes import services as notes
    note = notes.create_note(course, kind="integration", session_date=today, by=therapist, today=today)
    notes.save_note(
        note, by=therapist, expected_version=note.version, today=today, session_date=today,
        content={"stood_out": f"{marker} stood out", "emotions": "Relief", "imagery": None, "surprises": None,
                 "meaningful": "Feeling accompanied", "insights": f"{marker} insight", "core_beliefs": None,
                 "connections_present": None, "connections_past": None, "practices": ["journaling"],
                 "practices_note": None, "challenges": [], "challenges_note": None, "host_theory": "act",
                 "self_harm_thoughts": "no", "safety_plan_reviewed": "no", "risk_notes": None,
                 "next_session_plan": "Review the step", "techniques": []},
        themes=[{"theme_id": theme_id, "free_theme": None, "patient_words": "my chest unclenched"}],
        new_steps=[{"what": "Walk by the river", "how_often": "3 times a week", "starts_on": today,
                    "review_on": today + timedelta(days=14), "linked_insight": None,
                    "success_criterion": "Three walks a week"}],
        check_ins=[], dosing_ids=[dosing_id])
    notes.sign_note(note, by=therapist, expected_version=note.version)
    return note


def _seed_clinician(user_id: int) -> tuple[dict[str, list[int]], dict[str, str]]:
    """A clinician's weekly hours (a Sunday block no booking meets), time off and extra hours a
    month out, an imported calendar and two feeds (one revoked)."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.calendars import services as calendars
    from ketamine_integration.bookings.models import ExtraHours, TimeOff, WorkingHours
    user, now = db.session.get(User, user_id), datetime.now(NY)
    hours = WorkingHours(clinician_id=user_id, weekday=6, starts=time(7, 0), ends=time(8, 0))
    off = TimeOff(clinician_id=user_id, starts_at=local(40), ends_at=local(41), reason="Conference")
    extra = ExtraHours(clinician_id=user_id, starts_at=local(45, 10), ends_at=local(45, 14), reason="Cover")
    db.session.add_all([hours, off, extra])
    start = local(30, 15).astimezone(ZoneInfo("UTC"))
    ics = ICS % {b"start": start.strftime("%Y%m%dT%H%M%SZ").encode(),
                 b"end": (start + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ").encode()}
    imported = calendars.import_busy(user, calendars.read_upload("other.ics", ics, now=now), by=user)
    live, live_token = calendars.create_feed(user, "phone")
    revoked, revoked_token = calendars.create_feed(user, "old tablet")
    calendars.revoke_feed(revoked, now)
    db.session.flush()
    rows = {"hours": [hours.id], "time_off": [off.id], "extra": [extra.id], "feed": [live.id, revoked.id],
            "import": [imported.id]}
    return rows, {"live": live_token, "revoked": revoked_token}


# -- what the database holds, to prove a request changed nothing -----------------------------

def snapshot(app, *, skip: frozenset[str] = ALWAYS_WRITTEN) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows (every column), read outside any request
    on a connection of its own (plain SQL: this runs after every request a matrix sends)."""
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables if t.name not in skip]
        connection = db.engine.raw_connection()
    try:
        cursor, result = connection.cursor(), {}
        for name in tables:
            cursor.execute(f'SELECT * FROM "{name}"')
            rows = sorted(map(repr, cursor.fetchall()))
            result[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        connection.rollback()
        return result
    finally:
        connection.close()

