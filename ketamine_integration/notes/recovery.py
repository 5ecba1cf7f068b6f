"""Recover-on-login: text submitted after the login session timed out is kept, not lost.

The POST still carries a valid CSRF token (the browser session outlives the login session),
so it is the clinician's own submission: it is stored for the user the timed-out session
belonged to, they are sent to sign in, and the page offers it back afterwards.
"""
from __future__ import annotations

from flask import g, request
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from ..db.types import utcnow
from ..extensions import db
from .models import UnsavedWork

#: pages whose submissions are kept when the session has timed out
RECOVERABLE = frozenset({"notes.note_edit", "notes.process_note", "notes.formulation"})
#: a form larger than this is not kept (no real note is this long)
MAX_FIELDS = 500


def keep_if_timed_out() -> bool:
    """Called before sending a signed-out POST to the login page: keep its form if the
    session timed out on a recoverable page. True if something was kept."""
    user_id = g.get("timed_out_user_id")
    if request.method != "POST" or request.endpoint not in RECOVERABLE or user_id is None:
        return False
    fields = {k: v for k, v in request.form.lists() if k != "csrf_token"}
    if not fields or len(fields) > MAX_FIELDS:
        return False
    db.session.add(UnsavedWork(user_id=user_id, path=request.path[:200], form=fields))
    return True


def pending(user_id: int, path: str) -> UnsavedWork | None:
    return db.session.scalar(select(UnsavedWork).where(
        UnsavedWork.user_id == user_id, UnsavedWork.path == path, UnsavedWork.recovered_at.is_(None))
        .order_by(UnsavedWork.submitted_at.desc()).limit(1))


def as_formdata(work: UnsavedWork) -> MultiDict:
    return MultiDict([(k, v) for k, values in work.form.items() for v in values])


def readable(work: UnsavedWork) -> str:
    """The kept text as lines of prose, for a note that was signed meanwhile (to copy into an
    addendum): only the written fields, not ids, dates or choices."""
    lines = []
    for name, values in work.form.items():
        if name in ("version", "session_date") or name.endswith(("step_id", "-theme", "-starts_on", "-review_on")):
            continue
        lines += [v.strip() for v in values if isinstance(v, str) and len(v.strip()) > 3 and not v.strip().isdigit()]
    return "\n".join(lines)


def holds_more_than(work: UnsavedWork | None, submitted: MultiDict) -> bool:
    """Whether text kept from a timed-out session holds writing `submitted` does not (a note
    signed from another window that never offered it back): then it must stay, to be offered
    as an addendum, rather than be cleared by that signature."""
    if work is None:
        return False
    sent = "\n".join(value for _, value in submitted.items(multi=True) if isinstance(value, str))
    return any(line not in sent for line in readable(work).splitlines())


def mark_recovered(user_id: int, path: str) -> None:
    """After the author's next successful save on that page: the kept text has been recovered
    or superseded, so it is deleted (process notes above all must not linger in a second
    table); the row keeps only who, where and when. The triggers of migration 0015 allow
    exactly this change, once."""
    db.session.execute(update(UnsavedWork).where(UnsavedWork.user_id == user_id, UnsavedWork.path == path,
                                                 UnsavedWork.recovered_at.is_(None))
                       .values(recovered_at=utcnow(), form={}))
