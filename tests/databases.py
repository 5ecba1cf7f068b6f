"""Test databases built by running the real migrations once per engine, then reset per test.

Each engine has one migrated template and one shared database that the reused test app (see
conftest.py) keeps using; `reset_shared()` empties it before every test:

- SQLite: the template file is copied over the shared file (backup API) once the app's pooled
  connections are closed, so each test starts from exactly the migrated file.
- PostgreSQL: a throw-away database per run (per xdist worker), emptied with one DELETE per table
  in a transaction that skips triggers (the append-only guards refuse DELETE; replica mode is
  what replication uses to skip them), sequences restarted so ids start at 1 again. That is
  ~40 times cheaper than TRUNCATE, which rewrites every table's files. A role that may not set
  session_replication_role (not a superuser) falls back to TRUNCATE.

`fresh()` is the older interface tests use to get a second, empty database of the engine.
A demo clinic is built once per engine and copied into place (`load_demo`).
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def app_settings(database_uri: str) -> dict:
    """App settings for tests: fast (never production-grade) password hashing, fixed key."""
    return {
        "TESTING": True,
        "KI_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "CLINIC_TIMEZONE": "America/New_York",
        "PAGE_SIZE": 25,
    }


def migrate(database_uri: str) -> None:
    from flask_migrate import upgrade

    from ketamine_integration import create_app
    from ketamine_integration.extensions import db

    app = create_app(app_settings(database_uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def build_demo(database_uri: str) -> None:
    """The demo clinic, loaded by the `flask demo` command into an emptied database."""
    from ketamine_integration import create_app
    from ketamine_integration.extensions import db

    app = create_app(app_settings(database_uri))
    result = app.test_cli_runner().invoke(args=["demo"])
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if result.exit_code != 0:
        raise RuntimeError(f"flask demo failed:\n{result.output}")


def copy_sqlite(source: Path, target: Path) -> None:
    """source's pages into target (made or overwritten); nobody else may have target open."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        dst.execute("PRAGMA synchronous=OFF")  # a test database: no fsync per copy
        src.backup(dst)


class SQLiteDatabases:
    name = "sqlite"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.template = workdir / "template.db"
        migrate(f"sqlite:///{self.template}")
        self.shared = workdir / "shared.db"
        self.shared_url = f"sqlite:///{self.shared}"
        self._demo: Path | None = None
        self._count = 0

    def fresh(self) -> str:
        """A new file holding the migrated, empty schema."""
        self._count += 1
        target = self.workdir / f"test-{self._count}.db"
        copy_sqlite(self.template, target)
        return f"sqlite:///{target}"

    def reset_shared(self) -> None:
        """The shared file back to the migrated template (its app's connections are closed)."""
        copy_sqlite(self.template, self.shared)

    def load_demo(self) -> None:
        """The shared file becomes a copy of the demo clinic (built on first use)."""
        if self._demo is None:
            demo = self.workdir / "demo.db"
            copy_sqlite(self.template, demo)
            build_demo(f"sqlite:///{demo}")
            self._demo = demo
        copy_sqlite(self._demo, self.shared)

    def close(self) -> None:
        pass


class PostgresDatabases:
    name = "postgresql"

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.db_name = f"ki_test_{uuid.uuid4().hex[:10]}"
        self._demo_name: str | None = None
        self._admin(f'CREATE DATABASE "{self.db_name}"')
        self.url = self._url(self.db_name)
        self.shared_url = self.url
        migrate(self.url)
        self._conn = psycopg.connect(self._libpq_url(self.db_name))
        self._reset = self._reset_statement()

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)

    def _libpq_url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(statement)

    def _reset_statement(self) -> str:
        tables = [t for (t,) in self._conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "ORDER BY tablename")]
        superuser = self._conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
        self._conn.rollback()
        if not superuser:
            return "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        # Replica mode skips the foreign-key triggers too, so the order of the DELETEs is free.
        return "; ".join([
            "SET LOCAL session_replication_role = replica",
            *(f'DELETE FROM "{t}"' for t in tables),
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'",
        ])

    def reset_shared(self) -> None:
        """Every table of the shared database emptied, ids restarting at 1."""
        with self._conn.transaction():
            self._conn.execute(self._reset)

    def fresh(self) -> str:
        """The run's database, emptied (PostgreSQL tests share one database, reset per test)."""
        self.reset_shared()
        return self.url

    def load_demo(self) -> str:
        """A new database copied from the demo clinic (built once, kept as a template); the
        caller drops it with drop()."""
        if self._demo_name is None:
            name = f"{self.db_name}_demo"
            self.reset_shared()
            self._conn.close()  # a template database must have no other connection
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.db_name}"')
            self._conn = psycopg.connect(self._libpq_url(self.db_name))
            build_demo(self._url(name))
            self._demo_name = name
        copy = f"{self.db_name}_{uuid.uuid4().hex[:6]}"
        self._admin(f'CREATE DATABASE "{copy}" TEMPLATE "{self._demo_name}"')
        return copy

    def url_of(self, name: str) -> str:
        return self._url(name)

    def drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._conn.close()
        for name in (self._demo_name, self.db_name):
            if name:
                self.drop(name)


def postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


def postgres_unavailable_reason() -> str | None:
    url = postgres_admin_url()
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return (f"PostgreSQL not reachable at {make_url(url).render_as_string()} ({first_line}); "
                "set TEST_DATABASE_URL to run the PostgreSQL half of the suite")
