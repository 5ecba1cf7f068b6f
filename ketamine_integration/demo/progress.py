"""Demo progress on the treatment plans' objectives (issue 24 point 7): the plan in force is followed
by a signed integration note that judges each of its objectives (achieved, some progress, setback,
not started, with a short comment); a setback gets a new action step serving that objective; the
first maintenance and the first completed course's notes move the decision-map stage, which the
review revision then keeps. The note documents the course's last session held with its therapist
after the plan's day and before its review (so it follows the first revision, and the review takes it
in); a course without such a session has no note. Written through the notes services, like a
therapist would; every comment invented. The discharge summaries read these outcomes."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..bookings.models import Appointment
from ..db.clinic_time import clinic_day_span, clinic_zone
from ..domain.coverage import ATTENDED
from ..domain.phases import Phase
from ..extensions import db
from ..notes import services as notes
from ..notes.models import SessionNote
from ..plans.models import TreatmentPlan

#: progress on the plan's objectives, in order, by the course's phase and its order among that phase's
#: courses: an integration plan is a day old, maintenance is four weeks in, a completed course's
#: review was its last (the first two completed courses are the discharged ones: each meets one
#: objective and falls short of another)
PROGRESS = {
    Phase.INTEGRATION: (("some", "not_started", "not_started"), ("not_started", "some", "not_started")),
    Phase.MAINTENANCE: (("achieved", "some", "some"), ("some", "setback", "not_started")),
    Phase.COMPLETED: (("achieved", "some", "achieved"), ("some", "achieved", "setback")),
}
#: what the therapist wrote of each objective of the demo's plans (demo/plans.py: DEPRESSION's
#: walks, calls and journal; TRAUMA's grounding and driving), by progress (invented)
DEPRESSION_COMMENTS = (
    {"achieved": "Walked three times a week for the last month; PHQ-9 under 10 on the last two readings",
     "some": "Two walks most weeks; the third one slips when mornings are low",
     "setback": "Stopped walking after a week of bad sleep; wants to start again with shorter walks",
     "not_started": "Agreed to start once the dosing week is over"},
    {"achieved": "Meets a sister every Sunday and called an old colleague; feels less of a burden",
     "some": "Called a friend twice this month; cancelled one meeting at the last minute",
     "setback": "Avoided two invitations after an argument at home; the burden thought came back",
     "not_started": "Not yet: wants the walks settled first"},
    {"achieved": "Journal kept nearly every week and brought to sessions",
     "some": "Writes after some sessions, not yet every one",
     "setback": "Journal lost in a move; writing on the phone for now, but rarely",
     "not_started": "Bought the notebook; nothing written yet"},
)
TRAUMA_COMMENTS = (
    {"achieved": "Grounding daily; PCL-5 below 33 on the last two readings; uses 5-4-3-2-1 when a memory intrudes",
     "some": "Grounding most days; still wakes at 3 am about twice a week",
     "setback": "A near miss on the bus brought the nightmares back; practice lapsed for a week",
     "not_started": "Learning the breathing in session first"},
    {"achieved": "Drove the commute alone twice last week",
     "some": "Drives the car park and quiet roads; the main road is next",
     "setback": "Turned back at the junction after a lorry passed close; passenger again for now",
     "not_started": "Driving waits until grounding is steady"},
)
#: a new step for an objective that had a setback, by objective (what, how often, success criterion)
DEPRESSION_STEPS = (("Ten-minute walk right after breakfast", "5 days a week",
                     "Four walks in each of the next two weeks, as the patient reports it"),
                    ("A text to one friend, then one call", "once a week",
                     "One call or meeting in each of the next three weeks"),
                    ("Three lines in the phone's notes after each session", "after every session",
                     "Notes kept after four sessions in a row"))
TRAUMA_STEPS = (("Paced breathing before bed", "every evening",
                 "Practised on most evenings by the review; fewer 3 am wakings"),
                ("Passenger on the commute, then the car park at the weekend", "twice a week",
                 "Back to driving the quiet road alone by the review"))
#: the stage a note moves the first course of a phase to (the stage its review then keeps), and why
MOVES = {
    Phase.MAINTENANCE: ("target", "The daily practice holds between sessions and sleep is steadier; ready to work "
                                  "directly on the avoidance that keeps the problem going."),
    Phase.COMPLETED: ("consolidate", "The new routines hold without prompting; time to consolidate them before the "
                                     "sessions space out."),
}
#: the note's experience review and plans for the next session (invented)
CONTENT = {"stood_out": "Went through the plan's objectives together, one by one", "emotions": "Pride, some worry",
           "imagery": None, "surprises": None, "meaningful": "Seeing the progress written down",
           "insights": "Small steps add up even on bad weeks", "core_beliefs": None, "connections_present": None,
           "connections_past": None, "practices": ["movement"], "practices_note": None, "challenges": [],
           "challenges_note": None, "self_harm_thoughts": "no", "self_harm_intent": None,
           "safety_plan_reviewed": "no", "risk_notes": None,
           "next_session_plan": "Bring the plan to the review; keep what works"}


def progress_session(course, plan: TreatmentPlan, began: date, now: datetime) -> datetime | None:
    """The start of the course's last session with its therapist held after the plan's day and before
    its review (`began`: the plan's day), on a day without a note of its own; None when there is none."""
    since, until = clinic_day_span(began)[1], clinic_day_span(plan.review_on)[0]
    held = db.session.scalars(select(Appointment.starts_at).where(
        Appointment.course_id == course.id, Appointment.kind == "integration", Appointment.status == ATTENDED,
        Appointment.clinician_id == course.therapist_id, Appointment.starts_at >= since,
        Appointment.starts_at < min(until, now)).order_by(Appointment.starts_at.desc())).all()
    noted = set(db.session.scalars(select(SessionNote.session_date).where(SessionNote.course_id == course.id)))
    return next((at for at in held if _day(at) not in noted), None)


def record_progress(course, plan: TreatmentPlan, session: datetime, *, order: int, trauma: bool,
                    now: datetime) -> None:
    """The signed integration note of `session` judging each objective of `plan` (the course's plan in
    force); `order`: the course's among those of its phase."""
    therapist, when, today = course.therapist, _day(session), _day(now)
    phase = course.current_phase
    judged = PROGRESS[phase][order % len(PROGRESS[phase])]
    comments, steps = (TRAUMA_COMMENTS, TRAUMA_STEPS) if trauma else (DEPRESSION_COMMENTS, DEPRESSION_STEPS)
    rows, new_steps = [], []
    for n, (objective, progress) in enumerate(zip(plan.objectives, judged)):
        rows.append({"lineage": objective.lineage_id, "progress": progress, "comment": comments[n][progress]})
        if progress == "setback":
            what, how_often, criterion = steps[n]
            new_steps.append({"what": what, "how_often": how_often, "starts_on": when,
                              "review_on": when + timedelta(days=14), "linked_insight": CONTENT["insights"],
                              "success_criterion": criterion, "objective": objective.lineage_id})
    stage, reason = MOVES.get(phase, (None, None)) if order == 0 else (None, None)
    note = notes.create_note(course, kind="integration", session_date=when, by=therapist, today=today)
    notes.save_note(note, by=therapist, expected_version=note.version, today=today, session_date=when,
                    content={**CONTENT, "host_theory": plan.host_theory, "move_stage": stage, "stage_reason": reason},
                    themes=[], new_steps=new_steps, check_ins=[], dosing_ids=[], objective_progress=rows)
    notes.sign_note(note, by=therapist, expected_version=note.version, now=now)


def _day(moment: datetime) -> date:
    return moment.astimezone(clinic_zone()).date()
