"""The portal journal's forms: writing an entry (one form per open prompt) and editing a private one.

They hold no length or emptiness rules of their own: journal/services.py checks every entry's text
(domain/journal.py says why and in the patient's words), and the view puts its reasons on the fields.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from ..domain.journal import ENTRY_MAX

#: the text area's attributes: a few lines to start with; the counter (static/portal_journal.js) reads the limit
TEXT_ATTRIBUTES = {"rows": 6, "data-count-to": ENTRY_MAX, "spellcheck": "true", "autocapitalize": "sentences"}


class JournalEntryForm(FlaskForm):
    """A new entry answering one prompt (its key and, for a review prompt, the dose it is about)."""

    #: a key of domain.journal.PROMPTS
    prompt = HiddenField()
    #: the dose a review prompt is about; empty for a free entry (the service takes the latest dose)
    dosing_session_id = HiddenField()
    #: the label is the prompt's question, set by the view for each form on the page
    text = TextAreaField("Your entry", render_kw=TEXT_ATTRIBUTES)

    def place(self, suffix: str, question: str) -> "JournalEntryForm":
        """Give this form's text area an id of its own on a page of several forms, labelled by `question`."""
        self.text.id = f"entry-{suffix}"
        self.text.label.field_id = self.text.id
        self.text.label.text = question
        return self


class JournalEditForm(FlaskForm):
    """A private entry's new text, with the version it was loaded at (a save in another window meanwhile
    is refused and the typed text shown again)."""

    text = TextAreaField("Your entry", render_kw=TEXT_ATTRIBUTES)
    version = HiddenField()
