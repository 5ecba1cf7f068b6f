"""The care-planning part of a right-of-access copy (45 CFR 164.524): the signed treatment plans with their
SMART objectives and the progress notes recorded on them, the case formulation, the signed safety plans
with their addenda and reviews, and the journal entries the patient shared with the clinic.

All of it is designated record set (164.501: records used to make decisions about the patient). A draft
plan is not yet part of the record; a journal entry the patient keeps private (never shared, or its
share withdrawn) was never given to the clinic and stays out. Each part is one query for the patient,
whatever the number of courses, revisions or entries.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..courses.models import TreatmentCourse
from ..db.clinic_time import format_local
from ..documents.record_summary import Fact, JournalRow, NoteRecord, NoteSection, ObjectiveRecord, PlanRecord
from ..domain.journal import PROMPTS
from ..domain.plans import HOST_THEORIES
from ..domain.safety_plans import SECTIONS as SAFETY_SECTIONS
from ..extensions import db
from ..journal.models import JournalEntry
from ..notes.forms import CARRIED, FORMULATION_SECTIONS
from ..notes.models import CaseFormulation
from ..plans.models import SIGNED, PlanAddendum, PlanObjective, TreatmentPlan
from ..plans.progress import ProgressEntry, patient_progress_history, progress_until
from ..practices.vocabulary import practice_words
from ..safety_plans.models import REVIEW_CHANGES, SafetyPlanAddendum, SafetyPlanReview, SafetyPlanRevision


def _course_title(course: TreatmentCourse) -> str:
    return f"course from {course.start_date.isoformat()}"


# -- treatment plans -------------------------------------------------------------------------

def plan_records(patient_id: int) -> tuple[PlanRecord, ...]:
    """Every signed revision of the patient's treatment plans, course by course, oldest first."""
    plans = db.session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient_id,
                                                           TreatmentPlan.status == SIGNED)
                               .options(joinedload(TreatmentPlan.course),
                                        selectinload(TreatmentPlan.addenda).joinedload(PlanAddendum.author))
                               .order_by(TreatmentPlan.course_id, TreatmentPlan.revision)).unique().all()
    progress = patient_progress_history(patient_id) if plans else {}
    return tuple(_plan(plan, progress) for plan in plans)


def _plan(plan: TreatmentPlan, progress: dict[str, list[ProgressEntry]]) -> PlanRecord:
    return PlanRecord(
        title=f"Treatment plan, revision {plan.revision} ({_course_title(plan.course)})",
        signed=f"Signed by {plan.author.display_name} on {format_local(plan.signed_at)}",
        facts=tuple(Fact(label, value) for label, value in plan.facts()), goals=tuple(plan.goals),
        objectives=tuple(_objective(o, progress_until(o, progress.get(o.lineage_id, []))) for o in plan.objectives),
        techniques=tuple(Fact(t.technique_name, t.rationale) for t in plan.techniques),
        addenda=tuple(NoteSection(f"Addendum by {a.author.display_name}, {format_local(a.created_at)}", a.body)
                      for a in plan.addenda))


def _objective(objective: PlanObjective, progress: list[ProgressEntry]) -> ObjectiveRecord:
    facts = [Fact("Goal it serves", objective.goal), Fact("Success", objective.criterion),
             Fact("By", objective.by_when.isoformat()), Fact("Why it should help", objective.mechanism)]
    if objective.measure:
        facts.append(Fact("Measured by", objective.measure_name))
    return ObjectiveRecord(target=objective.target, facts=tuple(facts), progress=tuple(p.words for p in progress))


# -- case formulation ------------------------------------------------------------------------

def formulation_records(patient_id: int) -> tuple[NoteRecord, ...]:
    """Every saved revision of the case formulation of each of the patient's courses, oldest first."""
    rows = db.session.execute(select(CaseFormulation, TreatmentCourse)
                              .join(TreatmentCourse, CaseFormulation.course_id == TreatmentCourse.id)
                              .where(TreatmentCourse.patient_id == patient_id)
                              .order_by(CaseFormulation.course_id, CaseFormulation.revision)).all()
    practices = practice_words() if rows else {}
    return tuple(NoteRecord(title=f"Case formulation, revision {f.revision} ({_course_title(course)})",
                            signed=f"Saved by {f.author.display_name} on {format_local(f.saved_at)}",
                            sections=tuple(_formulation_sections(f.content or {}, practices)), addenda=())
                 for f, course in rows)


def _formulation_sections(content: dict, practices: dict[str, str]) -> Iterable[NoteSection]:
    for key, label in FORMULATION_SECTIONS.items():
        if (content.get(key) or "").strip():
            yield NoteSection(label, content[key])
    if content.get("host_theory"):
        yield NoteSection(CARRIED["host_theory"], HOST_THEORIES.get(content["host_theory"], content["host_theory"]))
    techniques = [t["technique"] + (f": {t['rationale']}" if t.get("rationale") else "")
                  for t in content.get("techniques") or []]
    if techniques:
        yield NoteSection(CARRIED["techniques"], "\n".join(techniques))
    if content.get("practices"):
        yield NoteSection(CARRIED["practices"], ", ".join(practices.get(p, p) for p in content["practices"]))


# -- safety plan -----------------------------------------------------------------------------

def safety_plan_records(patient_id: int) -> tuple[NoteRecord, ...]:
    """Every signed revision of the patient's safety plan, oldest first, with its addenda and the reviews
    that found it in force (a draft is not yet part of the record)."""
    revisions = db.session.scalars(select(SafetyPlanRevision).where(SafetyPlanRevision.patient_id == patient_id,
                                                                    SafetyPlanRevision.status == SIGNED)
                                   .options(selectinload(SafetyPlanRevision.addenda)
                                            .joinedload(SafetyPlanAddendum.author))
                                   .order_by(SafetyPlanRevision.revision)).unique().all()
    reviews: dict[int, list[SafetyPlanReview]] = {}
    if revisions:
        for review in db.session.scalars(select(SafetyPlanReview).where(SafetyPlanReview.patient_id == patient_id)
                                         .order_by(SafetyPlanReview.reviewed_on, SafetyPlanReview.id)):
            reviews.setdefault(review.revision_id, []).append(review)
    return tuple(_safety_plan(r, reviews.get(r.id, [])) for r in revisions)


def _safety_plan(revision: SafetyPlanRevision, reviews: list[SafetyPlanReview]) -> NoteRecord:
    addenda = [NoteSection(f"Addendum by {a.author.display_name}, {format_local(a.created_at)}", a.body)
               for a in revision.addenda]
    addenda += [NoteSection(f"Reviewed {r.reviewed_on.isoformat()} by {r.reviewed_by.display_name}"
                            + (", with the patient" if r.with_patient else ""),
                            REVIEW_CHANGES.get(r.changes, r.changes) + (f". {r.comment}" if r.comment else ""))
                for r in reviews]
    return NoteRecord(title=f"Safety plan, revision {revision.revision}",
                      signed=f"Signed by {revision.signed_by.display_name} on {format_local(revision.signed_at)}",
                      sections=tuple(_safety_sections(revision.content or {})), addenda=tuple(addenda))


def _safety_sections(content: dict) -> Iterable[NoteSection]:
    for section in SAFETY_SECTIONS:
        items = content.get(section.key) or []
        if section.kind == "contacts":
            items = [" ".join(v for v in (row.get("name"), row.get("phone")) if v) for row in items]
        if items:
            yield NoteSection(section.heading, "\n".join(items))


# -- journal ---------------------------------------------------------------------------------

def journal_rows(patient_id: int) -> tuple[JournalRow, ...]:
    """The entries the patient shares with the clinic now, oldest first. A private entry (never shared, or
    its share withdrawn) is the patient's own and never read here."""
    entries = db.session.scalars(select(JournalEntry).where(JournalEntry.patient_id == patient_id,
                                                            JournalEntry.shared_at.is_not(None))
                                 .order_by(JournalEntry.written_at, JournalEntry.id))
    return tuple(JournalRow(written=format_local(e.written_at),
                            prompt=PROMPTS[e.prompt].label if e.prompt in PROMPTS else e.prompt, text=e.text)
                 for e in entries)
