"""The portal journal's forms: writing (one form holding a box for every open prompt, so saving one
never drops what was typed in another) and editing a private entry.

They hold no length or emptiness rules of their own: journal/services.py checks every entry's text
(domain/journal.py says why and in the patient's words), and the view puts its reasons on the fields.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import FieldList, Form, FormField, HiddenField, TextAreaField

from ..domain.journal import ENTRY_MAX

#: the text area's attributes: a few lines to start with; the counter (static/portal_journal.js) reads the limit
TEXT_ATTRIBUTES = {"rows": 6, "data-count-to": ENTRY_MAX, "spellcheck": "true", "autocapitalize": "sentences"}
#: boxes one save takes: the open prompts (five review prompts and the free entry) and as many kept from an
#: older page; a larger form is refused as a whole
MAX_BOXES = 24
#: the fields of one box, as a page served before the journal had one form posted them (prompt, text...)
BOX_FIELDS = ("prompt", "dosing_session_id", "text")


class EntryBox(Form):
    """One prompt's box: its key, the dose a review prompt is about, and the text."""

    #: a key of domain.journal.PROMPTS
    prompt = HiddenField()
    #: the dose a review prompt is about; empty for a free entry (the service takes the latest dose)
    dosing_session_id = HiddenField()
    #: the label is the prompt's question, set by the view for each box on the page
    text = TextAreaField("Your entry", render_kw=TEXT_ATTRIBUTES)


class JournalWriteForm(FlaskForm):
    """Every open prompt's box: saving writes each box written in as its own entry, all or none."""

    entries = FieldList(FormField(EntryBox), min_entries=0, max_entries=MAX_BOXES)


def as_boxes(formdata: MultiDict | None) -> MultiDict | None:
    """The posted (or kept) form with one box per prompt; a single entry sent as `prompt`/`text` (a page
    loaded before the journal had one form, or kept from a time-out then) becomes the first box, so its
    text is not lost."""
    if formdata is None or "text" not in formdata or "entries-0-text" in formdata:
        return formdata
    converted = MultiDict([(k, v) for k, v in formdata.items(multi=True) if k not in BOX_FIELDS])
    for name in BOX_FIELDS:
        converted[f"entries-0-{name}"] = formdata.get(name, "")
    return converted


class JournalEditForm(FlaskForm):
    """A private entry's new text, with the version it was loaded at (a save in another window meanwhile
    is refused and the typed text shown again)."""

    text = TextAreaField("Your entry", render_kw=TEXT_ATTRIBUTES)
    version = HiddenField()
