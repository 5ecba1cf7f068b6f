"""The benchmark's databases, kept between runs: the demo clinic and the large generated one.

A database is named after what made it: the newest migration and, for the generated
clinic, the generator's version and parameters (the demo clinic: also the day it was loaded,
since its windows are placed relative to that moment). When either changes a new one is
built; a half-built one never counts, because it is built under a temporary name and only
renamed once complete.

SQLite files live in instance/bench/. With BENCH_DATABASE_URL (a PostgreSQL server URL, e.g.
postgresql://postgres@127.0.0.1:5432/postgres) the databases are made on that server instead.
"""
from __future__ import annotations

import hashlib
import os
import time
from datetime import date
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ketamine_integration import PROJECT_ROOT, create_app
from ketamine_integration.extensions import db

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
HERE = PROJECT_ROOT / "instance" / "bench"


def head_revision() -> str:
    return ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()


def bench_settings(uri: str, **extra) -> dict:
    """Settings of the app under benchmark: development mode (no HTTPS-only cookies), a fixed key."""
    return {"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": uri, "KI_ENV": "development", **extra}


def server_url() -> str | None:
    return os.environ.get("BENCH_DATABASE_URL") or None


def engine_name() -> str:
    return "postgresql" if server_url() else "sqlite"


def _uri_for(name: str) -> str:
    server = server_url()
    if server:
        return make_url(server).set(database=name).render_as_string(hide_password=False)
    HERE.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{HERE / (name + '.db')}"


def _exists(name: str) -> bool:
    server = server_url()
    if not server:
        return (HERE / f"{name}.db").exists()
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    engine.dispose()
    return bool(found)


def _create_empty(name: str) -> None:
    server = server_url()
    if not server:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{HERE / name}.db{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _promote(building: str, name: str) -> None:
    server = server_url()
    if not server:
        os.replace(HERE / f"{building}.db", HERE / f"{name}.db")
        return
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
    engine.dispose()


def ensure(label: str, build, log=print) -> tuple[str, float | None]:
    """The URI of database `label` (built by build() in an app context when missing), and how
    many seconds building took (None when it was cached)."""
    name = f"ki_bench_{label}_{head_revision()}".replace("-", "_").replace(".", "_")
    if len(name) > 60:  # PostgreSQL names stop at 63 characters: keep a digest of the whole
        name = f"{name[:45]}_{hashlib.sha1(name.encode()).hexdigest()[:10]}"
    if _exists(name):
        return _uri_for(name), None
    building = name[:54] + "_build"
    _create_empty(building)
    log(f"building {label} ({engine_name()}); it is kept for later runs")
    started = time.perf_counter()
    app = create_app(bench_settings(_uri_for(building)))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        build()
        db.session.remove()
        db.engine.dispose()  # SQLite folds its write-ahead log in when the last connection closes
    _promote(building, name)
    return _uri_for(name), time.perf_counter() - started


def demo_label() -> str:
    return f"demo_{date.today():%Y%m%d}"


def scratch_uri(label: str) -> str:
    """An empty database, made anew for each run (for fixtures that must not touch the kept ones)."""
    name = f"ki_bench_scratch_{label}"
    _create_empty(name)
    return _uri_for(name)
