"""Demo documentation: weeks of fictional integration notes with recurring themes, action
steps and their check-ins, PHQ-9 and GAD-7 series after the intake baselines with responders
and non-responders, one open safety alert (PHQ-9 item 9) and one from a therapist's risk screen
acknowledged with what was done, techniques from the clinic's vocabulary with their rationale and
the patient's responses at the next note, and a KAP course's signed dosing-session note. Written
through the services, like a therapist would."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from ..bookings.models import BOOKED, Appointment
from ..courses.models import TreatmentCourse
from ..domain.measures import GAD7, PHQ9
from ..domain.phases import Phase
from ..experience.services import fetch_dosing_sessions
from ..extensions import db
from ..notes import dosing_notes, services as notes, technique_uses
from ..notes.baselines import baseline_of, course_measures, first_dose_of
from ..notes.models import SafetyAlert, Theme
from ..db.clinic_time import clinic_zone
from .baselines import spread
from .safety_plans import load_demo_safety_plan

THEMES = ("Not enough", "Safety in the body", "Grief and loss", "Connection with others", "Control and letting go",
          "Self-compassion", "Nature and belonging")
#: (what stood out, emotions, insight, the patient's words for a theme) — invented, varied
EXPERIENCES = (
    ("Floating above a childhood kitchen, watching without fear", "Tenderness, then sadness",
     "I was a child doing my best", "I didn't have to hold it all"),
    ("A long corridor of doors, most of them open", "Curiosity, some dread", "Choices are still open to me",
     "the doors weren't locked after all"),
    ("Warmth spreading from the chest to the hands", "Relief", "My body can feel safe", "my chest unclenched"),
    ("Waves on a grey beach, one after another", "Grief, then calm", "Grief comes and goes; I survive it",
     "I let the wave pass"),
    ("Standing in a forest, hearing many voices", "Belonging", "I am connected to more than my worries",
     "everyone was there"),
)
#: techniques of the vocabulary (vocabularies/techniques.yaml) the notes use in turn, with why (invented)
TECHNIQUES = (("breath-and-grounding", "Settling after strong emotion in the dosing session"),
              ("behavioural-activation", "Mornings lost to low energy: small planned activities"),
              ("meaning-making", "Working out what the imagery means for her life now"),
              ("rupture-repair", "Went quiet after last week's challenge; checking in on it"))
#: how the patient responded to each technique of the previous note, in turn
RESPONSES = (("helpful", "Calmer within minutes"), ("mixed", "Managed two of the five mornings"),
             ("helpful", None), ("too_early", None))
STEPS = (("Walk by the river", "3 times a week"), ("Call a friend", "once a week"),
         ("Write three lines in a journal", "every evening"), ("Ten minutes of breathing practice", "daily"))
#: how a demo step's success is judged (SMART steps, issue 24 point 3)
STEP_CRITERION = "Done on most planned days by the review, as the patient reports it"


def load_demo_notes(now: datetime, rng: random.Random) -> None:
    db.session.add_all(Theme(name=name) for name in THEMES)
    db.session.flush()
    themes = db.session.scalars(select(Theme).order_by(Theme.id)).all()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.EXPERIENCE.value, Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.COMPLETED.value]))
        .order_by(TreatmentCourse.id)).all()
    today = now.astimezone(clinic_zone()).date()
    alert_given, screened = False, False
    for index, course in enumerate(courses):
        signed = [s for s in fetch_dosing_sessions(course.id) if s.status == "signed"]
        if not signed:
            continue
        # the first maintenance course's second integration note reports thoughts of self-harm
        screen = not screened and course.current_phase is Phase.MAINTENANCE
        _notes_for(course, _held_sessions(course, signed, now), themes, now, rng, risk_reported=screen)
        screened = screened or screen
        responder = index % 3 != 2                       # two in three respond
        wants_alert = not alert_given and course.current_phase is Phase.EXPERIENCE
        _measures_for(course, signed, today, rng, responder=responder, alert=wants_alert)
        alert_given = alert_given or wants_alert
    _dosing_note(courses, now, today)
    # A preparation session written up but not yet signed: it shows on its author's dashboard.
    preparing = db.session.scalar(select(TreatmentCourse).where(TreatmentCourse.phase == Phase.PREPARATION.value)
                                  .order_by(TreatmentCourse.id).limit(1))
    if preparing is not None:
        draft = notes.create_note(preparing, kind="preparation", session_date=today, by=preparing.therapist,
                                  today=today)
        notes.save_note(draft, by=preparing.therapist, expected_version=draft.version, today=today,
                        session_date=today, content={"intentions": ["To feel less numb", "To forgive my brother"],
                                                     "expectations": "Unsure what to expect", "readiness": None},
                        themes=[], new_steps=[], check_ins=[], dosing_ids=[])


#: how long after a dose the demo looks for its integration session (inside every shipped protocol's window)
SESSION_WITHIN = timedelta(days=7)


def _held_sessions(course, signed, now: datetime) -> list[tuple[object, date]]:
    """(dose, clinic date of its integration session) for the first signed doses whose session with
    the course's therapist has been held by `now` (demo/courses.py books one after each dose): the
    note of a session is dated the day it took place."""
    zone = clinic_zone()
    appointments = db.session.scalars(select(Appointment).where(
        Appointment.course_id == course.id, Appointment.kind == "integration", Appointment.status == BOOKED,
        Appointment.clinician_id == course.therapist_id, Appointment.starts_at <= now)
        .order_by(Appointment.starts_at)).all()
    found = []
    for dose in signed:
        session = next((a for a in appointments if dose.ended_at + timedelta(hours=24) <= a.starts_at
                        < dose.ended_at + SESSION_WITHIN), None)
        if session is None:
            break
        appointments.remove(session)
        found.append((dose, session.starts_at.astimezone(zone).date()))
    return found


def _notes_for(course, held, themes, now: datetime, rng: random.Random, *, risk_reported: bool = False) -> None:
    """A signed integration note for each of the first four held sessions (`held`: _held_sessions)."""
    therapist = course.therapist
    recurring = rng.sample(themes, 2)                    # two themes that keep coming back for this patient
    today = now.astimezone(clinic_zone()).date()
    for n, (session, when) in enumerate(held[:4]):
        stood_out, emotions, insight, words = EXPERIENCES[(course.id + n) % len(EXPERIENCES)]
        risk = RISK_REPORTED if risk_reported and n == 1 else NO_RISK
        note = notes.create_note(course, kind="integration", session_date=when, by=therapist, today=today)
        chosen = [recurring[n % 2]] + ([rng.choice(themes)] if n % 2 else [])
        new_steps = []
        if n == 0:
            what, how_often = STEPS[course.id % len(STEPS)]
            new_steps = [{"what": what, "how_often": how_often, "starts_on": when,
                          "review_on": when + timedelta(days=14), "linked_insight": insight,
                          "success_criterion": STEP_CRITERION}]
        check_ins = [{"step_id": step.id, "progress": rng.choice(("done", "partly", "partly", "not")),
                      "obstacles": rng.choice((None, "Busy week at work", "Low energy in the mornings")),
                      "decision": "adjust" if n == 2 else "continue",
                      "adjustment": "Shorter, but more often" if n == 2 else None}
                     for step in notes.open_steps(course.id, before=note)]
        notes.save_note(
            note, by=therapist, expected_version=note.version, today=today, session_date=when,
            content={"stood_out": stood_out, "emotions": emotions, "imagery": None, "surprises": None,
                     "meaningful": "Feeling accompanied", "insights": insight, "core_beliefs": None,
                     "connections_present": None, "connections_past": None, "practices": ["journaling", "movement"],
                     "practices_note": None, "challenges": ["not_sticking"] if n == 1 else [],
                     "challenges_note": None, "host_theory": "act", **risk,
                     "next_session_plan": "Review the action step; revisit the recurring theme"},
            themes=[{"theme_id": t.id, "free_theme": None, "patient_words": words if i == 0 else None}
                    for i, t in enumerate(chosen)],
            new_steps=new_steps, check_ins=check_ins,
            dosing_ids=[session.id], **_techniques(note, when, n))
        notes.sign_note(note, by=therapist, expected_version=note.version, now=now)
        if risk is RISK_REPORTED:
            _acknowledge_risk_screen(note, course.prescriber, when)
            load_demo_safety_plan(course, when)


def _techniques(note, when: date, n: int) -> dict:
    """Two techniques of the vocabulary for the n-th note, and the responses to the previous note's."""
    used = [{"technique": key, "rationale": why} for key, why in (TECHNIQUES[n % 4], TECHNIQUES[(n + 1) % 4])]
    responses = [{"use_id": use.id, "response": RESPONSES[(n + i) % 4][0], "comment": RESPONSES[(n + i) % 4][1]}
                 for i, use in enumerate(technique_uses.previous_uses(note, when))]
    return {"techniques": used, "technique_responses": responses}


#: what the therapist present at a KAP dose wrote of it (invented)
DOSING_NOTE = {
    "set_setting": "Dim light, eyeshades and the patient's own playlist; blanket offered. She arrived tense after a "
                   "long drive; five minutes of paced breathing before the dose.",
    "intention": "To meet the sadness without running from it",
    "observations": "Quiet for the first 20 minutes, then tearful; hands unclenched around minute 35. Spoke of her "
                    "grandmother's garden. No distress calls; settled by minute 60.",
    "support_given": "Grounding by voice at minute 25 (feet on the floor, breath); a hand on the shoulder, with "
                     "consent agreed beforehand; music lowered when she asked.",
    "reflections": "\"It was sad, but it was mine to feel.\" Felt lighter; wants to talk about the garden.",
    "integration_plan": "Start from the garden and what 'mine to feel' means; check sleep.",
}


def _dosing_note(courses, now: datetime, today: date) -> None:
    """The first course under a protocol with a therapist present at dosing (KAP) that has a signed
    dose: its therapist's signed dosing-session note of that dose (issue 20, point 9)."""
    for course in courses:
        signed = [s for s in fetch_dosing_sessions(course.id) if s.status == "signed"]
        if signed and dosing_notes.therapist_present(signed[0]):
            break
    else:
        return
    therapist = course.therapist
    note = dosing_notes.start_dosing_note(signed[0], by=therapist, now=now)
    notes.save_note(note, by=therapist, expected_version=note.version, today=today, session_date=note.session_date,
                    content=dict(DOSING_NOTE), themes=[], new_steps=[], check_ins=[], dosing_ids=[])
    notes.sign_note(note, by=therapist, expected_version=note.version)


#: the risk screen of most notes, and of the one that reports thoughts of self-harm
NO_RISK = {"self_harm_thoughts": "no", "self_harm_intent": None, "safety_plan_reviewed": "no", "risk_notes": None}
RISK_REPORTED = {"self_harm_thoughts": "yes", "self_harm_intent": "no", "safety_plan_reviewed": "yes",
                 "risk_notes": "Fleeting thoughts of not wanting to be here after a family argument; no plan or "
                               "intent. Safety plan reviewed together; crisis line numbers confirmed."}


def _acknowledge_risk_screen(note, prescriber, when: date) -> None:
    """The prescriber acknowledges the risk screen's alert the same evening, with what was done."""
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.session_note_id == note.id))
    notes.acknowledge_alert(alert, by=prescriber, now=datetime.combine(when, time(18), clinic_zone()),
                            note="Spoke with the therapist and called the patient the same day: passive thoughts, "
                                 "no plan or intent; safety plan in place. Next dose kept; check-in call booked "
                                 "for two days later.")


def _measures_for(course, signed, today: date, rng: random.Random, *, responder: bool, alert: bool) -> None:
    """A PHQ-9 and a GAD-7 the day after each dose, against the intake baseline (demo/baselines.py)."""
    therapist = course.therapist
    zone = clinic_zone()
    baseline = baseline_of(course_measures(course.id), PHQ9.key, first_dose_of(course.id)).total
    dates = [s.ended_at.astimezone(zone).date() + timedelta(days=1) for s in signed]
    dates = [d for d in dates if d <= today][:6]
    for n, when in enumerate(dates, 1):
        fraction = n / len(dates)
        drop = 0.7 if responder else 0.2
        total = max(1, round(baseline * (1 - drop * fraction)) + rng.randint(-1, 1))
        last = n == len(dates)
        safety_answer = 1 if alert and last else 0
        notes.record_measure(course, measure=PHQ9.key, answers=spread(PHQ9, total, rng, safety_answer),
                             difficulty="somewhat", administered_on=when, by=therapist, today=today)
        gad = max(0, round((baseline - 3) * (1 - drop * fraction)))
        notes.record_measure(course, measure=GAD7.key, answers=spread(GAD7, gad, rng), difficulty=None,
                             administered_on=when, by=therapist, today=today)
