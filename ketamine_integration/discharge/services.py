"""Discharge summaries: started once a course has ended, saved as a draft, signed and locked with
what the app computed frozen into them, corrected by addenda, and sent to a prescriber as a copy
carrying only what the patient's releases permit."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import Select, func, select

from ..accounts.models import PRESCRIBER, User
from ..coordination.services import permitted
from ..courses.models import TreatmentCourse
from ..db.errors import ConcurrentEdit, DomainError
from ..db.locking import flush_versioned, lock_row
from ..db.signed_records import refuse_unless_author
from ..db.types import utcnow
from ..domain.phases import Phase
from ..patients.models import Patient
from ..extensions import db
from .content import MAX_WRITTEN, compute, kept_sections, written_sections
from .models import DRAFT, SIGNED, DischargeAddendum, DischargeCopy, DischargeSummary

CONCURRENT_SAVE = ("Someone saved this discharge summary after you opened it; what you typed is kept below. "
                   "Compare it with the saved version, then save again.")


def summary_of(course_id: int) -> DischargeSummary | None:
    return db.session.scalar(select(DischargeSummary).where(DischargeSummary.course_id == course_id))


def start_summary(course: TreatmentCourse, *, by: User) -> DischargeSummary:
    """The course's draft (one per course), started only once the course has ended."""
    if not course.current_phase.ended:
        raise DomainError("A discharge summary is written once the course has ended (completed or discontinued).")
    lock_row(course)  # two "start" clicks at once: the second waits, then finds the first's summary
    if summary_of(course.id) is not None:
        raise DomainError("This course's discharge summary was started already: it is shown below.")
    summary = DischargeSummary(course_id=course.id, patient_id=course.patient_id, author_id=by.id, status=DRAFT,
                               written={})
    db.session.add(summary)
    db.session.flush()
    return summary


def _clean(course: TreatmentCourse, written: dict) -> dict:
    """The written sections this course has, trimmed; a text over the limit is refused on its field."""
    cleaned, errors = {}, {}
    for section in written_sections(course):
        text = (written.get(section.key) or "").strip()
        if len(text) > MAX_WRITTEN:
            errors[section.key] = f"At most {MAX_WRITTEN} characters."
        cleaned[section.key] = text
    if errors:
        raise DomainError(errors)
    return cleaned


def save_summary(summary: DischargeSummary, *, written: dict, by: User, expected_version: int) -> None:
    if summary.signed:
        raise DomainError("This discharge summary is signed and locked; add an addendum instead.")
    refuse_unless_author(summary, by)
    if expected_version != summary.version:
        raise ConcurrentEdit(CONCURRENT_SAVE, current_version=summary.version)
    summary.written = _clean(summary.course, written)
    flush_versioned(summary, CONCURRENT_SAVE)


def signature_needs(summary: DischargeSummary) -> dict[str, str]:
    """What the saved draft still needs before it is signed, by field."""
    return {s.key: f"Needed to sign: {s.title.lower()}." for s in written_sections(summary.course)
            if not (summary.written or {}).get(s.key)}


def sign_summary(summary: DischargeSummary, *, by: User, expected_version: int, confirmed: bool = True,
                 now: datetime | None = None) -> None:
    """Sign and lock the saved draft: the computed sections are frozen as they read now. `confirmed`: the
    writer ticked that the summary will be locked (every need is said at once, each on its field)."""
    if summary.signed:
        raise DomainError("This discharge summary is already signed.")
    refuse_unless_author(summary, by)
    if expected_version != summary.version:
        raise ConcurrentEdit(CONCURRENT_SAVE, current_version=summary.version)
    needs = signature_needs(summary)
    if not confirmed:
        needs["confirm_sign"] = "Tick the box to confirm the summary will be locked."
    if needs:
        raise DomainError(needs)
    now = now or utcnow()
    summary.computed = compute(summary.course, now)
    summary.status, summary.signed_at, summary.signed_by_id = SIGNED, now, by.id
    summary.content_digest = content_digest(summary)
    flush_versioned(summary, CONCURRENT_SAVE)


def _canonical(summary: DischargeSummary) -> str:
    signed_at = summary.signed_at
    content = {"course_id": summary.course_id, "patient_id": summary.patient_id, "written": summary.written,
               "computed": summary.computed, "signed_by_id": summary.signed_by_id,
               "signed_at": signed_at.isoformat() if signed_at else None}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_digest(summary: DischargeSummary) -> str:
    """SHA-256 of what the signature covers: the written and the frozen computed sections, who and when."""
    return hashlib.sha256(_canonical(summary).encode()).hexdigest()


def verify_signed_summaries() -> list[tuple[int, bool]]:
    summaries = db.session.scalars(select(DischargeSummary).where(DischargeSummary.status == SIGNED)
                                   .order_by(DischargeSummary.id))
    return [(s.id, content_digest(s) == s.content_digest) for s in summaries]


def add_addendum(summary: DischargeSummary, *, body: str, by: User) -> DischargeAddendum:
    if not summary.signed:
        raise DomainError("A draft is edited directly; addenda are for signed summaries.")
    text = (body or "").strip()
    if not text:
        raise DomainError({"body": "Write the addendum."})
    if len(text) > MAX_WRITTEN:
        raise DomainError({"body": f"At most {MAX_WRITTEN} characters."})
    addendum = DischargeAddendum(summary_id=summary.id, author_id=by.id, body=text)
    summary.addenda.append(addendum)
    db.session.flush()
    return addendum


# -- the prescriber's copy --------------------------------------------------------------------

def sections_permitted(summary: DischargeSummary, categories: set[str] | None) -> tuple[set[str], list[str]]:
    """The section keys a copy under `categories` carries, and the titles of those it leaves out."""
    return kept_sections(categories, discontinued=summary.course.current_phase is Phase.DISCONTINUED)


def prescribers_of(summary: DischargeSummary) -> list[User]:
    return [m.user for m in summary.patient.care_team if m.role == PRESCRIBER]


def send_copy(summary: DischargeSummary, *, recipient_id: int | None, by: User, today: date,
              render: Callable[[DischargeSummary, set[str], User], bytes]) -> DischargeCopy:
    """Store the copy for a prescriber on the care team, with only the sections the releases active
    today permit (`render(summary, categories)` makes its PDF); refused without any release."""
    if not summary.signed:
        raise DomainError("Sign the discharge summary before sending it.")
    recipient = next((u for u in prescribers_of(summary) if u.id == recipient_id), None)
    if recipient is None:
        raise DomainError({"recipient": "Choose a prescriber on the patient's care team."})
    categories, release_ids = permitted(summary.patient_id, recipient.id, today)
    if not categories:
        raise DomainError({"recipient": f"No release of information lets this patient's record go to "
                                        f"{recipient.full_name} today; nothing was sent."})
    pdf = render(summary, categories, recipient)
    copy = DischargeCopy(summary_id=summary.id, patient_id=summary.patient_id, course_id=summary.course_id,
                         recipient_id=recipient.id, release_ids=release_ids, categories=sorted(categories),
                         created_by_id=by.id, pdf=pdf, content_hash=hashlib.sha256(pdf).hexdigest())
    db.session.add(copy)
    db.session.flush()
    return copy


def copies_of(summary_id: int) -> list[DischargeCopy]:
    return db.session.scalars(select(DischargeCopy).where(DischargeCopy.summary_id == summary_id)
                              .order_by(DischargeCopy.created_at.desc())).all()


# -- what is due --------------------------------------------------------------------------------

#: the courses a therapist's home page lists as due (the count counts them all)
DUE_LIMIT = 50


def _due(user: User, caseload: Select) -> Select:
    """The user's courses (they are its therapist) of patients on their caseload that have ended
    without a signed discharge summary."""
    signed = select(DischargeSummary.course_id).where(DischargeSummary.status == SIGNED)
    return select(TreatmentCourse.id).where(
        TreatmentCourse.therapist_id == user.id, TreatmentCourse.patient_id.in_(caseload),
        TreatmentCourse.phase.in_([p.value for p in Phase if p.ended]), TreatmentCourse.id.not_in(signed))


def count_due(user: User, caseload: Select) -> Select:
    """A SELECT of how many discharge summaries are due on the user's courses (home.waiting's one statement)."""
    return select(func.count()).select_from(_due(user, caseload).subquery())


def fetch_due(user: User, caseload: Select) -> list[tuple[int, Patient]]:
    """(course id, patient) of the summaries due on the user's courses, oldest course first: one statement."""
    rows = db.session.execute(select(TreatmentCourse.id, Patient)
                              .join(Patient, Patient.id == TreatmentCourse.patient_id)
                              .where(TreatmentCourse.id.in_(_due(user, caseload)))
                              .order_by(TreatmentCourse.id).limit(DUE_LIMIT)).all()
    return [(course_id, patient) for course_id, patient in rows]


def course_status(course: TreatmentCourse) -> str | None:
    """What the course page says of the summary: "due" (ended, none signed), "signed", or None (not ended)."""
    if not course.current_phase.ended:
        return None
    summary = summary_of(course.id)
    return "signed" if summary is not None and summary.signed else "due"
