"""Notes: drafts their author edits, signing and locking, addenda, process notes, case
formulations, measures and safety alerts."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import defer, joinedload, lazyload

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import to_clinic
from ..db.types import utcnow
from ..domain.text import is_written, written_length
from ..domain import measures as scoring
from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from ..db.locking import flush_versioned, lock_row
from ..domain import note_plan
from . import dosing_links, dosing_notes, plan_in_note, session_time, technique_uses
from ..protocols.techniques import current_vocabulary
from ..scheduling.attendance import attended_by_note
from ..practices.vocabulary import practice_words
from .forms import FIELDS, FORMULATION_SECTIONS, HOST_THEORIES
from .baselines import course_measures
from .models import (DOSING, DRAFT, INTEGRATION, SIGNED, VOID_REASON_MINIMUM, ActionCheckIn, ActionStep,
                     CaseFormulation, MeasureResponse, NoteAddendum, NoteDosingLink, NoteTheme, ProcessNote,
                     SafetyAlert, SessionNote, Theme)
from .safety import acknowledge_alert, open_alerts, raise_for_response, raise_for_risk_screen

#: read by the pages that show alerts and measures (home, coordination, the course page)
__all__ = ["acknowledge_alert", "course_measures", "open_alerts"]

CONCURRENT_SAVE = ("Someone saved this note after you opened it. Your text is below, not saved: review the "
                   "note and save again to keep your version.")


# -- drafts ------------------------------------------------------------------------------

def create_note(course: TreatmentCourse, *, kind: str, session_date: date, by: User, today: date) -> SessionNote:
    """A draft preparation or integration note (a dosing-session note is started from its dosing
    record: notes.dosing_notes)."""
    if kind == DOSING:
        raise DomainError({"kind": "A dosing-session note is started from its dosing session's record."})
    if kind not in FIELDS:
        raise DomainError({"kind": "Unknown kind of note."})
    if not by.can("notes.write"):
        raise DomainError("Session notes are written by therapists.")
    if session_date > today:
        raise DomainError({"session_date": "A note documents a session that has taken place."})
    if course.current_phase.ended and kind == "preparation":
        raise DomainError({"kind": "The course has ended."})
    note = SessionNote(course_id=course.id, patient_id=course.patient_id, kind=kind, session_date=session_date,
                       author_id=by.id, content={})
    db.session.add(note)
    db.session.flush()
    return note


def course_notes(course_id: int) -> list[SessionNote]:
    """A course's notes for a list (kind, date, author, status): none of their contents loaded
    (reading each note's content JSON was most of the course page's database time)."""
    return db.session.scalars(select(SessionNote).where(SessionNote.course_id == course_id,
                                                        SessionNote.discarded_at.is_(None))
                              .options(defer(SessionNote.content), lazyload("*"), joinedload(SessionNote.author))
                              .order_by(SessionNote.session_date.desc(), SessionNote.id.desc())).all()


DISCARDED = "This draft was discarded; its text was not kept. Start a new note."


def _check_editable(note: SessionNote, by: User, expected_version: int) -> None:
    if note.author_id != by.id:
        raise DomainError("Only the note's author can change a draft.")
    if note.status != DRAFT:
        raise DomainError("This note is signed and locked; add an addendum instead.")
    if note.discarded:
        raise DomainError(DISCARDED)
    if note.version != expected_version:
        raise ConcurrentEdit(CONCURRENT_SAVE, current_version=note.version)


def open_steps(course_id: int, *, before: SessionNote | None = None) -> list[ActionStep]:
    """Open action steps agreed in signed notes of the course: the ones to check in on."""
    stmt = (select(ActionStep).join(SessionNote, SessionNote.id == ActionStep.note_id)
            .where(ActionStep.course_id == course_id, ActionStep.status == "open", SessionNote.status == SIGNED)
            .order_by(ActionStep.id))
    if before is not None:
        stmt = stmt.where(SessionNote.id != before.id)
    return db.session.scalars(stmt).all()


def save_note(note: SessionNote, *, by: User, expected_version: int, today: date, session_date: date,
              content: dict, themes: list[dict], new_steps: list[dict], check_ins: list[dict],
              dosing_ids: list[int], dosing_exceptions: list[int] = (),
              exception_reason: str | None = None, techniques: list[dict] = (),
              technique_responses: list[dict] = (), objective_progress: list[dict] = ()) -> SafetyAlert | None:
    """Replace a draft's content with what the author submitted (nothing partial). Returns the
    safety alert its risk screen raised, if this save raised one.

    dosing_ids: the dosing sessions whose windows the session served (each window must include
    the session date); dosing_exceptions: ones whose windows do not, served all the same for
    `exception_reason` (a late review); techniques: the vocabulary's techniques used, each with its
    rationale; technique_responses: how the patient responded to those of the previous signed note;
    objective_progress: progress on the objectives of the course's active plan, which the note
    follows (it stores which revision; new steps serve its objectives)."""
    _check_editable(note, by, expected_version)
    plan = plan_in_note.followed_plan(note)
    problems = {}
    if session_date > today:
        problems["session_date"] = "A note documents a session that has taken place."
    if note.kind == DOSING and session_date != dosing_notes.dose_day(note.dosing_session):
        problems["session_date"] = "A dosing-session note is dated the day of its dosing session."
    problems.update(_theme_problems(themes))
    problems.update(note_plan.step_problems(new_steps, plan_in_note.objective_ids(plan)))
    problems.update(plan_in_note.stage_move_problems(note, content))
    progress, progress_problems = plan_in_note.resolve_progress(list(objective_progress), plan)
    problems.update(progress_problems)
    problems.update(_check_in_problems(check_ins, open_steps(note.course_id, before=note)))
    choices = dosing_links.dosing_choices(note.course, session_date) if dosing_ids or dosing_exceptions else []
    links, link_problems = dosing_links.resolve_links(choices, list(dosing_ids), list(dosing_exceptions),
                                                      exception_reason)
    problems.update(link_problems)
    uses, responses, technique_problems = technique_uses.resolve(note, session_date, list(techniques),
                                                                 list(technique_responses), current_vocabulary())
    problems.update(technique_problems)
    if problems:
        raise DomainError(problems)
    # the old check-ins go first: one saved again on the same step would meet the row it replaces
    # (one check-in per note and step) if the new rows were inserted before the old ones are deleted
    note.check_ins, note.technique_responses, note.objective_progress = [], [], []
    flush_versioned(note, CONCURRENT_SAVE)
    note.session_date, note.content = session_date, content
    note.themes = [NoteTheme(theme_id=r.get("theme_id"), free_theme=r.get("free_theme"),
                             patient_words=r.get("patient_words")) for r in themes]
    for old in list(note.new_steps):
        db.session.delete(old)
    note.new_steps = [_step(note, step) for step in new_steps]
    note.check_ins = [ActionCheckIn(action_step_id=r["step_id"], progress=r["progress"], obstacles=r.get("obstacles"),
                                    decision=r["decision"], adjustment=r.get("adjustment")) for r in check_ins]
    note.dosing_links = [NoteDosingLink(dosing_session_id=i, exception_reason=reason) for i, reason in links.items()]
    note.techniques, note.technique_responses = uses, responses
    note.plan_id, note.objective_progress = (plan.id if plan else None), progress
    note.updated_at = utcnow()
    flush_versioned(note, CONCURRENT_SAVE)
    return raise_for_risk_screen(note)


def _theme_problems(themes: list[dict]) -> dict[str, str]:
    """Each theme row names a listed theme or the author's own words for one, not both."""
    known_themes = {t.id for t in db.session.scalars(select(Theme))}
    problems = {}
    for i, row in enumerate(themes):
        where = f"themes-{row.get('row', i)}"
        if row.get("theme_id") and row["theme_id"] not in known_themes:
            problems[f"{where}-theme"] = "Choose a theme from the list."
        elif not row.get("theme_id") and not is_written(row.get("free_theme")):
            problems[f"{where}-free_theme"] = "Name the theme these words belong to."
        elif row.get("theme_id") and row.get("free_theme"):
            problems[f"{where}-free_theme"] = "Choose a theme from the list or write your own, not both."
    return problems


def _step(note: SessionNote, step: dict) -> ActionStep:
    return ActionStep(course_id=note.course_id, what=step["what"], how_often=step["how_often"],
                      starts_on=step["starts_on"], review_on=step["review_on"],
                      linked_insight=step.get("linked_insight"), objective_lineage_id=step.get("objective") or None,
                      success_criterion=step.get("success_criterion"), mechanism=step.get("mechanism"))


def _check_in_problems(check_ins: list[dict], open_now: list[ActionStep]) -> dict[str, str]:
    """Each check-in is on a different open step of the course and says how it went and what next."""
    steps, seen, problems = {s.id for s in open_now}, set(), {}
    for i, row in enumerate(check_ins):
        where = f"check_ins-{row.get('row', i)}"
        if row["step_id"] not in steps or row["step_id"] in seen:
            problems[f"{where}-progress"] = "That action step is not open on this course (or is checked twice)."
        elif not row.get("progress") or not row.get("decision"):
            problems[f"{where}-decision" if row.get("progress") else f"{where}-progress"] = \
                "Say how it went and what happens next (or leave the whole check-in empty)."
        elif row.get("decision") == "adjust" and not is_written(row.get("adjustment")):
            problems[f"{where}-adjustment"] = "Say how the step is adjusted."
        seen.add(row["step_id"])
    return problems


# -- signing -----------------------------------------------------------------------------

#: the experience review: signing needs at least one of its sections
EXPERIENCE_REVIEW = ("stood_out", "emotions", "imagery", "surprises", "meaningful")


def signature_problems(kind: str, content: dict) -> dict[str, str]:
    """What a note of `kind` with `content` still needs before it can be signed, by form field."""
    c, problems = content or {}, {}
    if kind == DOSING:
        return dosing_notes.signing_problems(c)
    if kind == INTEGRATION:
        if not any(is_written(c.get(k)) for k in EXPERIENCE_REVIEW):
            problems["stood_out"] = "Signing needs the experience review: write at least one of its sections."
        if not c.get("self_harm_thoughts"):
            problems["self_harm_thoughts"] = ("Signing needs the risk screen: answer whether there are thoughts "
                                              "of self-harm.")
        elif c["self_harm_thoughts"] == "yes":
            if not c.get("self_harm_intent"):
                problems["self_harm_intent"] = "Thoughts of self-harm were reported: answer the question on intent."
            if c.get("safety_plan_reviewed") != "yes":
                problems["safety_plan_reviewed"] = ("Thoughts of self-harm were reported: review the safety plan "
                                                    "before signing.")
    else:
        if not is_written(c.get("intentions")):
            problems["intentions"] = "Signing needs at least one intention."
        if not c.get("readiness"):
            problems["readiness"] = "Signing needs the patient's readiness."
    return problems


def sign_note(note: SessionNote, *, by: User, expected_version: int, now: datetime | None = None) -> None:
    """Sign and lock the draft as saved, or refuse with what it still needs, by form field; at
    `now` (default: the clock), the session it documents has taken place (notes.session_time). A
    signed preparation note needs no checklist tick: the checklist reads the signed notes
    themselves (notes.checklist)."""
    _check_editable(note, by, expected_version)
    problems = signature_problems(note.kind, note.content)
    if problems:
        raise DomainError(problems)
    ahead = session_time.session_ahead(note, now or utcnow())
    if ahead is not None:
        raise DomainError(session_time.not_yet_held(ahead))
    if note.kind == DOSING:
        dosing_notes.sign_dosing_note(note, by)  # the dose given, the signer there: checked again now
    plan_in_note.move_stage_on_signing(note, by)  # refused (with its field) before anything is signed
    note.status, note.signed_at = SIGNED, utcnow()
    note.content_digest = content_digest(note)
    raise_for_risk_screen(note)  # saving raised it already, unless the draft predates the rule
    for check_in in note.check_ins:
        if check_in.decision == "stop":
            check_in.step.status = "stopped"
    flush_versioned(note, CONCURRENT_SAVE)
    # the signed note proves its session was held: its booking, if one matches, says attended
    attended_by_note(note, by=by)


def signed_content(note: SessionNote) -> dict:
    """What the signature covers, as canonical plain data."""
    return {
        "id": note.id, "course_id": note.course_id, "patient_id": note.patient_id, "kind": note.kind,
        "session_date": note.session_date.isoformat(), "author_id": note.author_id,
        "content": note.content or {},
        "themes": [[t.theme_id, t.free_theme, t.patient_words] for t in note.themes],
        "new_steps": [[s.what, s.how_often, s.starts_on.isoformat(), s.review_on.isoformat(), s.linked_insight]
                      for s in note.new_steps],
        "check_ins": [[c.action_step_id, c.progress, c.obstacles, c.decision, c.adjustment] for c in note.check_ins],
        "dosing_sessions": sorted(link.dosing_session_id for link in note.dosing_links),
        # only on a dosing-session note: the digests of the other notes still match
        **({"dosing_session_id": note.dosing_session_id} if note.dosing_session_id is not None else {}),
        # only when there are any: the digests of notes signed before exceptions existed still match
        **({"dosing_exceptions": {str(link.dosing_session_id): link.exception_reason
                                  for link in note.dosing_links if link.exception_reason}}
           if any(link.exception_reason for link in note.dosing_links) else {}),
        **technique_uses.signed_parts(note),
        **plan_in_note.signed_parts(note),
    }


def content_digest(note: SessionNote) -> str:
    canonical = json.dumps(signed_content(note), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_signed_notes() -> list[tuple[int, bool]]:
    notes = db.session.scalars(select(SessionNote).where(SessionNote.status == SIGNED).order_by(SessionNote.id))
    return [(n.id, content_digest(n) == n.content_digest) for n in notes]


def add_addendum(note: SessionNote, *, body: str, by: User) -> NoteAddendum:
    if note.status != SIGNED:
        raise DomainError("A draft is edited directly; addenda are for signed notes.")
    addendum = NoteAddendum(note_id=note.id, author_id=by.id, body=body.strip())
    note.addenda.append(addendum)
    db.session.flush()
    return addendum


# -- process notes -------------------------------------------------------------------------

def process_note_of(note: SessionNote, user: User) -> ProcessNote | None:
    """The note's process notes, for their author only (anyone else gets None, always)."""
    if note.author_id != user.id:
        return None
    return db.session.scalar(select(ProcessNote).where(ProcessNote.note_id == note.id,
                                                       ProcessNote.author_id == user.id))


def has_process_note(note: SessionNote, user: User) -> bool:
    """Whether `user`, the note's author, has written process notes on it (the text is not read:
    the note page only links to them)."""
    return note.author_id == user.id and db.session.scalar(select(exists().where(
        ProcessNote.note_id == note.id, ProcessNote.author_id == user.id)))


def save_process_note(note: SessionNote, *, body: str, by: User, expected_version: int | None) -> ProcessNote:
    if note.author_id != by.id:
        raise DomainError("Process notes belong to the note's author.")
    # Lock the note: two first saves at once must not both create the process note.
    db.session.execute(select(SessionNote.id).where(SessionNote.id == note.id).with_for_update(key_share=True))
    current = process_note_of(note, by)
    if current is None:
        current = ProcessNote(note_id=note.id, author_id=by.id, body=body)
        db.session.add(current)
        db.session.flush()
        return current
    if expected_version != current.version:
        raise ConcurrentEdit("Your process notes changed in another window; your text is below, not saved.",
                             current_version=current.version)
    current.body = body
    flush_versioned(current, "Your process notes changed in another window; your text is below, not saved.")
    return current


# -- case formulation ----------------------------------------------------------------------

def current_formulation(course_id: int) -> CaseFormulation | None:
    return db.session.scalar(select(CaseFormulation).where(CaseFormulation.course_id == course_id)
                             .order_by(CaseFormulation.revision.desc()).limit(1))


def save_formulation(course: TreatmentCourse, *, content: dict, by: User, expected_revision: int,
                     approach: dict | None = None) -> CaseFormulation:
    """A new revision of the sections and the approach (host theory, techniques, practices: what
    each new integration note starts from); the earlier ones stay as its history."""
    db.session.execute(select(TreatmentCourse.id).where(TreatmentCourse.id == course.id)
                       .with_for_update(key_share=True))
    latest = db.session.scalar(select(func.max(CaseFormulation.revision))
                               .where(CaseFormulation.course_id == course.id)) or 0
    if latest != expected_revision:
        raise ConcurrentEdit("Someone saved the formulation after you opened it; your text is below, not saved. "
                             "Review the current version and save again.", current_version=latest)
    sections = {k: (content.get(k) or "").strip() for k in FORMULATION_SECTIONS}
    chosen = _approach(approach or {})
    if not any(is_written(text) for text in sections.values()) and not any(chosen.values()):
        raise DomainError("Write at least one section, or choose the approach.")
    revision = CaseFormulation(course_id=course.id, revision=latest + 1, content={**sections, **chosen},
                               author_id=by.id)
    db.session.add(revision)
    db.session.flush()
    return revision


def _approach(approach: dict) -> dict:
    """The approach as a formulation keeps it, or the problems with it by form field: a listed host
    theory, listed practices, and each technique named (a rationale alone is refused, not dropped)."""
    problems = {}
    host_theory = approach.get("host_theory") or ""
    if host_theory not in HOST_THEORIES:
        problems["host_theory"] = "Choose a host theory from the list."
    practices = list(approach.get("practices") or [])
    if set(practices) - set(practice_words()):
        problems["practices"] = "Choose practices from the list."
    techniques = []
    for i, row in enumerate(approach.get("techniques") or []):
        technique, rationale = (row.get("technique") or "").strip(), (row.get("rationale") or "").strip()
        if rationale and not technique:
            problems[f"techniques-{i}-technique"] = "Name the technique this rationale is for."
        elif technique:
            techniques.append({"technique": technique, "rationale": rationale})
    if problems:
        raise DomainError(problems)
    return {"host_theory": host_theory, "techniques": techniques, "practices": practices}


# -- measures and safety alerts --------------------------------------------------------------

#: how long before the patient's registration a measure may be dated: a referral's scores, or an intake
#: questionnaire done before the record was opened (a baseline precedes the course by design:
#: notes/baselines.py), but not a score too old to say anything of the patient treated now
MEASURE_BEFORE_REGISTRATION_DAYS = 365


def earliest_measure_day(course: TreatmentCourse) -> date:
    """The first day a measure of this course may be dated (the clinic's day of registration, less the window)."""
    return to_clinic(course.patient.created_at).date() - timedelta(days=MEASURE_BEFORE_REGISTRATION_DAYS)


def record_measure(course: TreatmentCourse, *, measure: str, answers: list[int | None], difficulty: str | None,
                   administered_on: date, by: User, today: date) -> MeasureResponse:
    if measure not in scoring.MEASURES:  # the database keeps the key as data: the registry is its check
        raise DomainError(f"Unknown measure {measure!r}: record one of {', '.join(scoring.MEASURES)}.")
    if administered_on > today:
        raise DomainError({"administered_on": "The date cannot be in the future."})
    earliest = earliest_measure_day(course)
    if administered_on < earliest:
        raise DomainError({"administered_on": f"The date cannot be before {earliest.day} {earliest:%B %Y}: a year "
                                              "before the patient was registered."})
    try:
        result = scoring.score(measure, answers)
    except scoring.InvalidAnswers as err:
        raise DomainError(str(err)) from None
    response = MeasureResponse(patient_id=course.patient_id, course_id=course.id, measure=measure,
                               administered_on=administered_on, answers=answers, difficulty=difficulty or None,
                               total=result.total, band=result.band, entered_by_id=by.id)
    db.session.add(response)
    db.session.flush()
    raise_for_response(course, response)
    return response


def void_measure(response: MeasureResponse, *, reason: str, by: User) -> None:
    lock_row(response)
    if response.voided_at is not None:
        raise DomainError("This entry is void already.")
    if written_length(reason) < VOID_REASON_MINIMUM:
        raise DomainError({"reason": f"Say why this entry is void (at least {VOID_REASON_MINIMUM} characters, "
                                     "spaces not counted)."})
    response.voided_at, response.void_reason = utcnow(), reason.strip()
    db.session.flush()
