"""Demo treatment plans and the outcome measures beyond depression: every course that reached
integration has a signed plan (problems, goals, SMART objectives with their mechanism, pathway, host
theory, planned techniques from the vocabulary, stage, review date), written the day integration
began; a signed integration note after it records progress on each objective (demo/progress.py);
the courses past the review point have a second, signed revision; one maintenance course's
review is due now (caseload and worklist); two integration courses moved on the decision map. WSAS
and PCL-5 are measured again at the review, and the WAI-SR after the second integration session.
All through the services; the dates are the fiction's (see `dated`)."""
from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from sqlalchemy import event, inspect, select

from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.measures import PCL5, WAISR, WSAS
from ..domain.phases import Phase
from ..extensions import db
from ..notes import services as notes
from ..notes.models import SessionNote
from ..plans import services as plans
from ..plans.models import SIGNED, CourseStageChange, TreatmentPlan
from .baselines import spread
from .progress import progress_session, record_progress

#: days after the plan (the start of integration) its review date falls, and the first objective's
REVIEW_AFTER, FIRST_BY, SECOND_BY = 28, 56, 84
#: the maintenance course (by order) whose review date has passed without a review: due now
REVIEW_DUE_INDEX = 1
#: the review date of that course's second revision, after it was signed
DUE_REVIEW_AFTER = 10
#: (goals, objectives as (goal number, target, criterion, mechanism, measure key or "")) per kind (invented)
DEPRESSION = {
    "problems_patient": "I can't get out of bed most days and I've stopped seeing anyone.",
    "problems_clinician": "Anhedonia and withdrawal after years of treatment-resistant depression; avoidance "
                          "and the belief of being a burden keep the low mood going.",
    "goals": ["Re-engage with daily life", "Reconnect with the people who matter"],
    "objectives": (
        ("1", "Walks 20 minutes outdoors, 3 times a week, logged in the journal",
         "PHQ-9 under 10 on two readings in a row, and 3 walks a week logged for 4 weeks",
         "Behavioural activation: planned activity breaks the withdrawal and low-mood loop while the weeks after "
         "the dosing series keep new habits easier to form", "phq9"),
        ("2", "Calls or meets one friend or relative each week",
         "WSAS total under 20, with the social and relationships items at 4 or less",
         "Relationships are where the old belief of being a burden is tested and disconfirmed", "wsas"),
        ("1", "Writes three lines in the journal after each integration session",
         "Journal kept in 6 of 8 weeks and brought to sessions",
         "Meaning-making turns the dosing sessions' insights into a story the patient can keep", ""),
    ),
    "techniques": (("behavioural-activation", "Mornings lost to low energy: small planned activities"),
                   ("meaning-making", "Working out what the imagery means for life now"),
                   ("communication-coaching", "Practising how to ask a friend to meet")),
}
TRAUMA = {
    "problems_patient": "Since the accident I can't drive, and I wake at 3 am with my heart pounding.",
    "problems_clinician": "Intrusions and avoidance after a road accident, kept going by safety behaviours; "
                          "hyperarousal breaks sleep.",
    "goals": ["Feel safe in my body again", "Drive to work on my own"],
    "objectives": (
        ("1", "Practises grounding (paced breathing, 5-4-3-2-1) daily and whenever a memory intrudes",
         "PCL-5 total below 33 (the provisional PTSD cut-off) on two readings in a row",
         "Widening the window of tolerance lets the memory be approached without flooding", "pcl5"),
        ("2", "Drives a graded route: passenger, car park, quiet road, then the commute",
         "Drives to work alone twice in one week; WSAS total under 10",
         "Graded approach instead of avoidance lets fear extinguish; the weeks after dosing favour new learning",
         "wsas"),
    ),
    "techniques": (("breath-and-grounding", "Settling the body when memories of the accident come"),
                   ("window-of-tolerance", "Pacing the work so arousal stays workable"),
                   ("exposure-response-prevention", "Graded return to driving, dropping the safety behaviours")),
}
#: (pathway, host theory) in turn
FRAMES = (("assimilative_integration", "psychodynamic"), ("common_factors", "act"),
          ("technical_eclecticism", "cbt"), ("assimilative_integration", "mindfulness"))
#: the stage moves two integration courses made after their first plan (demo only: a reason each)
MOVES = ("target", "Sleep and safety are steady; the pattern is clear enough to work on directly.")


@contextmanager
def dated(moment: dict):
    """Demo only: the invented plans, stage changes and discharge summaries get the dates of the
    story, not the moment of loading (as demo/courses.py's `_dated_history` does for transitions):
    a row inserted, or a plan signed, while `moment["at"]` is set takes that time. Real rows are
    stamped by the services, and signed ones are refused any later change (migration 0045)."""
    def created(mapper, connection, row) -> None:
        row.created_at = moment["at"]

    def signed(mapper, connection, plan: TreatmentPlan) -> None:
        if plan.status == SIGNED and inspect(plan).attrs.status.history.has_changes():
            plan.signed_at = moment["at"]

    def changed(mapper, connection, change: CourseStageChange) -> None:
        change.changed_at = moment["at"]
    listeners = ((TreatmentPlan, "before_insert", created), (TreatmentPlan, "before_update", signed),
                 (CourseStageChange, "before_insert", changed))
    for model, name, listener in listeners:
        event.listen(model, name, listener)
    try:
        yield
    finally:
        for model, name, listener in listeners:
            event.remove(model, name, listener)


def load_demo_plans(now: datetime) -> None:
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.COMPLETED.value]))
        .order_by(TreatmentCourse.id)).all()
    moment: dict = {}
    maintenance = moved = 0
    phases: list[Phase] = []  # of the courses before: each course's order in its phase
    with dated(moment):
        for index, course in enumerate(courses):
            began = _integration_began(course)
            kind = TRAUMA if "trauma" in course.indication.lower() else DEPRESSION
            first = _revision(course, kind, FRAMES[index % len(FRAMES)], began, moment,
                              stage="stabilise" if kind is TRAUMA else "clarify", objectives=3 if index % 2 else 2)
            session = progress_session(course, first, began, now)
            if session is not None:  # before the review: the review revision follows what it recorded
                moment["at"] = session + timedelta(hours=1)  # a stage the note moves, moved as it is signed
                record_progress(course, first, session, order=phases.count(course.current_phase),
                                trauma=kind is TRAUMA, now=now)
            phases.append(course.current_phase)
            if course.current_phase is Phase.INTEGRATION and moved < 2:
                moment["at"] = _at(began + timedelta(days=5))
                plans.record_stage_change(course, MOVES[0], MOVES[1], course.therapist,
                                          today=began + timedelta(days=5))
                moved += 1
            reviewed = first.review_on
            if reviewed <= today:  # reviewed on its date: a second revision
                due = course.current_phase is Phase.MAINTENANCE and maintenance == REVIEW_DUE_INDEX
                maintenance += course.current_phase is Phase.MAINTENANCE
                _revision(course, kind, None, reviewed, moment, review_after=DUE_REVIEW_AFTER if due else None,
                          stage="consolidate" if course.current_phase is Phase.COMPLETED else "target")
            _measure_again(course, kind, began, reviewed, today)


def _integration_began(course: TreatmentCourse) -> date:
    moment = next(t.occurred_at for t in course.transitions if t.to_phase == Phase.INTEGRATION.value)
    return moment.astimezone(clinic_zone()).date()


def _at(day: date) -> datetime:
    return datetime.combine(day, time(17), clinic_zone())


def _revision(course, kind: dict, frame, on: date, moment: dict, *, stage: str, objectives: int = 0,
              review_after: int | None = None) -> TreatmentPlan:
    """A revision written and signed on `on`: the first (from `kind`, its first `objectives`) or a
    review of the plan in force (its objectives kept, with their lineage)."""
    therapist = course.therapist
    moment["at"] = _at(on)
    plan = plans.start_revision(course, by=therapist, today=on)
    if plan.based_on_id is None:
        rows = [{"goal": goal, "target": target, "criterion": criterion, "by_when": on + timedelta(days=by),
                 "mechanism": mechanism, "measure": measure}
                for (goal, target, criterion, mechanism, measure), by
                in zip(kind["objectives"][:objectives], (FIRST_BY, SECOND_BY, SECOND_BY))]
        techniques = [{"technique": key, "rationale": why} for key, why in kind["techniques"]]
        pathway, host = frame
        content = {key: kind[key] for key in ("problems_patient", "problems_clinician", "goals")}
    else:
        goals = plan.content["goals"]
        rows = [{"lineage": o.lineage_id, "goal": str(goals.index(o.goal) + 1), "target": o.target,
                 "criterion": o.criterion, "by_when": max(o.by_when, on + timedelta(days=FIRST_BY // 2)),
                 "mechanism": o.mechanism, "measure": o.measure or ""} for o in plan.objectives]
        techniques = [{"technique": t.technique_key, "rationale": t.rationale} for t in plan.techniques]
        pathway, host, content = plan.pathway, plan.host_theory, dict(plan.content)
    plans.save_plan(plan, by=therapist, expected_version=plan.version, today=on, content=content, objectives=rows,
                    techniques=techniques, pathway=pathway, host_theory=host, stage=stage,
                    review_on=on + timedelta(days=review_after or REVIEW_AFTER), no_change=False)
    plans.sign_plan(plan, by=therapist, expected_version=plan.version, today=on)
    return plan


def _measure_again(course, kind: dict, began: date, reviewed: date, today: date) -> None:
    """WSAS (and PCL-5 for trauma) after the series and at the review; the WAI-SR after the second
    integration session."""
    rng = random.Random(course.id * 7)  # its own: the rest of the demo's draws stay as they were
    therapist = course.therapist
    for n, when in enumerate(d for d in (began, reviewed) if d <= today):
        notes.record_measure(course, measure=WSAS.key, answers=spread(WSAS, rng.randint(14, 20) - 6 * n, rng),
                             difficulty=None, administered_on=when, by=therapist, today=today)
        if kind is TRAUMA:
            notes.record_measure(course, measure=PCL5.key, answers=spread(PCL5, rng.randint(36, 44) - 12 * n, rng),
                                 difficulty=None, administered_on=when, by=therapist, today=today)
    second = db.session.scalars(select(SessionNote.session_date).where(
        SessionNote.course_id == course.id, SessionNote.kind == "integration", SessionNote.status == "signed")
        .order_by(SessionNote.session_date).offset(1).limit(1)).first()
    if second is not None:
        answers = [rng.choice((3, 4, 4, 5)) for _ in WAISR.items]
        notes.record_measure(course, measure=WAISR.key, answers=answers, difficulty=None, administered_on=second,
                             by=therapist, today=today)
