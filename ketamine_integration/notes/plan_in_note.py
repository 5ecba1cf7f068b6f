"""The treatment plan in an integration note (issue 24, point 3): the plan a note follows (the
course's active signed revision while it is a draft; the revision it stored once signed), progress
per objective, and moving the course's decision-map stage, recorded when the note is signed."""
from __future__ import annotations

from ..accounts.models import User
from ..db.errors import DomainError
from ..domain import note_plan
from ..plans import services as plans
from ..plans.models import TreatmentPlan
from ..plans.progress import PROGRESS, ObjectiveProgress
from .models import INTEGRATION, SessionNote

PROGRESS_NEEDED = "Choose the progress on this objective (or leave the comment empty)."
NOT_AN_OBJECTIVE = "That objective is not in the course's active plan (or is listed twice)."


def followed_plan(note: SessionNote) -> TreatmentPlan | None:
    """The plan revision the note follows: the one it stored when signed, else the course's active one."""
    if note.kind != INTEGRATION:
        return None
    if note.signed:
        return note.plan
    return plans.active_plan(note.course_id)


def objective_ids(plan: TreatmentPlan | None) -> frozenset[str] | None:
    """The lineage ids a new step may serve; None without a plan (the objective is optional then)."""
    return None if plan is None else frozenset(o.lineage_id for o in plan.objectives)


def resolve_progress(rows: list[dict], plan: TreatmentPlan | None) -> tuple[list[ObjectiveProgress],
                                                                              dict[str, str]]:
    """The progress rows ({row, lineage, progress, comment}) as rows to store, or the problems by
    form field: each on a different objective of the plan followed, with a known progress."""
    objectives = {o.lineage_id: o for o in plan.objectives} if plan is not None else {}
    stored, problems, seen = [], {}, set()
    for i, row in enumerate(rows):
        where = f"objective_progress-{row.get('row', i)}-progress"
        lineage = row.get("lineage") or ""
        if lineage not in objectives or lineage in seen:
            problems[where] = NOT_AN_OBJECTIVE
        elif row.get("progress") not in PROGRESS:
            problems[where] = PROGRESS_NEEDED
        else:
            stored.append(ObjectiveProgress(lineage_id=lineage, plan_objective_id=objectives[lineage].id,
                                            progress=row["progress"], comment=row.get("comment") or None))
        seen.add(lineage)
    return stored, problems


def stage_move_problems(note: SessionNote, content: dict) -> dict[str, str]:
    """A stage move the draft asks for: a known stage other than the course's current one, with a reason."""
    if note.kind != INTEGRATION:
        return {}
    return note_plan.stage_move_problems(plans.current_stage(note.course_id), content.get("move_stage"),
                                         content.get("stage_reason"))


def move_stage_on_signing(note: SessionNote, by: User) -> None:
    """The stage change the note asks for, recorded as the note is signed (not on each draft save),
    or refused with the reason by form field (the note is then not signed)."""
    stage = (note.content or {}).get("move_stage")
    if note.kind != INTEGRATION or not stage:
        return
    try:
        # judged on the session's day: a session held before the course ended may move its stage
        plans.record_stage_change(note.course, stage, note.content.get("stage_reason") or "", by, note=note,
                                  today=note.session_date)
    except DomainError as refusal:
        fields = {"stage": "move_stage", "reason": "stage_reason"}
        raise DomainError({fields.get(k, k): v for k, v in refusal.reasons.items()}) from None


def stage_moved(note: SessionNote) -> str | None:
    """The audit detail of a signature that moved the course's stage."""
    stage = (note.content or {}).get("move_stage") if note.kind == INTEGRATION else None
    return f"course moved to stage {stage}" if stage else None


def signed_parts(note: SessionNote) -> dict:
    """What a signature covers of the plan followed, the progress recorded and the SMART parts of the
    note's new steps; nothing when there is none, so the digests of notes signed before still match."""
    parts: dict = {}
    if note.plan_id is not None:
        parts["plan_id"] = note.plan_id
    if note.objective_progress:
        parts["objective_progress"] = [[p.lineage_id, p.plan_objective_id, p.progress, p.comment]
                                       for p in note.objective_progress]
    smart = [[s.objective_lineage_id, s.success_criterion, s.mechanism] for s in note.new_steps]
    if any(any(parts_of_step) for parts_of_step in smart):
        parts["step_plan"] = smart
    return parts
