"""Treatment plans: revisions drafted by their author, signed and locked, addenda, revising from the
latest signed revision, the course's decision-map stage, and when a plan review is due.

For other packages (the notes' plan panel and stage control, the discharge summary): `active_plan`,
`current_stage`, `record_stage_change`, `review_status`."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime

from sqlalchemy import func, select

from ..accounts.models import User
from ..courses.models import PhaseTransition, TreatmentCourse
from ..db.clinic_time import clinic_today, to_clinic
from ..db.errors import ConcurrentEdit, DomainError
from ..db.locking import flush_versioned, lock_row
from ..db.types import utcnow
from ..domain import plans as rules
from ..domain.measures import MEASURES
from ..domain.phases import Phase
from ..experience.models import DosingSession
from ..extensions import db
from ..protocols.services import protocol_of
from ..protocols.techniques import current_vocabulary
from ..scheduling.after_series import last_series_dose
from . import unfinished
from .models import DRAFT, SIGNED, CourseStageChange, PlanAddendum, PlanObjective, PlanTechnique, TreatmentPlan

CONCURRENT_SAVE = ("Someone saved this plan after you opened it. Your text is below, not saved: review the "
                   "plan and save again to keep your version.")
NO_PLAN = "no plan"


# -- reading -------------------------------------------------------------------------------------

def course_revisions(course_id: int) -> list[TreatmentPlan]:
    """Every revision of the course's plan, newest first."""
    return list(db.session.scalars(select(TreatmentPlan).where(TreatmentPlan.course_id == course_id)
                                   .order_by(TreatmentPlan.revision.desc())))


def active_plan(course_id: int) -> TreatmentPlan | None:
    """The course's plan in force: its latest signed revision, with .objectives (id, lineage_id, goal,
    target, criterion, by_when, mechanism, measure), .techniques (technique_key, technique_name,
    rationale), .pathway, .host_theory and .stage."""
    return db.session.scalar(select(TreatmentPlan).where(TreatmentPlan.course_id == course_id,
                                                         TreatmentPlan.status == SIGNED)
                             .order_by(TreatmentPlan.revision.desc()).limit(1))


def draft_of(course_id: int) -> TreatmentPlan | None:
    return db.session.scalar(select(TreatmentPlan).where(TreatmentPlan.course_id == course_id,
                                                         TreatmentPlan.status == DRAFT))


def stage_history(course_id: int) -> list[CourseStageChange]:
    return list(db.session.scalars(select(CourseStageChange).where(CourseStageChange.course_id == course_id)
                                   .order_by(CourseStageChange.changed_at.desc(), CourseStageChange.id.desc())))


def current_stage(course_id: int) -> str | None:
    """The course's decision-map stage: its latest stage change (None before any)."""
    return db.session.scalar(select(CourseStageChange.stage).where(CourseStageChange.course_id == course_id)
                             .order_by(CourseStageChange.changed_at.desc(), CourseStageChange.id.desc()).limit(1))


# -- drafting --------------------------------------------------------------------------------------

def start_revision(course: TreatmentCourse, *, by: User, today: date | None = None) -> TreatmentPlan:
    """A new draft: the course's first plan, or a copy of its latest signed revision (objectives keep
    their lineage). One draft at a time per course."""
    lock_row(course)  # two "revise" clicks at once make one draft
    _refuse_when_ended(course, today)
    if draft_of(course.id) is not None:
        raise DomainError("This course's plan has a draft already: finish or continue that one.")
    latest = active_plan(course.id)
    revision = (db.session.scalar(select(func.max(TreatmentPlan.revision))
                                  .where(TreatmentPlan.course_id == course.id)) or 0) + 1
    plan = TreatmentPlan(course_id=course.id, patient_id=course.patient_id, revision=revision, author_id=by.id,
                         status=DRAFT, content=dict(latest.content) if latest else {},
                         based_on_id=latest.id if latest else None)
    if latest is not None:
        plan.pathway, plan.host_theory = latest.pathway, latest.host_theory
        plan.objectives = [PlanObjective(lineage_id=o.lineage_id, position=o.position, goal=o.goal, target=o.target,
                                         criterion=o.criterion, by_when=o.by_when, mechanism=o.mechanism,
                                         measure=o.measure) for o in latest.objectives]
        plan.techniques = [PlanTechnique(position=t.position, technique_key=t.technique_key,
                                         technique_name=t.technique_name, rationale=t.rationale)
                           for t in latest.techniques]
    # the course's stage now (a note may have moved it since the last revision), never the last revision's
    plan.stage = current_stage(course.id)
    db.session.add(plan)
    db.session.flush()
    return plan


def _refuse_when_ended(course: TreatmentCourse, today: date | None) -> None:
    """An ended course's plan is its record: read, and amended by addenda to signed revisions, not revised.
    `today`: the clinic day of the act (None: today); only the demo, writing its story's past days,
    gives an earlier one, when the course had not yet ended."""
    if course.current_phase.ended and clinic_today(course.phase_since) <= (today or clinic_today()):
        raise DomainError("This course has ended (completed or discontinued): its plan and stage are kept as they "
                          "were. Add an addendum to a signed revision to correct or complete it.")


def _check_editable(plan: TreatmentPlan, by: User, expected_version: int, today: date) -> None:
    lock_row(plan)  # two saves or signs at once take turns: the second meets the first's version
    _refuse_when_ended(plan.course, today)
    if plan.author_id != by.id:
        raise DomainError("Only the revision's author can change a draft.")
    if plan.version != expected_version:  # before the status: a sign that landed meanwhile is a save too
        raise ConcurrentEdit(CONCURRENT_SAVE, current_version=plan.version)
    if plan.status != DRAFT:
        raise DomainError("This revision is signed and locked; add an addendum, or revise the plan.")


def save_plan(plan: TreatmentPlan, *, by: User, expected_version: int, today: date, content: dict,
              objectives: list[dict], techniques: list[dict], pathway: str | None, host_theory: str | None,
              stage: str | None, review_on: date | None, no_change: bool) -> TreatmentPlan:
    """Save the draft as submitted, or refuse with field errors (nothing saved). `objectives`: rows
    with lineage, goal (1-based number as text), target, criterion, by_when, mechanism, measure (a row
    typed in part is kept as typed until complete: plans.unfinished); `techniques`: rows with
    technique (a vocabulary key) and rationale."""
    _check_editable(plan, by, expected_version, today)
    goals = [str(g or "").strip() for g in content.get("goals", [])]
    rows = [_row(o) for o in objectives]
    problems = rules.objective_problems(rows, goals, _plan_day(plan), set(MEASURES))
    missing, partial = unfinished.set_aside(rows)
    problems.update(_technique_problems(techniques, {t.technique_key for t in plan.techniques}))
    for name, value, known in (("pathway", pathway, rules.PATHWAYS), ("host_theory", host_theory,
                                                                      rules.HOST_THEORIES),
                               ("stage", stage, rules.STAGES)):
        if value and value not in known:
            problems[name] = "Choose one of the options."
    if set(problems) - missing:  # refused: every problem shown, the parts still missing among them
        raise DomainError(problems)
    own = unfinished.lineages(plan.content)
    plan.content = {"problems_patient": content.get("problems_patient") or "",
                    "problems_clinician": content.get("problems_clinician") or "", "goals": goals,
                    **unfinished.content(objectives, rows, partial)}
    plan.pathway, plan.host_theory, plan.stage = pathway or None, host_theory or None, stage or None
    plan.review_on, plan.no_change = review_on, bool(no_change)
    _replace_objectives(plan, objectives, unfinished.complete_rows(rows, partial), goals, own)
    _replace_techniques(plan, techniques)
    flush_versioned(plan, CONCURRENT_SAVE)
    return plan


def _plan_day(plan: TreatmentPlan) -> date:
    return to_clinic(plan.created_at or utcnow()).date()


def _row(o: dict) -> rules.ObjectiveRow:
    return rules.ObjectiveRow(goal=str(o.get("goal") or ""), target=str(o.get("target") or ""),
                              criterion=str(o.get("criterion") or ""), by_when=o.get("by_when"),
                              mechanism=str(o.get("mechanism") or ""), measure=str(o.get("measure") or ""))


def _technique_problems(techniques: list[dict], kept: set[str]) -> dict[str, str]:
    """`kept`: the draft's own techniques, which stay choosable after the vocabulary dropped them."""
    vocabulary, problems, seen = current_vocabulary(), {}, set()
    for index, row in enumerate(techniques):
        key, rationale = (row.get("technique") or "").strip(), (row.get("rationale") or "").strip()
        if not key and not rationale:
            continue
        if not key:
            problems[f"techniques-{index}-technique"] = f"Technique {index + 1}: choose the technique."
        elif vocabulary.get(key) is None and key not in kept:
            problems[f"techniques-{index}-technique"] = f"Technique {index + 1}: not in the clinic's vocabulary."
        elif key in seen:
            problems[f"techniques-{index}-technique"] = f"Technique {index + 1}: planned already above."
        if key and not rationale:
            problems[f"techniques-{index}-rationale"] = f"Technique {index + 1}: say why this technique."
        seen.add(key)
    return problems


def _replace_objectives(plan: TreatmentPlan, submitted: list[dict], rows: list[rules.ObjectiveRow],
                        goals: list[str], unfinished_lineages: set[str] = frozenset()) -> None:
    """The draft's objectives become the submitted rows; a row keeps its lineage only if it is one of
    this draft's own (copied from the previous revision or saved before, complete or unfinished), else
    it starts a new one."""
    own = {o.lineage_id for o in plan.objectives} | set(unfinished_lineages)
    kept, used = [], set()
    for raw, row in zip(submitted, rows):
        if row.empty:
            continue
        lineage = str(raw.get("lineage") or "")
        if lineage not in own or lineage in used:
            lineage = uuid.uuid4().hex
        used.add(lineage)
        kept.append(PlanObjective(lineage_id=lineage, position=len(kept) + 1, goal=goals[int(row.goal) - 1][:300],
                                  target=row.target.strip(), criterion=row.criterion.strip(), by_when=row.by_when,
                                  mechanism=row.mechanism.strip(), measure=row.measure or None))
    plan.objectives.clear()
    flush_versioned(plan, CONCURRENT_SAVE)  # the old rows go before the new ones claim their lineage
    plan.objectives.extend(kept)


def _replace_techniques(plan: TreatmentPlan, submitted: list[dict]) -> None:
    vocabulary = current_vocabulary()
    names = {t.technique_key: t.technique_name for t in plan.techniques}
    plan.techniques.clear()
    for row in submitted:
        key = (row.get("technique") or "").strip()
        if key:
            technique = vocabulary.get(key)
            plan.techniques.append(PlanTechnique(position=len(plan.techniques) + 1, technique_key=key,
                                                 technique_name=technique.name if technique else names[key],
                                                 rationale=row["rationale"].strip()))


# -- signing -------------------------------------------------------------------------------------

def signing_needs(plan: TreatmentPlan, today: date) -> dict[str, str]:
    objectives = [rules.ObjectiveRow(goal="1", target=o.target, criterion=o.criterion, by_when=o.by_when,
                                     mechanism=o.mechanism) for o in plan.objectives]
    problems = rules.signing_problems(rules.PlanDraft(goals=plan.content.get("goals", []), objectives=objectives,
                                                      stage=plan.stage, pathway=plan.pathway,
                                                      review_on=plan.review_on, no_change=plan.no_change), today)
    return {**problems, **unfinished.needs(plan.content)}


def sign_plan(plan: TreatmentPlan, *, by: User, expected_version: int, today: date) -> None:
    """Sign and lock the draft as saved, or refuse with what it still needs, by form field. A stage
    other than the course's current one is recorded as a stage change from this revision."""
    _check_editable(plan, by, expected_version, today)
    problems = signing_needs(plan, today)
    if problems:
        raise DomainError(problems)
    plan.status, plan.signed_at = SIGNED, utcnow()
    plan.content_digest = content_digest(plan)
    flush_versioned(plan, CONCURRENT_SAVE)
    if plan.stage != current_stage(plan.course_id):
        _add_stage_change(plan.course, plan.stage, f"Treatment plan revision {plan.revision} signed", by,
                          plan=plan)


def signed_content(plan: TreatmentPlan) -> dict:
    """What the signature covers, as canonical plain data."""
    return {"id": plan.id, "course_id": plan.course_id, "patient_id": plan.patient_id, "revision": plan.revision,
            "author_id": plan.author_id, "content": plan.content or {}, "pathway": plan.pathway,
            "host_theory": plan.host_theory, "stage": plan.stage,
            "review_on": plan.review_on.isoformat() if plan.review_on else None, "no_change": plan.no_change,
            "based_on_id": plan.based_on_id,
            "objectives": [[o.lineage_id, o.position, o.goal, o.target, o.criterion, o.by_when.isoformat(),
                            o.mechanism, o.measure] for o in plan.objectives],
            "techniques": [[t.position, t.technique_key, t.technique_name, t.rationale] for t in plan.techniques]}


def content_digest(plan: TreatmentPlan) -> str:
    canonical = json.dumps(signed_content(plan), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_signed_plans() -> list[tuple[int, bool]]:
    plans = db.session.scalars(select(TreatmentPlan).where(TreatmentPlan.status == SIGNED)
                               .order_by(TreatmentPlan.id))
    return [(p.id, content_digest(p) == p.content_digest) for p in plans]


def add_addendum(plan: TreatmentPlan, *, body: str, by: User) -> PlanAddendum:
    if plan.status != SIGNED:
        raise DomainError("A draft is edited directly; addenda are for signed revisions.")
    if len((body or "").strip()) < 3:
        raise DomainError({"body": "Write the addendum."})
    addendum = PlanAddendum(plan_id=plan.id, author_id=by.id, body=body.strip())
    plan.addenda.append(addendum)
    db.session.flush()
    return addendum


# -- the decision-map stage ------------------------------------------------------------------------

def record_stage_change(course: TreatmentCourse, stage: str, reason: str, user: User, note=None,
                        today: date | None = None) -> CourseStageChange:
    """Move the course on the decision map, with a reason (any stage may follow any other; the current
    one is refused). `note`: the session note that moved it."""
    lock_row(course)
    _refuse_when_ended(course, today)
    problems = rules.stage_change_problems(current_stage(course.id), stage, reason)
    if problems:
        raise DomainError(problems)
    return _add_stage_change(course, stage, reason.strip(), user, note=note)


def _add_stage_change(course: TreatmentCourse, stage: str, reason: str, user: User, *, plan=None,
                      note=None) -> CourseStageChange:
    change = CourseStageChange(course_id=course.id, patient_id=course.patient_id, stage=stage,
                               previous_stage=current_stage(course.id), reason=reason, changed_by_id=user.id,
                               plan_id=plan.id if plan else None, note_id=note.id if note else None,
                               changed_at=utcnow())
    db.session.add(change)
    db.session.flush()
    return change


# -- review due ----------------------------------------------------------------------------------

def review_status(course_rules: dict[int, rules.PlanReviewRule], today: date,
                  ) -> dict[int, rules.ReviewPoint | str | None]:
    """Per course id (with its protocol's review rule: `review_rule`): NO_PLAN (no signed revision),
    the review point now due, or None (nothing due). Three statements whatever the number of courses
    (the caseload shows it per row)."""
    ids = list(course_rules)
    if not ids:
        return {}
    latest = _latest_signed(ids)
    doses = _signed_doses(ids)
    transitions = _transitions(ids)
    status: dict[int, rules.ReviewPoint | str | None] = {}
    for course_id, rule in course_rules.items():
        plan = latest.get(course_id)
        if plan is None:
            status[course_id] = NO_PLAN
            continue
        signed_on, review_on = plan
        course_doses = doses.get(course_id, [])
        first = min((d.ended_at or d.started_at for d in course_doses if d.ended_at or d.started_at), default=None)
        moments = transitions.get(course_id, {})
        last = last_series_dose(course_doses, moments.get(Phase.MAINTENANCE.value)) \
            if Phase.INTEGRATION.value in moments else None
        points = rules.review_points(rule, review_on=review_on,
                                     first_dose=to_clinic(first).date() if first else None,
                                     series_end=to_clinic(last.ended_at).date() if last else None)
        status[course_id] = rules.review_due(to_clinic(signed_on).date(), today, points)
    return status


def review_words(course_versions: dict, today: date) -> dict[int, str | None]:
    """Per course id (with its ProtocolVersion): "no plan", "plan review due: <why> (<date>)", or None
    (the worklist's words: scheduling.worklist.find_plan_reviews_with)."""
    status = review_status({course_id: review_rule(version) for course_id, version in course_versions.items()},
                           today)
    return {course_id: None if due is None else due if due == NO_PLAN else f"plan review due: {due.why} ({due.on})"
            for course_id, due in status.items()}


def review_rule(version) -> rules.PlanReviewRule:
    """The re-evaluation points of a course's protocol (its ProtocolVersion); the default when it names none."""
    declared = protocol_of(version).plan_review
    if declared is None:
        return rules.DEFAULT_REVIEW_RULE
    return rules.PlanReviewRule(after_series=declared.after_series,
                                days_after_first_dose=tuple(declared.days_after_first_dose))


def _latest_signed(ids: list[int]) -> dict[int, tuple[datetime, date | None]]:
    rows = db.session.execute(select(TreatmentPlan.course_id, TreatmentPlan.revision, TreatmentPlan.signed_at,
                                     TreatmentPlan.review_on)
                              .where(TreatmentPlan.course_id.in_(ids), TreatmentPlan.status == SIGNED)
                              .order_by(TreatmentPlan.course_id, TreatmentPlan.revision))
    return {course_id: (signed_at, review_on) for course_id, _, signed_at, review_on in rows}


def _signed_doses(ids: list[int]) -> dict[int, list]:
    rows = db.session.execute(select(DosingSession.course_id, DosingSession.status, DosingSession.started_at,
                                     DosingSession.ended_at)
                              .where(DosingSession.course_id.in_(ids), DosingSession.status == SIGNED))
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row.course_id, []).append(row)
    return found


def _transitions(ids: list[int]) -> dict[int, dict[str, datetime]]:
    rows = db.session.execute(select(PhaseTransition.course_id, PhaseTransition.to_phase,
                                     PhaseTransition.occurred_at)
                              .where(PhaseTransition.course_id.in_(ids))
                              .order_by(PhaseTransition.occurred_at, PhaseTransition.id))
    found: dict[int, dict[str, datetime]] = {}
    for course_id, phase, at in rows:
        found.setdefault(course_id, {})[phase] = at
    return found
