"""Test databases built by running the real migrations once, then reset per test.

SQLite: the migrated template file is copied (backup API) into a fresh file per test.
PostgreSQL: a throw-away database per test run, migrated once, emptied with TRUNCATE per test.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, inspect, text
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


class SQLiteDatabases:
    name = "sqlite"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.template = workdir / "template.db"
        migrate(f"sqlite:///{self.template}")
        self._count = 0

    def fresh(self) -> str:
        self._count += 1
        target = self.workdir / f"test-{self._count}.db"
        with sqlite3.connect(self.template) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return f"sqlite:///{target}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    name = "postgresql"

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.db_name = f"ki_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.url = make_url(admin_url).set(drivername="postgresql+psycopg",
                                           database=self.db_name).render_as_string(hide_password=False)
        migrate(self.url)
        engine = create_engine(self.url)
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        self._truncate = "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        self.engine = engine

    def fresh(self) -> str:
        with self.engine.begin() as conn:
            conn.execute(text(self._truncate))
        return self.url

    def close(self) -> None:
        self.engine.dispose()
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


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
