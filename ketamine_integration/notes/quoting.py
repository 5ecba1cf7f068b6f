"""Shared journal entries on the integration note form (issue 23, point 4): the entries the patient
shared, shown to the note's author beside the experience review, and "Quote into the experience
review": the entry, quoted and attributed, added to the review field chosen. Without JavaScript the
button submits the note form, which is saved as a draft with the quote in place; with it
(static/journal.js) the same quote goes in at the cursor and nothing is sent until the author saves."""
from __future__ import annotations

from flask import request

from ..db.errors import DomainError
from ..journal import staff as journal
from ..web.forms import parse_id
from .models import INTEGRATION, SessionNote

#: the submit button's name; its value is the entry's id
QUOTE = "quote"
NOT_HERE = "Journal entries are quoted into an integration note's experience review, by its author."


def journal_panel(note: SessionNote, user) -> list[journal.SharedEntry] | None:
    """The shared entries the author of this integration draft may read; None: the form shows no journal."""
    if note.kind != INTEGRATION or note.author_id != user.id or note.signed or note.discarded:
        return None
    return journal.readable_entries(user, note.patient, note.course_id)


def quoting() -> bool:
    """Whether the submission is a "Quote into the experience review" button."""
    return QUOTE in request.form


def insert_quote(note: SessionNote, form, user) -> int:
    """Add the entry the pressed button names, quoted, to the end of the review field chosen beside it,
    in the submitted form (what the author typed stays as typed); the entry's id. DomainError when the
    entry is not shared with this note's author, or the field is not one of the review's."""
    if note.kind != INTEGRATION:
        raise DomainError(NOT_HERE)
    raw = request.form.get(QUOTE, "")
    field, quote = journal.quote_for(user, note.patient, note.course_id, parse_id(raw),
                                     request.form.get(f"quote_into-{raw.strip()}"))
    target = getattr(form, field)
    typed = (target.data or "").rstrip()
    target.data = f"{typed}\n\n{quote}" if typed else quote
    return parse_id(raw)
