"""Writing, signing, amending and reviewing a patient's safety plan, and reading its state for the
pages that link to it (the risk screen, every safety alert)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from ..accounts.models import User
from ..db.append_only import digest
from ..db.clinic_time import to_clinic
from ..db.errors import ConcurrentEdit, DomainError
from ..db.signed_records import SIGNED, refuse_unless_author
from ..db.types import utcnow
from ..domain import safety_plans as rules
from ..domain.text import written_length
from ..extensions import db
from ..patients.models import Patient
from .models import DRAFT, REVIEW_CHANGES, REVISED, SafetyPlanAddendum, SafetyPlanReview, SafetyPlanRevision, edit_token

#: what a revision's signature covers: what it says, whose plan, who wrote and signed it, when
SIGNED_COLUMNS = ("patient_id", "revision", "content", "author_id", "signed_by_id", "signed_at")
#: an addendum says something, in characters written (spaces not counted)
ADDENDUM_MINIMUM, ADDENDUM_MAXIMUM = 5, 5000
COMMENT_MAXIMUM = 2000


@dataclass(frozen=True)
class PlanState:
    """What a page linking to a patient's plan says of it: the signed revision in force, a draft, the
    last review."""

    patient_id: int
    #: revision number of the signed plan in force, or None
    signed_revision: int | None
    signed_at: datetime | None
    #: revision number of a draft being written, or None
    draft_revision: int | None
    last_reviewed_on: date | None

    @property
    def exists(self) -> bool:
        return self.signed_revision is not None


def history(patient_id: int) -> list[SafetyPlanRevision]:
    """Every revision of the patient's plan, newest first."""
    return list(db.session.scalars(select(SafetyPlanRevision).where(SafetyPlanRevision.patient_id == patient_id)
                                   .order_by(SafetyPlanRevision.revision.desc())))


def reviews(patient_id: int) -> list[SafetyPlanReview]:
    return list(db.session.scalars(select(SafetyPlanReview).where(SafetyPlanReview.patient_id == patient_id)
                                   .order_by(SafetyPlanReview.reviewed_on.desc(), SafetyPlanReview.id.desc())))


def current_plan(patient_id: int) -> SafetyPlanRevision | None:
    """The signed revision in force: the latest signed one."""
    return db.session.scalar(select(SafetyPlanRevision).where(SafetyPlanRevision.patient_id == patient_id,
                                                              SafetyPlanRevision.status == SIGNED)
                             .order_by(SafetyPlanRevision.revision.desc()).limit(1))


def plan_states(patient_ids) -> dict[int, PlanState]:
    """Each patient's plan state, in two queries whatever the number of patients (alert lists)."""
    ids = sorted({int(i) for i in patient_ids if i is not None})
    if not ids:
        return {}
    revisions: dict[int, dict] = {i: {} for i in ids}
    rows = db.session.execute(select(SafetyPlanRevision.patient_id, SafetyPlanRevision.revision,
                                     SafetyPlanRevision.status, SafetyPlanRevision.signed_at)
                              .where(SafetyPlanRevision.patient_id.in_(ids)))
    for patient_id, revision, status, signed_at in rows:
        seen = revisions[patient_id]
        if status == SIGNED and revision > seen.get("signed", (0, None))[0]:
            seen["signed"] = (revision, signed_at)
        elif status == DRAFT:
            seen["draft"] = revision
    reviewed = dict(db.session.execute(select(SafetyPlanReview.patient_id, func.max(SafetyPlanReview.reviewed_on))
                                       .where(SafetyPlanReview.patient_id.in_(ids))
                                       .group_by(SafetyPlanReview.patient_id)).all())
    return {i: PlanState(i, *(revisions[i].get("signed") or (None, None)), revisions[i].get("draft"), reviewed.get(i))
            for i in ids}


def plan_state(patient_id: int) -> PlanState:
    return plan_states([patient_id])[patient_id]


def _lock_patient(patient: Patient) -> None:
    # two writers of one patient's plan take turns: the next revision number and the one draft
    db.session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update(key_share=True))


def _latest(patient_id: int) -> SafetyPlanRevision | None:
    return db.session.scalar(select(SafetyPlanRevision).where(SafetyPlanRevision.patient_id == patient_id)
                             .order_by(SafetyPlanRevision.revision.desc()).limit(1))


def save_draft(patient: Patient, *, content: dict, by: User, expected: int) -> SafetyPlanRevision:
    """Save the draft (a new one, the next revision, when the latest is signed or there is none), or
    refuse with the problems by form field; nothing is written then. `expected`: the edit token the
    form was opened on (models.edit_token); another save since then is refused, the text kept."""
    plan, problems = rules.clean(content)
    if problems:
        raise DomainError(problems)
    if rules.is_empty(plan):
        raise DomainError("Write at least one section of the plan.")
    _lock_patient(patient)
    latest = _latest(patient.id)
    if latest is not None and latest.status == DRAFT:
        refuse_unless_author(latest, by)
    if edit_token(latest) != expected:
        raise ConcurrentEdit("Someone saved or signed the safety plan after you opened it; your text is below, not "
                             "saved. Review the current plan and save again.", current_version=edit_token(latest))
    if latest is not None and latest.status == DRAFT:
        latest.content, latest.updated_at, latest.saves = plan, utcnow(), latest.saves + 1
        db.session.flush()
        return latest
    draft = SafetyPlanRevision(patient_id=patient.id, revision=(latest.revision if latest else 0) + 1, status=DRAFT,
                               content=plan, author_id=by.id)
    db.session.add(draft)
    db.session.flush()
    return draft


def signature(values) -> str:
    return digest("safety_plan_revisions", values, SIGNED_COLUMNS)


def sign(draft: SafetyPlanRevision, *, by: User, now: datetime | None = None) -> None:
    """Sign and lock the draft as saved, or refuse with what it still needs, by form field. `now`: the
    moment of signing (the request's; the demo's invented history gives its own)."""
    if draft.status != DRAFT:
        raise DomainError("This revision is signed already; write a new revision or an addendum.")
    refuse_unless_author(draft, by)
    problems = rules.signing_problems(draft.content)
    if problems:
        raise DomainError(problems)
    draft.status, draft.signed_at, draft.signed_by_id = SIGNED, now or utcnow(), by.id
    draft.signature_digest = signature({c: getattr(draft, c) for c in SIGNED_COLUMNS})
    db.session.flush()


def verify_signed_safety_plans() -> list[tuple[int, bool]]:
    """(revision id, its signature still matches) for every signed revision."""
    table = SafetyPlanRevision.__table__
    rows = db.session.execute(select(table.c.id, table.c.signature_digest, *(table.c[c] for c in SIGNED_COLUMNS))
                              .where(table.c.status == SIGNED).order_by(table.c.id))
    return [(row.id, row.signature_digest == signature(row._mapping)) for row in rows]


def add_addendum(revision: SafetyPlanRevision, *, body: str, by: User) -> SafetyPlanAddendum:
    if revision.status != SIGNED:
        raise DomainError("A draft is edited directly; addenda are for signed revisions.")
    if not ADDENDUM_MINIMUM <= written_length(body) or len(body) > ADDENDUM_MAXIMUM:
        raise DomainError({"body": f"Write the addendum ({ADDENDUM_MINIMUM} to {ADDENDUM_MAXIMUM} characters)."})
    addendum = SafetyPlanAddendum(revision_id=revision.id, author_id=by.id, body=body.strip())
    revision.addenda.append(addendum)
    db.session.flush()
    return addendum


def record_review(patient: Patient, *, reviewed_on: date, with_patient: bool, changes: str, comment: str | None,
                  by: User, today: date) -> SafetyPlanReview:
    """Sign a review of the plan in force. "Revised" needs a revision signed since the previous review
    (the review names it); a review in the future, dated before the revision it reviews was signed, or of
    no signed plan, is refused."""
    problems = {}
    if reviewed_on > today:
        problems["reviewed_on"] = "The review cannot be in the future."
    if changes not in REVIEW_CHANGES:
        problems["changes"] = "Say whether the review changed the plan."
    if comment and len(comment) > COMMENT_MAXIMUM:
        problems["comment"] = f"Keep the comment to {COMMENT_MAXIMUM} characters at most."
    if problems:
        raise DomainError(problems)
    _lock_patient(patient)
    plan = current_plan(patient.id)
    if plan is None:
        raise DomainError("There is no signed safety plan to review: write and sign one first.")
    _refuse_predating(plan, reviewed_on)
    previous = db.session.scalar(select(SafetyPlanReview).where(SafetyPlanReview.patient_id == patient.id)
                                 .order_by(SafetyPlanReview.id.desc()).limit(1))
    if changes == REVISED and (plan.revision == 1 and previous is None or
                               previous is not None and previous.revision_id == plan.id):
        raise DomainError({"changes": "No new revision was signed since the last review: sign the revised plan "
                                      "first, then record the review (or record it as no changes)."})
    review = SafetyPlanReview(patient_id=patient.id, revision_id=plan.id, reviewed_on=reviewed_on,
                              reviewed_by_id=by.id, with_patient=with_patient, changes=changes,
                              comment=(comment or "").strip() or None)
    db.session.add(review)
    db.session.flush()
    return review


def _refuse_predating(plan: SafetyPlanRevision, reviewed_on: date) -> None:
    """A review reviews a signed revision: it cannot be dated before the clinic's day of that signature."""
    signed_on = to_clinic(plan.signed_at).date()
    if reviewed_on < signed_on:
        raise DomainError({"reviewed_on": f"The review cannot predate the revision it reviews: revision "
                                          f"{plan.revision} was signed on {signed_on.day} {signed_on:%B %Y}."})
