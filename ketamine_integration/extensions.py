"""Flask extensions, created unbound and attached to the app in create_app()."""
from __future__ import annotations

import sqlite3

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

#: Constraint names are deterministic so Alembic migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()

SQLITE_BUSY_TIMEOUT_MS = 10_000


class ReadOnlySQLite(sqlite3.Connection):
    """A connection opened with mode=ro (backups are checked this way): switching it to WAL
    would write to the file, so configure_sqlite leaves its journal mode alone."""


def configure_sqlite(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, write-ahead logging, wait rather than fail on a lock, overwrite
    deleted content, let REPLACE's deletions meet the delete triggers."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy emit BEGIN itself (see sqlite_begin) instead of pysqlite's lazy BEGIN,
    # so a transaction really starts when the session starts one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if not isinstance(dbapi_connection, ReadOnlySQLite):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted or cleared text (recovered unsaved work, issue 17 point 5) is overwritten in the
    # file, not left in free pages: not every SQLite build turns this on by default.
    cursor.execute("PRAGMA secure_delete=ON")
    # INSERT OR REPLACE (and UPDATE OR REPLACE) deletes the row it replaces without firing
    # DELETE triggers unless triggers are recursive: with this off, REPLACE rewrote every
    # append-only table past its guard (issue 17, point 3, second attack). No trigger here writes,
    # so recursion cannot loop.
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.close()
    # SQLite's lower() folds ASCII only; patient search must match "Émile" as "émile".
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


#: PostgreSQL: how long a statement waits for a lock before it fails, as SQLite's busy_timeout;
#: the request is then answered 503 with Retry-After (lifecycle.database_busy)
POSTGRESQL_LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS


def configure_postgresql(dbapi_connection, connection_record):
    """PostgreSQL: a request waits a bounded time for a lock instead of holding its worker forever."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {int(POSTGRESQL_LOCK_TIMEOUT_MS)}")
    dbapi_connection.commit()


def _lower(value):
    return value.lower() if isinstance(value, str) else value


#: execution option of a read-only SQLite transaction that must not take the write lock
READ_SNAPSHOT = "sqlite_read_snapshot"


def sqlite_begin(conn):
    # IMMEDIATE takes the write lock at the start, so a request that reads and then writes
    # (nearly all do: every page writes an audit row) waits its turn under busy_timeout
    # instead of failing with "database is locked" when another writer committed meanwhile.
    # SQLite serialises writers anyway; PostgreSQL is the engine for concurrent load.
    # A long read-only walk (audit verify, a backup's sums) asks for `sqlite_read_snapshot`:
    # one WAL snapshot without the write lock, so requests keep writing while it reads.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_SNAPSHOT) else "BEGIN IMMEDIATE")
