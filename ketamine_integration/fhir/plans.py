"""CarePlan (a signed treatment plan revision) and Goal (each of its SMART objectives, with the progress
the signed notes recorded on it up to that revision). A draft revision is not yet part of the record."""
from __future__ import annotations

from ..db.clinic_time import clinic_today
from ..domain.phases import Phase
from ..plans.models import PlanObjective, TreatmentPlan
from ..plans.progress import progress_until, signed_entries
from . import codes as c
from .care import episode_id
from .people import patient_id, practitioner_ref

#: a course ended either way: its plan in force is done with
ENDED = {Phase.COMPLETED.value, Phase.DISCONTINUED.value}
#: a note's judgement of an objective as FHIR's goal achievement (terminology.hl7.org goal-achievement)
ACHIEVEMENT = {"not_started": ("no-progress", "No Progress"), "some": ("improving", "Improving"),
               "achieved": ("achieved", "Achieved"), "setback": ("worsening", "Worsening")}
ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"


def plan_id(plan_pk: int) -> str:
    return f"plan-{plan_pk}"


def plan_status(plan: TreatmentPlan) -> str:
    """The latest signed revision is the plan in force (done with once the course ended); an earlier one was
    replaced by a later revision: revoked ("terminated prior to reaching completion", replaced by a new plan)."""
    if plan.superseded:
        return "revoked"
    return "completed" if plan.course.phase in ENDED else "active"


def plan_resources(plan: TreatmentPlan) -> list[dict]:
    """The revision as a CarePlan, and a Goal per objective."""
    return [care_plan_resource(plan), *(goal_resource(plan, o) for o in plan.objectives)]


def _description(plan: TreatmentPlan) -> str:
    """The plan's own words and choices and its goals, one a line."""
    goals = [(f"Goal {n}", goal) for n, goal in enumerate(plan.goals, 1)]
    return "\n".join(f"{label}: {value}" for label, value in [*plan.facts(), *goals])


def care_plan_resource(plan: TreatmentPlan) -> dict:
    out = {
        "resourceType": "CarePlan", "id": plan_id(plan.id), "identifier": c.identifier(c.TREATMENT_PLAN, plan.id),
        "status": plan_status(plan), "intent": "plan",
        "title": f"Treatment plan, revision {plan.revision}",
        "subject": c.ref("Patient", patient_id(plan.patient_id)),
        "period": {"start": c.instant(plan.signed_at)}, "created": c.instant(plan.signed_at),
        "goal": [c.ref("Goal", goal_id(o)) for o in plan.objectives],
        "supportingInfo": [c.ref("EpisodeOfCare", episode_id(plan.course_id))],
    }
    if description := _description(plan):
        out["description"] = description
    if plan.author is not None:
        out["author"] = practitioner_ref(plan.author)
    if plan.based_on_id is not None:
        out["replaces"] = [c.ref("CarePlan", plan_id(plan.based_on_id))]
    if plan.techniques:
        out["activity"] = [{"detail": {"kind": "ServiceRequest", "status": _activity_status(plan),
                                       "description": t.technique_name + (f": {t.rationale}" if t.rationale else ""),
                                       "code": c.concept(c.TECHNIQUE, t.technique_key, t.technique_name)}}
                           for t in plan.techniques]
    return out


def _activity_status(plan: TreatmentPlan) -> str:
    return {"active": "in-progress", "completed": "completed", "revoked": "stopped"}[plan_status(plan)]


def goal_id(objective: PlanObjective) -> str:
    return f"objective-{objective.id}"


def goal_resource(plan: TreatmentPlan, objective: PlanObjective) -> dict:
    # the objective's history as it stood while this revision was in force (the latest revision: all of it)
    progress = progress_until(objective, signed_entries(objective.progress))
    notes = [f"Serves the goal: {objective.goal}", f"Success: {objective.criterion}",
             f"Why it should help: {objective.mechanism}", *(f"Progress {p.words}" for p in progress)]
    status = plan_status(plan)
    achieved = bool(progress) and progress[-1].progress_key == "achieved"
    target = {"dueDate": objective.by_when.isoformat()}
    if objective.measure:
        target["measure"] = c.concept(c.MEASURE, objective.measure, objective.measure_name)
    out = {
        "resourceType": "Goal", "id": goal_id(objective), "identifier": c.identifier(c.PLAN_OBJECTIVE, objective.id),
        "lifecycleStatus": "completed" if achieved else {"active": "active", "completed": "completed",
                                                          "revoked": "cancelled"}[status],
        "description": {"text": objective.target},
        "subject": c.ref("Patient", patient_id(plan.patient_id)),
        "startDate": clinic_today(plan.signed_at).isoformat(), "target": [target],
        "note": [{"text": n} for n in notes],
    }
    if progress:
        out["achievementStatus"] = c.concept(ACHIEVEMENT_SYSTEM, *ACHIEVEMENT[progress[-1].progress_key])
    if plan.author is not None:
        out["expressedBy"] = practitioner_ref(plan.author)
    return out
