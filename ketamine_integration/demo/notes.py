"""Demo documentation: weeks of fictional integration notes with recurring themes, action
steps and their check-ins, PHQ-9 and GAD-7 series with responders and non-responders, and
one open safety alert. Written through the services, like a therapist would."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..courses.models import TreatmentCourse
from ..domain.measures import GAD7, PHQ9, Measure
from ..domain.phases import Phase
from ..experience.services import fetch_dosing_sessions
from ..extensions import db
from ..notes import services as notes
from ..notes.models import Theme
from ..db.clinic_time import clinic_zone

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
STEPS = (("Walk by the river", "3 times a week"), ("Call a friend", "once a week"),
         ("Write three lines in a journal", "every evening"), ("Ten minutes of breathing practice", "daily"))


def load_demo_notes(now: datetime, rng: random.Random) -> None:
    db.session.add_all(Theme(name=name) for name in THEMES)
    db.session.flush()
    themes = db.session.scalars(select(Theme).order_by(Theme.id)).all()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.EXPERIENCE.value, Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.COMPLETED.value]))
        .order_by(TreatmentCourse.id)).all()
    today = now.astimezone(clinic_zone()).date()
    alert_given = False
    for index, course in enumerate(courses):
        signed = [s for s in fetch_dosing_sessions(course.id) if s.status == "signed"]
        if not signed:
            continue
        _notes_for(course, signed, themes, today, rng)
        responder = index % 3 != 2                       # two in three respond
        wants_alert = not alert_given and course.current_phase is Phase.EXPERIENCE
        _measures_for(course, signed, today, rng, responder=responder, alert=wants_alert)
        alert_given = alert_given or wants_alert
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


def _notes_for(course, signed, themes, today: date, rng: random.Random) -> None:
    therapist = course.therapist
    zone = clinic_zone()
    recurring = rng.sample(themes, 2)                    # two themes that keep coming back for this patient
    for n, session in enumerate(signed[:4]):
        when = session.ended_at.astimezone(zone).date() + timedelta(days=2)
        if when > today:
            break
        stood_out, emotions, insight, words = EXPERIENCES[(course.id + n) % len(EXPERIENCES)]
        note = notes.create_note(course, kind="integration", session_date=when, by=therapist, today=today)
        chosen = [recurring[n % 2]] + ([rng.choice(themes)] if n % 2 else [])
        new_steps = []
        if n == 0:
            what, how_often = STEPS[course.id % len(STEPS)]
            new_steps = [{"what": what, "how_often": how_often, "starts_on": when,
                          "review_on": when + timedelta(days=14), "linked_insight": insight}]
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
                     "challenges_note": None, "host_theory": "act", "self_harm_thoughts": "no",
                     "safety_plan_reviewed": "no", "risk_notes": None,
                     "next_session_plan": "Review the action step; revisit the recurring theme",
                     "techniques": [{"technique": "Grounding", "rationale": "Settling after strong emotion"}]},
            themes=[{"theme_id": t.id, "free_theme": None, "patient_words": words if i == 0 else None}
                    for i, t in enumerate(chosen)],
            new_steps=new_steps, check_ins=check_ins,
            dosing_ids=[session.id])
        notes.sign_note(note, by=therapist, expected_version=note.version, today=today)


def _answers(measure: Measure, total: int, rng: random.Random, safety_answer: int = 0) -> list[int]:
    """Item scores adding up to `total`, spread at random (the safety rule's item fixed)."""
    values, free = [0] * len(measure.items), list(range(len(measure.items)))
    if measure.safety is not None:
        values[measure.safety.item - 1] = safety_answer
        free.remove(measure.safety.item - 1)
    # the total is capped at what the free items can hold (PHQ-9: 24), as a demo series needs no more
    remaining = min(total, sum(max(measure.items[i].values) for i in free)) - sum(values)
    while remaining > 0:
        i = free[rng.randrange(len(free))]
        if values[i] < max(measure.items[i].values):
            values[i] += 1
            remaining -= 1
    return values


def _measures_for(course, signed, today: date, rng: random.Random, *, responder: bool, alert: bool) -> None:
    therapist = course.therapist
    zone = clinic_zone()
    baseline = rng.randint(14, 22)
    dates = [course.start_date] + [s.ended_at.astimezone(zone).date() + timedelta(days=1) for s in signed]
    dates = [d for d in dates if d <= today][:7]
    for n, when in enumerate(dates):
        fraction = n / max(len(dates) - 1, 1)
        drop = 0.7 if responder else 0.2
        total = max(1, round(baseline * (1 - drop * fraction)) + rng.randint(-1, 1))
        last = n == len(dates) - 1
        safety_answer = 1 if alert and last else 0
        notes.record_measure(course, measure=PHQ9.key, answers=_answers(PHQ9, total, rng, safety_answer),
                             difficulty="somewhat", administered_on=when, by=therapist, today=today)
        gad = max(0, round((baseline - 3) * (1 - drop * fraction)))
        notes.record_measure(course, measure=GAD7.key, answers=_answers(GAD7, gad, rng), difficulty=None,
                             administered_on=when, by=therapist, today=today)
