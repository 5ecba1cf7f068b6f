"""Clinic-time arithmetic inside SQL, the same on SQLite and PostgreSQL: a stored UTC instant's date in
the clinic's zone, and the hours between two instants (for aggregates a page computes in one statement)."""
from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .clinic_time import in_zone


class clinic_date(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    """clinic_date(instant, zone_key): the date in the zone of a naive UTC instant column.

    PostgreSQL converts with its own time zone database; SQLite has none, so the connection carries
    `ki_local_date` (add_sqlite_functions below), which converts with Python's zoneinfo. Both follow
    the zone's changes of clock (a 03:30 UTC instant is the previous day in New York)."""

    type = Date()
    inherit_cache = True
    name = "clinic_date"


@compiles(clinic_date, "postgresql")
def _clinic_date_postgresql(element, compiler, **kw):
    instant, zone = list(element.clauses)
    return (f"CAST(timezone({compiler.process(zone, **kw)}, timezone('UTC', {compiler.process(instant, **kw)}))"
            " AS DATE)")


@compiles(clinic_date, "sqlite")
def _clinic_date_sqlite(element, compiler, **kw):
    instant, zone = list(element.clauses)
    return f"ki_local_date({compiler.process(instant, **kw)}, {compiler.process(zone, **kw)})"


def add_sqlite_functions(dbapi_connection, connection_record):
    """Each new SQLite connection: `ki_local_date`, which clinic_date compiles to (SQLite knows no time zones)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("ki_local_date", 2, _local_date, deterministic=True)


def _local_date(stored, zone):
    """The date in `zone` of a UTC instant as SQLite stores it ("2026-03-08 06:30:00.000000"), as ISO
    text; None for None. The conversion is the pages' own (clinic_time.in_zone)."""
    if stored is None:
        return None
    return in_zone(datetime.fromisoformat(stored), ZoneInfo(zone)).date().isoformat()


class hours_between(FunctionElement):  # noqa: N801
    """hours_between(later, earlier): the hours from one naive UTC instant column to another (a float)."""

    type = Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return (f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"
            " / 3600.0)")


@compiles(hours_between, "sqlite")
def _hours_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"((julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)})) * 24.0)"
