"""Small helpers every blueprint's views share: form rendering, redirects, pagination."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import current_app, flash, render_template, request
from flask_sqlalchemy.pagination import SelectPagination
from flask_wtf import FlaskForm
from sqlalchemy import func, literal, select

from ..db.errors import ConcurrentEdit, DomainError
from ..extensions import db
from .lifecycle import MAX_ID

#: HTTP status for a submitted form that failed validation: the request changed nothing.
INVALID_FORM_STATUS = 422
#: a save that met someone else's save in between (the user's input is shown again)
CONFLICT_STATUS = 409


def render_form(template: str, form: FlaskForm, **context):
    """Render a form page; a submission with errors answers 422 (409 when it met someone
    else's save) so its transaction rolls back."""
    status = 200
    if request.method == "POST" and form.errors:
        status = CONFLICT_STATUS if getattr(form, "edit_conflict", False) else INVALID_FORM_STATUS
    return render_template(template, form=form, **context), status


def submit(form: FlaskForm, operation: Callable[[], Any]) -> tuple[bool, Any]:
    """Validate a submitted form, then run the service call; (done, its result).

    A DomainError's reasons are put back on the form's fields, so the page re-renders with
    them. Whatever the service had flushed before refusing is rolled back to a savepoint at
    once, so a refusal changes nothing even when the view answers with a redirect.
    """
    if not form.validate_on_submit():
        return False, None
    try:
        with db.session.begin_nested():
            return True, operation()
    except DomainError as err:
        if isinstance(err, ConcurrentEdit):
            err.read_current_version(db.session)
        err.apply_to(form)
        return False, None


@dataclass(frozen=True)
class SaveThenSign:
    """What became of a record form's "Sign and lock" (or "Save draft") submission."""

    saved: bool
    signed: bool
    #: what the save returned
    result: Any
    #: why signing was refused (the valid save stands): its reasons are on the form's fields
    refusal: DomainError | None


def save_then_sign(form: FlaskForm, save: Callable[[], Any], sign: Callable[[], Any] | None) -> SaveThenSign:
    """The "Sign and lock" button of a record form that also saves: what is in the form is
    saved, then signed, in the same request, so signing never drops what was typed since the
    last save. sign=None: the user saved without signing.

    A refused save changes nothing (submit()); the caller may add the reasons signing would
    also give, so they are read together. A refused signature rolls back only what signing
    wrote, keeps the valid save, and puts its reasons on the form's fields."""
    saved, result = submit(form, save)
    if not saved or sign is None:
        return SaveThenSign(saved, False, result, None)
    try:
        with db.session.begin_nested():
            sign()
    except DomainError as err:
        if isinstance(err, ConcurrentEdit):
            err.read_current_version(db.session)
        err.apply_to(form)
        return SaveThenSign(True, False, result, err)
    return SaveThenSign(True, True, result, None)


_ASCII_NUMBER = re.compile(r"[0-9]{1,10}")


def whole_number(value) -> int | None:
    """A non-negative whole number written in ASCII digits (at most 10), else None.

    str.isdigit() is not enough: it accepts "²" and other digits int() refuses.
    """
    text = str(value if value is not None else "").strip()
    return int(text) if _ASCII_NUMBER.fullmatch(text) else None


def parse_id(value) -> int | None:
    """An id from a query string or form: a whole number the id columns can hold, else None.

    The same bounds as the <id:...> route converter, so an oversized number is "no such
    thing" rather than a database error.
    """
    number = whole_number(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


def form_version(form) -> int:
    """The record version a form was filled from; missing or forged never matches (-1)."""
    value = form.version.data if hasattr(form, "version") else form.get("version", "")
    number = whole_number(value)
    return number if number is not None and number < 10**9 else -1


def form_fields_in_error(form) -> list[str]:
    """The paths of a form's fields with errors ("baseline.systolic"; "form" for the form's own),
    in the form's order: for audit details, which name fields and never what was typed."""
    def walk(errors, prefix: str) -> list[str]:
        if isinstance(errors, dict):
            return [path for key, value in errors.items()
                    for path in walk(value, f"{prefix}.{key}" if prefix else str(key or "form"))]
        if errors and isinstance(errors, list) and all(isinstance(e, (dict, list)) for e in errors):
            return [path for i, value in enumerate(errors) for path in walk(value, f"{prefix}.{i}")]
        return [prefix] if errors else []
    return walk(form.errors, "")


def flash_form_problems(form, prefix: str = "Not saved: ") -> None:
    """For forms that redirect back instead of re-rendering: their errors as one message."""
    problems = []
    for errors in form.errors.values():
        problems.extend(errors if isinstance(errors, (list, tuple)) else [str(errors)])
    flash(prefix + " ".join(str(p) for p in problems), "error")


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths may be redirect targets (no open redirects)."""
    if not target:
        return default
    if any(ch == "\\" or ord(ch) < 32 for ch in target):
        return default  # browsers read "/\\evil" as "//evil"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


#: a page number beyond this is treated as the last page anyone could mean
MAX_PAGE = 100_000


def page_number() -> int:
    try:
        return min(max(1, int(request.args.get("page", 1))), MAX_PAGE)
    except ValueError:
        return 1


#: a list counts at most this many rows past the page it shows ("more than ..."), so the count
#: costs the same however many rows pile up (the audit trail grows with every page anyone opens)
COUNT_AHEAD = 10_000


class BoundedPagination(SelectPagination):
    """Flask-SQLAlchemy's pages of a select, with the total counted only up to COUNT_AHEAD rows
    past the current page: `more` says there are more than `total`."""

    more = False

    def _query_count(self) -> int:
        found = self._count_from(self._query_offset)
        if found == 0 and self._query_offset:  # past the end: count from the start instead
            return self._count_from(0)
        return self._query_offset + found

    def _count_from(self, offset: int) -> int:
        """Rows from `offset` on, counted up to COUNT_AHEAD (setting `more` beyond it)."""
        ahead = (self._query_args["select"].with_only_columns(literal(1), maintain_column_froms=True)
                 .order_by(None).offset(offset).limit(COUNT_AHEAD + 1).subquery())
        found = self._query_args["session"].execute(select(func.count()).select_from(ahead)).scalar_one()
        self.more = found > COUNT_AHEAD
        return min(found, COUNT_AHEAD)


def paginate(select_stmt) -> BoundedPagination:
    return BoundedPagination(select=select_stmt, session=db.session(), page=page_number(),
                             per_page=current_app.config["PAGE_SIZE"], max_per_page=None, error_out=False)
