"""Per-table row counts and checksums that come out the same on SQLite and PostgreSQL.

A backup is only worth having if a restore can be shown to hold the same records
(HIPAA 164.308(a)(7)(ii)(D), testing of contingency plans; 164.312(c)(1), integrity). Rows
are read through the models' column types, so both engines hand back the same Python values
(aware UTC datetimes, Decimals, bools, parsed JSON, bytes); each value is then written in one
canonical form and the rows are hashed in primary-key order.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Connection, MetaData, String, Table, func, inspect, select

#: Tables that only ever grow (database triggers refuse UPDATE and DELETE). A live database
#: is compared with a backup over the rows the backup held, so rows appended since (the
#: restore's own audit row, later sign-ins) are not a mismatch, but a changed old one is.
APPEND_ONLY = ("audit_events",)
#: One-row tables that advance with every appended audit row (the HMAC chain's head). A live
#: database is not compared with the backup on them: `flask --app wsgi audit verify` checks
#: the head against the chain it seals, which is the check that means something there.
ADVANCES_WITH_APPENDS = ("audit_chain_head",)

#: Rows fetched per round trip; keeps memory flat however large a table grows.
BATCH = 2000


@dataclass(frozen=True)
class TableSum:
    rows: int
    sha256: str
    #: highest id held (append-only tables only): where a live comparison stops
    last_id: int | None = None


def canonical(value):
    """One value in a form that does not depend on the engine or driver that produced it."""
    if value is None or isinstance(value, (str, bool, int)):
        return value  # bool before int matters: JSON keeps true distinct from 1
    if isinstance(value, float):
        return ["float", repr(value) if math.isfinite(value) else str(value)]
    if isinstance(value, Decimal):
        # 70.50 (PostgreSQL keeps the column's scale) and 70.5 (SQLite) are the same dose.
        return ["decimal", "0" if value.is_zero() else format(value.normalize(), "f")]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return ["datetime", value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(
                timespec="microseconds") + "Z"]
        return ["datetime", value.isoformat(timespec="microseconds")]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, time):
        return ["time", value.isoformat(timespec="microseconds")]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["bytes", base64.b64encode(bytes(value)).decode("ascii")]
    if isinstance(value, (dict, list)):
        return ["json", json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)]
    if isinstance(value, UUID):
        return ["uuid", str(value)]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def row_bytes(row) -> bytes:
    return (json.dumps([canonical(v) for v in row], separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def schema_tables(connection: Connection, metadata: MetaData) -> list[Table]:
    """Every table in the database, typed by the models where they describe it (the schema
    revision is checked first, so they do); others (alembic_version) reflected."""
    names = sorted(inspect(connection).get_table_names())
    reflected = MetaData()
    unknown = [n for n in names if n not in metadata.tables]
    if unknown:
        reflected.reflect(connection, only=unknown)
    return [metadata.tables[n] if n in metadata.tables else reflected.tables[n] for n in names]


def _order(connection: Connection, table: Table):
    columns = list(table.primary_key.columns) or list(table.columns)
    if connection.dialect.name == "postgresql":
        # Byte order, as SQLite's BINARY collation sorts: the locale's order differs by engine.
        return [c.collate("C") if isinstance(c.type, String) else c for c in columns]
    return columns


def table_sum(connection: Connection, table: Table, *, upto_id: int | None = None) -> TableSum:
    stmt = select(table).order_by(*_order(connection, table))
    if upto_id is not None:
        stmt = stmt.where(table.c.id <= upto_id)
    digest, count = hashlib.sha256(), 0
    result = connection.execution_options(yield_per=BATCH).execute(stmt)
    for partition in result.partitions():
        for row in partition:
            digest.update(row_bytes(row))
            count += 1
    last_id = None
    if table.name in APPEND_ONLY:
        highest = select(func.max(table.c.id))
        if upto_id is not None:
            highest = highest.where(table.c.id <= upto_id)
        last_id = connection.scalar(highest) or 0
    return TableSum(count, digest.hexdigest(), last_id)


def database_sums(connection: Connection, metadata: MetaData, *,
                  upto: dict[str, int] | None = None) -> dict[str, TableSum]:
    """Counts and checksums of every table, read in the connection's current transaction
    (one snapshot). `upto` limits append-only tables to the ids a backup held."""
    upto = upto or {}
    return {t.name: table_sum(connection, t, upto_id=upto.get(t.name)) for t in schema_tables(connection, metadata)}
