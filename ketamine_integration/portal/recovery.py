"""A patient's text is never lost: what a portal page received after the session timed out is
kept and offered back on that page after signing in again (as notes/recovery.py does for staff).

A page that takes the patient's writing joins with `keep_text_of("portal.journal_entry")` (at
import of its views, or from create_app); its view then starts its form from `offered_back()`
and calls `mark_recovered()` after its next successful save. The page's idle timer
(static/portal_idle.js, portal/idle.py) hands a form's text here the same way when it signs the
patient out (`keep` under the form's own path, if `recoverable_path` says its page keeps text).
"""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from ..db.types import utcnow
from ..extensions import db
from .models import PortalKeptText

#: portal endpoints whose submissions are kept when the session has timed out
RECOVERABLE: set[str] = set()
#: a form larger than this is not kept (no real entry is this long)
MAX_FIELDS = 200


def keep_text_of(*endpoints: str) -> None:
    RECOVERABLE.update(endpoints)


def keep_if_timed_out(account_id: int | None) -> bool:
    """Keep this signed-out POST's form if the portal session timed out on a recoverable page.
    True if something was kept."""
    if account_id is None or request.method != "POST" or request.endpoint not in RECOVERABLE:
        return False
    return keep(account_id, request.path, {k: v for k, v in request.form.lists() if k != "csrf_token"})


def keep(account_id: int, path: str, fields: dict[str, list[str]]) -> bool:
    """Keep `fields` (lists of values by name) for the page at `path`; True if something was kept."""
    if not fields or len(fields) > MAX_FIELDS or len(path) > 200:
        return False
    db.session.add(PortalKeptText(account_id=account_id, path=path, form=fields))
    db.session.flush()
    return True


def recoverable_path(path: str) -> bool:
    """Whether a form posted to `path` goes to a page that keeps a timed-out session's text."""
    if not isinstance(path, str) or not path.startswith("/portal/") or len(path) > 200:
        return False
    try:
        endpoint, _ = current_app.create_url_adapter(request).match(path, method="POST")
    except HTTPException:  # no such page, not one that takes a POST, or a redirect
        return False
    return endpoint in RECOVERABLE


def kept_text(account_id: int, path: str) -> PortalKeptText | None:
    return db.session.scalar(select(PortalKeptText).where(
        PortalKeptText.account_id == account_id, PortalKeptText.path == path,
        PortalKeptText.recovered_at.is_(None)).order_by(PortalKeptText.id.desc()).limit(1))


def offered_back(account_id: int) -> MultiDict | None:
    """The form data kept for this page (GET), to fill the form with; None if nothing is kept."""
    kept = kept_text(account_id, request.path)
    if kept is None or request.method != "GET":
        return None
    return MultiDict([(k, v) for k, values in kept.form.items() for v in values])


def mark_recovered(account_id: int, path: str) -> None:
    """After the patient's next successful save on that page: the kept text is cleared."""
    db.session.execute(update(PortalKeptText).where(PortalKeptText.account_id == account_id,
                                                    PortalKeptText.path == path,
                                                    PortalKeptText.recovered_at.is_(None))
                       .values(recovered_at=utcnow(), form={}))
