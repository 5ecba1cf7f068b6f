"""The ORM guard of signed notes: a signed note (with the plan revision it followed), its themes,
check-ins, dosing links, techniques, technique responses and progress on plan objectives never
change, and an action step it agreed changes only its status (corrections are addenda). The database triggers of migrations 0007, 0046 and 0050 are the guarantee;
this stops the application's own code early and loudly. Connected as a before_flush listener in
create_app."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..db.signed_records import changed_attributes, was_signed
from .models import SIGNED, ActionCheckIn, ActionStep, NoteDosingLink, NoteTheme, SessionNote
from ..plans.progress import ObjectiveProgress
from .technique_models import NoteTechnique, TechniqueResponse

#: the parts of a note frozen with it
PARTS = (NoteTheme, ActionCheckIn, NoteDosingLink, NoteTechnique, TechniqueResponse, ObjectiveProgress)

#: what may change on a signed note: bookkeeping and addenda
MUTABLE_AFTER_SIGNING = frozenset({"updated_at", "version", "addenda"})


class SignedNoteChanged(RuntimeError):
    """Code tried to change a signed note (corrections are addenda)."""


def refuse_changes_to_signed_notes(db_session: Session, flush_context, instances) -> None:
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, SessionNote) and was_signed(obj):
            _refuse_note_change(db_session, obj)
    for obj in list(db_session.new) + list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, PARTS):
            _refuse_part_change(db_session, obj)
        if isinstance(obj, ActionStep):
            _refuse_agreed_step_change(db_session, obj)


def _refuse_note_change(db_session: Session, note: SessionNote) -> None:
    if note in db_session.deleted or changed_attributes(note) - MUTABLE_AFTER_SIGNING:
        raise SignedNoteChanged(f"note {note.id} is signed; add an addendum instead")


def _refuse_part_change(db_session: Session, part) -> None:
    note = part.note
    if note is None and part.note_id is not None:  # added by its note's id, not through the note
        with db_session.no_autoflush:
            note = db_session.get(SessionNote, part.note_id)
    if note is not None and note.status == SIGNED and was_signed(note):
        raise SignedNoteChanged("the themes, check-ins, links and techniques of a signed note never change")


def _refuse_agreed_step_change(db_session: Session, step: ActionStep) -> None:
    if step.note is None or not was_signed(step.note) or step.note.status != SIGNED:
        return
    if step in db_session.new or step in db_session.deleted or changed_attributes(step) - {"status", "check_ins"}:
        raise SignedNoteChanged("an action step agreed in a signed note never changes; check in on it")
