"""The filtered audit log as CSV: newest first, streamed a chunk at a time, at most EXPORT_LIMIT rows.

Each chunk is one read (and the two reads of its names: object_names.resolve), in a context of its
own, ended before the chunk is sent. Cells a spreadsheet would run as a formula are written as text
(OWASP, CSV injection)."""
from __future__ import annotations

import csv
import io
from typing import Iterator

from flask import Flask
from sqlalchemy import and_, func, or_, select

from ..db.clinic_time import format_local
from ..extensions import db
from .models import AuditEvent
from .object_names import resolve

#: rows one export holds at most (the page says so; narrower filters get the rest)
EXPORT_LIMIT = 50_000
#: rows read per statement while streaming
CHUNK = 1_000
COLUMNS = ("When (clinic time)", "When (UTC)", "User", "Username", "Action", "Action code", "Object",
           "Object type", "Object id", "Patient", "Outcome", "Address", "Detail", "Chain position")
#: what a spreadsheet reads as the start of a formula (OWASP: = + - @, and tab and carriage return)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A cell as text: one starting like a formula gets a leading apostrophe, so it is shown, not run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def matching(stmt, limit: int = EXPORT_LIMIT) -> int:
    """How many rows the filtered `stmt` holds, counted up to limit + 1 (past the limit: cut)."""
    return db.session.scalar(select(func.count()).select_from(stmt.limit(limit + 1).subquery()))


def _line(event: AuditEvent, names, labels: dict[str, str]) -> list[str]:
    obj, patient = names.object(event), names.patient(event)
    return [csv_safe(v) for v in (
        format_local(event.occurred_at, "%Y-%m-%d %H:%M:%S"), event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        event.user.full_name if event.user else ("patient (portal)" if event.portal_account_id else ""),
        event.user.username if event.user else "",
        labels.get(event.action, event.action), event.action, obj.text if obj else "", event.object_type,
        event.object_id, patient.text if patient else "", event.outcome, event.ip, event.detail,
        event.chain_position)]


def _chunk(stmt, after, size: int, labels: dict[str, str]) -> tuple[str, tuple | None, int]:
    """One chunk's CSV lines: the next `size` rows of `stmt` past `after` (occurred_at, id), the new
    `after`, and how many rows it held."""
    page = stmt
    if after is not None:  # the rows past the last one sent, in the order occurred_at, id (descending)
        page = page.where(or_(AuditEvent.occurred_at < after[0],
                              and_(AuditEvent.occurred_at == after[0], AuditEvent.id < after[1])))
    events = db.session.scalars(page.limit(size)).all()
    names = resolve(events, lambda permission: False)  # a file links to nothing
    out = io.StringIO()
    csv.writer(out).writerows(_line(e, names, labels) for e in events)
    return out.getvalue(), ((events[-1].occurred_at, events[-1].id) if events else None), len(events)


def csv_stream(app: Flask, stmt, *, labels: dict[str, str], limit: int = EXPORT_LIMIT) -> Iterator[str]:
    """The CSV of `stmt` (ordered newest first, as filtered_events orders it), one chunk at a time.

    Each chunk is read in an application context of its own, ended before the chunk is sent: no
    database transaction, and no request's context, is held while the file travels or if the
    download is abandoned half-way."""
    head = io.StringIO()
    head.write("\ufeff")  # a byte order mark: spreadsheets then read the names' accents as UTF-8
    csv.writer(head).writerow(COLUMNS)
    yield head.getvalue()
    sent, after = 0, None
    while sent < limit:
        size = min(CHUNK, limit - sent)
        with app.app_context():
            text, after, count = _chunk(stmt, after, size, labels)
        sent += count
        yield text
        if count < size:
            break
