"""The HMAC chain that makes the audit trail tamper-evident (HIPAA 164.312(b) and (c)(1)).

Each audit row gets a chain position (1, 2, 3... without gaps) and
`mac = HMAC-SHA256(AUDIT_HMAC_KEY, previous row's mac || canonical fields of this row)`;
audit_chain_head holds the last position and mac under a seal of its own. Without the key, a
row cannot be edited, removed, moved or added without `flask audit verify` noticing; the
database triggers and the app role's missing UPDATE/DELETE rights (docs/postgresql-roles.md)
stop the changes in the first place.

Rows are chained when the transaction commits, not when `record()` is called: extending the
chain means holding the head row's lock, and a request that took it early and then waited
for, say, a course row another request holds (which in turn waits for the chain) would
deadlock. So the chain lock is the last lock any transaction takes, held only while it
commits. Until then `record()` queues rows on the session; a rolled-back transaction or
savepoint drops the rows queued inside it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..db.types import utcnow
from .models import AuditChainHead, AuditEvent

#: the "previous mac" of the first row
GENESIS = "0" * 64
#: the fields a mac covers, in order (besides the position). The id is not among them: it is
#: given by the database after the mac is made. Changing this list breaks every existing mac.
FIELDS = ("occurred_at", "user_id", "action", "object_type", "object_id", "patient_id", "ip", "outcome", "detail")
#: fields added after rows were chained: a mac covers each only when it is set (appended after FIELDS
#: in this order), so the rows chained before it existed keep their macs and new rows are covered
LATER_FIELDS = ("portal_account_id",)
COVERED = FIELDS + LATER_FIELDS
_INTEGERS = {"user_id", "patient_id", "portal_account_id"}
PENDING = "audit_pending"
UPSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
#: the head's table: every commit that audits reads and moves it, as Core statements (the ORM's
#: UPDATE path cost as much again as the statements themselves)
HEAD = AuditChainHead.__table__
#: the trail's table, written the same way (extend)
EVENTS = AuditEvent.__table__
#: the statements every audited commit runs, built once: building them anew (and keying them for the
#: compiled-statement cache) was about half the CPU of an audited commit; the values are bound when they run
SELECT_HEAD = select(HEAD.c.position, HEAD.c.mac, HEAD.c.seal).where(HEAD.c.id == 1).with_for_update()
INSERT_EVENTS = insert(EVENTS)
MOVE_HEAD = update(HEAD).where(HEAD.c.id == 1).values(
    position=bindparam("new_position"), mac=bindparam("new_mac"), seal=bindparam("new_seal"))


class AuditChainBroken(RuntimeError):
    """The chain cannot be extended safely: its head is missing or was rewritten."""


def chain_key() -> bytes:
    return current_app.config["AUDIT_HMAC_KEY"].encode()


def _plain(name: str, value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    return int(value) if name in _INTEGERS else str(value)


def canonical(position: int, values) -> bytes:
    """One row as bytes: the same for the object written and the row read back, on both engines."""
    later = [[name, _plain(name, values.get(name))] for name in LATER_FIELDS if values.get(name) is not None]
    return json.dumps([position] + [_plain(name, values[name]) for name in FIELDS] + later,
                      separators=(",", ":"), ensure_ascii=True).encode()


def link_mac(key: bytes, previous: str, position: int, values) -> str:
    return hmac.new(key, previous.encode() + b"\n" + canonical(position, values), hashlib.sha256).hexdigest()


def head_seal(key: bytes, position: int, mac: str) -> str:
    return hmac.new(key, f"head\n{position}\n{mac}".encode(), hashlib.sha256).hexdigest()


# -- queueing rows until commit -------------------------------------------------------------

def enqueue(session: Session, audit_event: AuditEvent) -> None:
    """Add a row to the chain when `session` commits (dropped if its transaction rolls back)."""
    # Like session.add(), a row recorded outside any transaction starts one (no connection
    # yet), so that transaction's rollback drops it.
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(PENDING, []).append((transaction, audit_event))


def _inside(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def drop_rolled_back(session: Session, previous_transaction) -> None:
    pending = session.info.get(PENDING)
    if pending and previous_transaction.nested:
        session.info[PENDING] = [(t, e) for t, e in pending if not _inside(t, previous_transaction)]


def drop_unchained(session: Session, transaction) -> None:
    # At the end of the outermost transaction the queue was either chained (before_commit) or
    # belongs to work that was rolled back or discarded.
    if transaction.parent is None:
        session.info.pop(PENDING, None)


def chain_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its rows wait for the real commit
    pending = session.info.pop(PENDING, None)
    if pending:
        extend(session, [audit_event for _, audit_event in pending])


def extend(session: Session, events: list[AuditEvent]) -> None:
    """Give `events` the next positions and their macs, and move the head past them.

    The head lock is the last lock a transaction takes. Inserting these rows needs key-share
    locks on the patients and users they name; the app's turn-taking locks on those rows are
    FOR NO KEY UPDATE (never FOR UPDATE), which do not block key-share, so no writer waits on
    a referenced row while holding the chain (test_a_locked_patient_row_does_not_deadlock_the_chain).

    The rows go in as one Core statement, after a flush of what they name (a patient or user made in
    this transaction): added as objects, SQLite's flush inserted them one at a time to read back ids
    nothing reads. `events` keep their position and mac, and stay out of the session."""
    key = chain_key()
    session.flush()
    position, mac = _locked_head(session, key)
    rows = []
    for audit_event in events:
        if audit_event.occurred_at is None:
            audit_event.occurred_at = utcnow()
        position += 1
        values = {name: getattr(audit_event, name) for name in COVERED}
        mac = link_mac(key, mac, position, values)
        audit_event.chain_position, audit_event.mac = position, mac
        rows.append({**values, "chain_position": position, "mac": mac})
    session.execute(INSERT_EVENTS, rows)
    session.execute(MOVE_HEAD, {"new_position": position, "new_mac": mac, "new_seal": head_seal(key, position, mac)})


def _locked_head(session: Session, key: bytes) -> tuple[int, str]:
    """The head's position and mac, locked until commit; made on an empty trail."""
    head = _select_head(session)
    if head is None:
        # Insert first, then look: a concurrent first writer's head, not yet committed, is
        # waited for by the insert (and then kept), where a look first would miss it and take
        # that writer's committed rows for a trail whose head was removed.
        _insert_empty_head(session, key)
        head = _select_head(session)
        if head.position == 0 and session.scalar(select(AuditEvent.id).limit(1)) is not None:
            raise AuditChainBroken("the audit chain's head row is missing; run `flask audit verify`")
    if not hmac.compare_digest(head.seal, head_seal(key, head.position, head.mac)):
        # Extending a rewritten head would seal the rewrite; refuse and let verify name it.
        raise AuditChainBroken("the audit chain's head row was rewritten; run `flask audit verify`")
    return head.position, head.mac


def _select_head(session: Session):
    return session.execute(SELECT_HEAD).one_or_none()


def _insert_empty_head(session: Session, key: bytes) -> None:
    upsert = UPSERTS[session.get_bind().dialect.name]
    # Two first writers on an empty trail: the second waits for the first, then inserts nothing.
    session.execute(upsert(AuditChainHead).values(id=1, position=0, mac=GENESIS, seal=head_seal(key, 0, GENESIS))
                    .on_conflict_do_nothing())


# -- verification -------------------------------------------------------------------------

@dataclass(frozen=True)
class Verification:
    #: rows checked and found intact (before the break, if there is one)
    intact: int
    #: (position, mac) the head holds, if it exists
    head: tuple[int, str] | None = None
    #: where the chain first fails: (position, audit row id or None, why); None if intact
    broken: tuple[int, int | None, str] | None = None


def verify(session: Session, key: bytes, batch: int = 2000) -> Verification:
    """Walk the whole chain in position order; stop at the first row or head that fails."""
    columns = [AuditEvent.id, AuditEvent.chain_position, AuditEvent.mac] + [getattr(AuditEvent, f) for f in COVERED]
    rows = session.execute(select(*columns).order_by(AuditEvent.chain_position)
                           .execution_options(yield_per=batch))
    try:
        position, mac, broken = _walk(rows, key)
    finally:
        rows.close()
    return Verification(position, broken=broken) if broken else _check_head(session, key, position, mac)


def _walk(rows, key: bytes) -> tuple[int, str, tuple | None]:
    position, mac = 0, GENESIS
    for row in rows:
        if row.chain_position != position + 1:
            what = ("is missing" if row.chain_position > position + 1
                    else f"is not where it belongs (found {row.chain_position})")
            return position, mac, (position + 1, None, f"the row at position {position + 1} {what}: deleted or "
                                                         f"renumbered (next row: id {row.id}, position "
                                                         f"{row.chain_position})")
        if not hmac.compare_digest(link_mac(key, mac, position + 1, row._mapping), row.mac or ""):
            return position, mac, (position + 1, row.id, "its contents or mac do not match the chain: edited, "
                                                         "moved, forged, or an earlier row was removed")
        position, mac = position + 1, row.mac
    return position, mac, None


def sealed_with(session: Session, key: bytes) -> bool | None:
    """Whether the head's seal was made with `key` (None when there is no head): when neither
    the first row nor the seal match, the key is far likelier wrong than both rewritten."""
    head = session.execute(select(AuditChainHead.position, AuditChainHead.mac, AuditChainHead.seal)
                           .where(AuditChainHead.id == 1)).one_or_none()
    return None if head is None else hmac.compare_digest(head.seal, head_seal(key, head.position, head.mac))


def _check_head(session: Session, key: bytes, position: int, mac: str) -> Verification:
    head = session.execute(select(AuditChainHead.position, AuditChainHead.mac, AuditChainHead.seal)
                           .where(AuditChainHead.id == 1)).one_or_none()
    if head is None:
        if position == 0:
            return Verification(0)  # a new, empty trail
        return Verification(position, broken=(position, None, "the chain's head row is missing"))
    state = (head.position, head.mac)
    if not hmac.compare_digest(head.seal, head_seal(key, head.position, head.mac)):
        return Verification(position, state, (head.position, None, "the head row was rewritten (its seal does "
                                                                   "not match)"))
    if head.position > position:
        return Verification(position, state, (position + 1, None, f"rows {position + 1} to {head.position} are "
                                                                  "missing from the end of the chain"))
    if head.position < position:
        return Verification(position, state, (head.position + 1, None, f"rows after the head's position "
                                                                        f"{head.position} were added behind its back"))
    if not hmac.compare_digest(head.mac, mac):
        return Verification(position, state, (position, None, "the head's mac is not the last row's"))
    return Verification(position, state)
