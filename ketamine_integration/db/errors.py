"""Domain errors that services raise and views turn back into form field messages."""
from __future__ import annotations

from sqlalchemy import select


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
        for field_name, message in self.reasons.items():
            field = _field_at(form, field_name) if field_name else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + [message]
            else:
                general.append(message)
        if general:
            form.form_errors = list(getattr(form, "form_errors", [])) + general
        return general


def _field_at(form, path: str):
    """The field at 'name' or 'sub.name' (a FormField's inner form), or None."""
    node = form
    for part in path.split("."):
        node = getattr(getattr(node, "form", node), part, None)
        if node is None:
            return None
    return node


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
