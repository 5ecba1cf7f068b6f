"""Rows built in memory and written in chunks: the fast path of the clinic generator.

Tables that nobody hooks with session events are written with Core `insert()` executemany,
a few thousand rows per transaction, with ids the generator assigns itself (so rows can
point at each other before anything is written). Signed records go in as drafts first and
are signed by an UPDATE afterwards: the database triggers refuse children added to a signed
note or dosing session, and the generator keeps that order like the app does.
"""
from __future__ import annotations

import itertools
from collections import defaultdict

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Engine

from ketamine_integration.extensions import db

#: rows per executemany, each in its own transaction
CHUNK = 4000
#: the order that satisfies every foreign key
TABLE_ORDER = ("treatment_courses", "phase_transitions", "preparation_records", "dosing_sessions", "vital_signs",
               "adverse_events", "appointments", "appointment_changes", "session_notes", "note_themes",
               "action_steps", "action_check_ins", "note_dosing_links", "note_addenda", "process_notes",
               "case_formulations", "measure_responses", "safety_alerts", "releases_of_information",
               "coordination_notes")
#: after these tables are written, their parents are signed (children first, as the triggers demand)
SIGN_AFTER = {"adverse_events": "dosing_sessions", "note_dosing_links": "session_notes"}


class Rows:
    """Rows per table, with ids handed out as they are made."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.tables: dict[str, list[dict]] = defaultdict(list)
        #: table -> rows of (id, values) to apply once children are in (signing)
        self.signatures: dict[str, list[dict]] = defaultdict(list)
        self._ids = {}
        with engine.connect() as conn:
            for name in TABLE_ORDER:
                table = db.metadata.tables[name]
                if "id" in table.c:
                    start = conn.scalar(select(func.max(table.c.id))) or 0
                    self._ids[name] = itertools.count(start + 1)

    def add(self, table: str, **values) -> int | None:
        if table in self._ids:
            values.setdefault("id", next(self._ids[table]))
        self.tables[table].append(values)
        return values.get("id")

    def sign_later(self, table: str, row_id: int, **values) -> None:
        self.signatures[table].append({"b_id": row_id, **values})

    def count(self, table: str) -> int:
        return len(self.tables[table])

    def write(self, progress=None) -> None:
        for name in TABLE_ORDER:
            self._insert(name)
            if name in SIGN_AFTER:
                self._sign(SIGN_AFTER[name])
            if progress:
                progress(name, len(self.tables[name]))
        self._advance_sequences()
        self._analyze()

    def _insert(self, name: str) -> None:
        table, rows = db.metadata.tables[name], self.tables[name]
        keys = sorted({k for row in rows for k in row})
        for start in range(0, len(rows), CHUNK):
            chunk = [{k: row.get(k) for k in keys} for row in rows[start:start + CHUNK]]
            with self.engine.begin() as conn:
                conn.execute(table.insert(), chunk)

    def _sign(self, name: str) -> None:
        table, rows = db.metadata.tables[name], self.signatures[name]
        if not rows:
            return
        columns = [k for k in rows[0] if k != "b_id"]
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(
            {c: bindparam(c) for c in columns})
        for start in range(0, len(rows), CHUNK):
            with self.engine.begin() as conn:
                conn.execute(stmt, rows[start:start + CHUNK])

    def _advance_sequences(self) -> None:
        """PostgreSQL: ids were given explicitly, so move each serial past the largest one."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as conn:
            for name in (n for n in TABLE_ORDER if n in self._ids):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"))

    def _analyze(self) -> None:
        """PostgreSQL: table statistics, as autovacuum gathers them soon after a bulk load in a
        running clinic (without them the planner takes every table for nearly empty). SQLite
        keeps none unless asked (ANALYZE), and the app never asks, so none are made there."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
