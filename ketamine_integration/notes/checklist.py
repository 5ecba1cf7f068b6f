"""What a course's signed preparation notes prove of its preparation checklist (issue 20, point
10): each is a signed preparation session, and a note that sets the patient's intentions, a set
and setting plan or the support person meets that item. Read from the notes, never ticked: the
checklist asks through create_app (courses sit below notes)."""
from __future__ import annotations

from sqlalchemy import select

from ..courses.models import PREPARATION_SESSION, TreatmentCourse
from ..courses.services import DerivedItem, Evidence
from ..domain.protocols import DOCUMENTED_ITEMS
from ..domain.text import is_written
from ..extensions import db
from .models import PREPARATION, SIGNED, SessionNote


def documented_preparation(course: TreatmentCourse) -> Evidence:
    """The course's signed preparation notes as its preparation sessions (oldest first), and the
    items they document, each met by the first note that says it."""
    notes = db.session.scalars(select(SessionNote).where(
        SessionNote.course_id == course.id, SessionNote.kind == PREPARATION, SessionNote.status == SIGNED)
        .order_by(SessionNote.session_date, SessionNote.id)).all()
    items = {}
    for note in notes:
        for item, (section, _words) in DOCUMENTED_ITEMS.items():
            if item not in items and is_written((note.content or {}).get(section)):
                items[item] = DerivedItem(item=item, on=note.session_date, summary=_described(note))
    sessions = tuple(DerivedItem(item=PREPARATION_SESSION, on=n.session_date, summary=_described(n)) for n in notes)
    return Evidence(items, sessions)


def _described(note: SessionNote) -> str:
    return f"preparation note of {note.session_date.isoformat()}, signed by {note.author.display_name}"
