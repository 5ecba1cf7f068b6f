"""Domain errors that services raise and views turn back into form field messages."""
from __future__ import annotations

import re

from sqlalchemy import select
from wtforms import FieldList, FormField
from wtforms.form import BaseForm

#: a reason's key is a field's path, written as WTForms names it ("themes-0-free_theme") or dotted
_PATH_STEP = re.compile(r"[.-]")


class DomainError(Exception):
    """A request the rules refuse; `reasons` maps form field names (or "" for the form) to text."""

    def __init__(self, reasons: dict[str, str] | str):
        if isinstance(reasons, str):
            reasons = {"": reasons}
        self.reasons = reasons
        super().__init__("; ".join(reasons.values()))

    def apply_to(self, form) -> list[str]:
        """Put each reason on its form field; return the ones that belong to no field."""
        general = []
        for path, message in self.reasons.items():
            chain = _fields_along(form, path) if path else None
            if chain is None or isinstance(chain[-1], (FieldList, FormField)):
                general.append(message)
                continue
            chain[-1].errors = list(chain[-1].errors) + [message]
            for row_list in reversed([node for node in chain if isinstance(node, FieldList)]):
                # FieldList keeps its rows' errors in a list made by validate(); refreshed, the
                # form counts as invalid (422) and the page's banner points to the fields
                row_list.errors = [entry.errors for entry in row_list.entries]
        if general:
            form.form_errors = list(getattr(form, "form_errors", [])) + general
        return general


def _field_at(form, path: str):
    """The field a reason's key names, or None (see _fields_along)."""
    chain = _fields_along(form, path)
    return chain[-1] if chain else None


def _fields_along(form, path: str) -> list | None:
    """The fields from the form down to the one at `path`, or None when there is no such field.

    A path is the field's HTML name as WTForms writes it for the rows of a FieldList and the
    fields of a FormField ("themes-0-free_theme", "baseline-systolic"), or the same steps
    joined by dots ("themes.0.free_theme"). A number picks a row by its place in the list,
    the place the view numbered it by when it handed the rows to the service.
    """
    chain, node = [], form
    for step in _PATH_STEP.split(path):
        node = _child(node, step)
        if node is None:
            return None
        chain.append(node)
    return chain


def _child(node, step: str):
    if isinstance(node, FieldList):
        return node.entries[int(step)] if step.isdecimal() and int(step) < len(node.entries) else None
    inner = node.form if isinstance(node, FormField) else node
    if isinstance(inner, BaseForm) and step in inner:
        return inner[step]
    return None


class ConcurrentEdit(DomainError):
    """The record changed since the editor loaded it; their input is kept, nothing is saved.

    The form's hidden version becomes the current one, so that saving again after review is
    a deliberate overwrite rather than a repeat of the conflict.
    """

    def __init__(self, message: str, *, current_version: int | None, record=None):
        super().__init__(message)
        self.current_version = current_version
        #: when the version could not be read yet (a failed flush inside a savepoint)
        self.record = record

    def read_current_version(self, session) -> None:
        """Once the failed savepoint is rolled back: the record's version as stored now."""
        if self.current_version is None and self.record is not None:
            model = type(self.record)
            stored = session.scalar(select(model.version).where(model.id == self.record.id))
            self.current_version = stored if stored is not None else -1

    def apply_to(self, form) -> list[str]:
        general = super().apply_to(form)
        form.edit_conflict = True
        if getattr(form, "version", None) is not None:
            form.version.data = self.current_version
        return general
