"""Techniques in integration notes (issue 24, point 2): the techniques a note used from the clinic's
vocabulary, each with its rationale; at the next note, how the patient responded to each one the
previous signed note used; and the course's history of both, for its own page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, lazyload

from ..domain.techniques import Vocabulary
from ..domain.text import is_written
from ..extensions import db
from .models import INTEGRATION, SIGNED, SessionNote
from .technique_models import RESPONSES, NoteTechnique, TechniqueResponse

RATIONALE_NEEDED = "Say why this technique, for this patient, now: a technique needs its rationale."
TECHNIQUE_NEEDED = "Choose the technique this rationale is for."
NOT_IN_VOCABULARY = "Choose a technique from the clinic's vocabulary."
TWICE = "This technique is already listed above."
RESPONSE_NEEDED = "Choose how the patient responded (or leave the comment empty)."
NOT_OFFERED = "That technique was not used at the previous signed note of this course (or is listed twice)."


def previous_note(note: SessionNote, session_date: date) -> SessionNote | None:
    """The course's latest signed integration note held on or before `session_date`, other than `note`:
    the one whose techniques this note says the patient's response to."""
    return db.session.scalar(
        select(SessionNote).where(SessionNote.course_id == note.course_id, SessionNote.kind == INTEGRATION,
                                  SessionNote.status == SIGNED, SessionNote.id != note.id,
                                  SessionNote.session_date <= session_date)
        .options(lazyload("*"), joinedload(SessionNote.author))
        .order_by(SessionNote.session_date.desc(), SessionNote.id.desc()).limit(1))


def previous_uses(note: SessionNote, session_date: date) -> list[NoteTechnique]:
    earlier = previous_note(note, session_date)
    if earlier is None:
        return []
    return db.session.scalars(select(NoteTechnique).where(NoteTechnique.note_id == earlier.id)
                              .options(lazyload("*")).order_by(NoteTechnique.id)).all()


def resolve(note: SessionNote, session_date: date, techniques: list[dict], responses: list[dict],
            vocabulary: Vocabulary) -> tuple[list[NoteTechnique], list[TechniqueResponse], dict[str, str]]:
    """What a draft's save stores of its techniques and responses, or the problems by form field."""
    uses, problems = resolve_techniques(techniques, vocabulary,
                                        {t.technique_key: t.technique_name for t in note.techniques})
    stored, response_problems = resolve_responses(responses, previous_uses(note, session_date) if responses else [])
    return uses, stored, {**problems, **response_problems}


def resolve_techniques(rows: list[dict], vocabulary: Vocabulary,
                       kept: dict[str, str]) -> tuple[list[NoteTechnique], dict[str, str]]:
    """The technique rows a note form submitted ({row, technique, rationale}) as uses to store, or
    the problems by form field. `kept`: key -> name of the draft's saved uses, which stay valid
    (with their name of then) if the vocabulary has since dropped them."""
    uses, problems, seen = [], {}, set()
    for i, row in enumerate(rows):
        where = f"techniques-{row.get('row', i)}"
        key, rationale = row.get("technique") or "", (row.get("rationale") or "").strip()
        technique = vocabulary.get(key)
        name = technique.name if technique is not None else kept.get(key)
        if not key:
            problems[f"{where}-technique"] = TECHNIQUE_NEEDED
        elif name is None:
            problems[f"{where}-technique"] = NOT_IN_VOCABULARY
        elif key in seen:
            problems[f"{where}-technique"] = TWICE
        elif not is_written(rationale):
            problems[f"{where}-rationale"] = RATIONALE_NEEDED
        else:
            uses.append(NoteTechnique(technique_key=key, technique_name=name, rationale=rationale))
        seen.add(key)
    return uses, problems


def resolve_responses(rows: list[dict], offered: list[NoteTechnique]) -> tuple[list[TechniqueResponse],
                                                                                dict[str, str]]:
    """The response rows ({row, use_id, response, comment}) as rows to store, or the problems by
    form field: each on a different technique of the previous signed note, with a known response."""
    allowed, seen = {use.id for use in offered}, set()
    responses, problems = [], {}
    for i, row in enumerate(rows):
        where = f"technique_responses-{row.get('row', i)}"
        use_id = row.get("use_id")
        if use_id not in allowed or use_id in seen:
            problems[f"{where}-response"] = NOT_OFFERED
        elif row.get("response") not in RESPONSES:
            problems[f"{where}-response"] = RESPONSE_NEEDED
        else:
            responses.append(TechniqueResponse(note_technique_id=use_id, response=row["response"],
                                               comment=(row.get("comment") or "").strip() or None))
        seen.add(use_id)
    return responses, problems


def signed_parts(note: SessionNote) -> dict:
    """What a signature covers of the note's techniques and responses; nothing when it has none, so
    the digests of notes signed before techniques were rows still match."""
    parts = {}
    if note.techniques:
        parts["technique_uses"] = [[t.technique_key, t.technique_name, t.rationale] for t in note.techniques]
    if note.technique_responses:
        parts["technique_responses"] = [[r.note_technique_id, r.response, r.comment]
                                        for r in note.technique_responses]
    return parts


@dataclass(frozen=True)
class UseHistory:
    """One technique used at a signed note of the course, with the responses later signed notes recorded."""

    use: NoteTechnique
    note: SessionNote
    responses: list[tuple[TechniqueResponse, SessionNote]]


def course_technique_history(course_id: int) -> list[UseHistory]:
    """Every technique used at the course's signed notes, newest first, with the responses signed
    notes recorded to it: two statements, however many notes there are."""
    uses = db.session.scalars(
        select(NoteTechnique).join(SessionNote, SessionNote.id == NoteTechnique.note_id)
        .where(SessionNote.course_id == course_id, SessionNote.status == SIGNED)
        .options(lazyload("*"), contains_eager(NoteTechnique.note).lazyload("*"),
                 contains_eager(NoteTechnique.note).joinedload(SessionNote.author))
        .order_by(SessionNote.session_date.desc(), SessionNote.id.desc(), NoteTechnique.id)).unique().all()
    responses = db.session.scalars(
        select(TechniqueResponse).join(SessionNote, SessionNote.id == TechniqueResponse.note_id)
        .where(SessionNote.course_id == course_id, SessionNote.status == SIGNED)
        .options(lazyload("*"), contains_eager(TechniqueResponse.note).lazyload("*"),
                 contains_eager(TechniqueResponse.note).joinedload(SessionNote.author))
        .order_by(SessionNote.session_date, TechniqueResponse.id)).unique().all()
    by_use: dict[int, list[tuple[TechniqueResponse, SessionNote]]] = {}
    for response in responses:
        by_use.setdefault(response.note_technique_id, []).append((response, response.note))
    return [UseHistory(use=u, note=u.note, responses=by_use.get(u.id, [])) for u in uses]
