"""Test databases built by running the real migrations once per engine, then reset per test.

What is built once is built once per run, shared by the pytest-xdist workers (`RunBuilds`,
under a file lock in the run's temporary directory): the migrated template of each engine and
the demo clinic (loaded by `flask demo`). Each worker has its own test database per engine,
which the reused test app (conftest.py) keeps using; `reset_shared()` empties it before every test:

- SQLite: the template file is copied over the worker's file (a file copy, copy_sqlite) once the app's pooled
  connections are closed, so each test starts from exactly the migrated file.
- PostgreSQL: a DELETE per table in a transaction that skips triggers (the append-only guards
  refuse DELETE; replica mode is what replication uses to skip them), sequences restarted so
  ids start at 1 again: far cheaper than TRUNCATE, which rewrites every table's files. A role
  that may not set session_replication_role (not a superuser) falls back to TRUNCATE.
  A reused world or the demo clinic is loaded the same way, its rows then written back by COPY
  (TableRows), so the worker's database and its app's connections stay.

`fresh()` is the older interface tests use to get a second, empty database of the engine.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from jinja2 import BytecodeCache, FileSystemBytecodeCache
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: the compiled templates every test app of the run shares (None until use_template_cache): a run makes
#: dozens of apps (one per engine and worker, the browser suite's, each demo copy on PostgreSQL, each
#: fresh_app test...), and each compiled every template it rendered again, 25-65 ms a template
_template_cache: BytecodeCache | None = None


def use_template_cache(folder: Path) -> None:
    """The test apps made from now on keep their compiled templates in `folder` (made if missing), which
    the run's processes share: a template is compiled once per run, and again when its source changes
    (each entry holds its source's checksum). Files are written whole then renamed, so a process never
    reads another's half-written one."""
    global _template_cache
    folder.mkdir(parents=True, exist_ok=True)
    _template_cache = FileSystemBytecodeCache(str(folder))


def app_settings(database_uri: str) -> dict:
    """App settings for tests: fast (never production-grade) password hashing, fixed key, the run's
    compiled templates."""
    return {
        "TESTING": True,
        "KI_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "CLINIC_TIMEZONE": "America/New_York",
        "PAGE_SIZE": 25,
        "TEMPLATE_BYTECODE_CACHE": _template_cache,
    }


def migrate(database_uri: str) -> None:
    from flask_migrate import upgrade

    from ketamine_integration import create_app
    from ketamine_integration.extensions import db

    app = create_app(app_settings(database_uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def build_demo(database_uri: str, output: Path) -> None:
    """The demo clinic, loaded by the `flask demo` command into an emptied database; what the
    command printed goes to `output` (tests of the command read it instead of loading it again)."""
    from ketamine_integration import create_app
    from ketamine_integration.extensions import db

    app = create_app(app_settings(database_uri))
    result = app.test_cli_runner().invoke(args=["demo"])
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if result.exit_code != 0:
        raise RuntimeError(f"flask demo failed:\n{result.output}")
    output.write_text(result.output)


#: the files SQLite keeps beside a database while it is open (WAL mode) or writing (rollback journal)
SIDECARS = ("-wal", "-shm", "-journal")


def copy_sqlite(source: Path, target: Path) -> None:
    """source's pages into target (made or overwritten); nobody may have either open.

    Every test starts with one of these copies, so it is a plain file copy, where SQLite's backup
    API took 6.7 ms of CPU for the 1 MB migrated template. An existing target nobody has open is
    written over in place and cut to the source's length (0.1 ms; a new file renamed over it cost
    0.6 ms of CPU and 1.2 ms of wall time, the filesystem freeing the old file's blocks and
    allocating the new one's at every test). SQLite removes a database's -wal and -shm files when
    its last connection closes: when either is there, a connection (a leak, a process still running)
    may hold the old file, and writing over it in place would change a database under it, so the copy
    then takes target's name by a rename, a new file, and the sidecars go. A source whose write-ahead
    log still holds pages (a connection to it left open) is copied through SQLite's backup API, which
    reads them too."""
    wal = source.with_name(source.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            dst.execute("PRAGMA synchronous=OFF")  # a test database: no fsync per copy
            src.backup(dst)
        return
    sidecars = [target.with_name(target.name + sidecar) for sidecar in SIDECARS]
    pages = source.read_bytes()
    if target.exists() and not any(sidecar.exists() for sidecar in sidecars):
        with open(target, "r+b") as out:
            out.write(pages)
            out.truncate()
        return
    part = target.with_name(target.name + ".part")
    part.write_bytes(pages)
    for sidecar in sidecars:
        sidecar.unlink(missing_ok=True)
    os.replace(part, target)


class RunBuilds:
    """What the run builds once for all its workers, kept in `root` (the run's base temporary
    directory, which holds each worker's own)."""

    def __init__(self, root: Path, worker: str):
        self.root, self.worker = root, worker

    @contextmanager
    def lock(self, name: str):
        """One worker at a time holds `name` (an flock: released if the worker dies)."""
        with open(self.root / f"{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def file(self, name: str, build) -> Path:
        """root/name, made by build(path) by whichever worker asks first."""
        path = self.root / name
        with self.lock(name):
            if not path.exists():
                part = self.root / f"{name}.part"
                build(part)
                part.rename(path)
        return path

    @property
    def compiled_templates(self) -> Path:
        """Where the run's processes keep the templates they compiled (use_template_cache)."""
        return self.root / "compiled-templates"

    def run_id(self) -> str:
        """A name part no other run uses (PostgreSQL databases are server-wide)."""
        return self.file("run-id", lambda path: path.write_text(uuid.uuid4().hex[:10])).read_text()


def sqlite_template(builds: RunBuilds) -> Path:
    """The run's migrated, empty SQLite database, made by whichever process asks first."""
    return builds.file("sqlite-template.db", lambda path: migrate(f"sqlite:///{path}"))


def sqlite_demo(builds: RunBuilds, template: Path) -> Path:
    """The run's SQLite demo clinic, loaded by `flask demo` into a copy of `template` by whichever
    process asks first."""
    def build(path: Path) -> None:
        copy_sqlite(template, path)
        build_demo(f"sqlite:///{path}", builds.root / "sqlite-demo.out")
    return builds.file("sqlite-demo.db", build)


class SQLiteDatabases:
    name = "sqlite"

    def __init__(self, workdir: Path, builds: RunBuilds | None = None):
        """Without the run's builds, workdir keeps its own template."""
        self.workdir, self.builds = workdir, builds or RunBuilds(workdir, "main")
        self.template = sqlite_template(self.builds)
        self.shared = workdir / "shared.db"
        self.shared_url = f"sqlite:///{self.shared}"
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
        """The shared file becomes a copy of the demo clinic."""
        copy_sqlite(self._demo(), self.shared)

    def demo_copy(self) -> str:
        """A new file holding a copy of the demo clinic."""
        self._count += 1
        target = self.workdir / f"demo-{self._count}.db"
        copy_sqlite(self._demo(), target)
        return f"sqlite:///{target}"

    def _demo(self) -> Path:
        """The run's demo clinic, built by whichever worker asks first."""
        return sqlite_demo(self.builds, self.template)

    def demo_output(self) -> str:
        """What `flask demo` printed when it built the run's demo clinic (after load_demo)."""
        return (self.builds.root / "sqlite-demo.out").read_text()

    def save_snapshot(self, name: str) -> None:
        """The shared file as it is now, kept as `name` (its app's connections are closed)."""
        copy_sqlite(self.shared, self.workdir / f"snapshot-{name}.db")

    def load_snapshot(self, name: str) -> None:
        """The shared file back to snapshot `name` (its app's connections are closed)."""
        copy_sqlite(self.workdir / f"snapshot-{name}.db", self.shared)

    def close(self) -> None:
        pass


class TableRows:
    """A PostgreSQL database's rows as COPY writes them and where its sequences stand, held in
    memory: put back into a database of the same schema by `write`, in the transaction that empties
    it. This is how a reused world or the demo clinic is loaded on PostgreSQL: a database copied
    from a template would need its predecessor dropped, and a DROP DATABASE forces an immediate
    checkpoint (0.1 s on a quiet server, 2 to 6 s under load), where these rows take milliseconds."""

    def __init__(self, conn: psycopg.Connection, tables: list[str]):
        """The rows of `tables` (the non-empty ones) and the sequences, read over `conn`."""
        with conn.transaction():
            self.tables = [(t, rows) for t in tables if (rows := self._read(conn, t))]
            self.sequences = conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL").fetchall()

    @staticmethod
    def _read(conn: psycopg.Connection, table: str) -> bytes:
        with conn.cursor().copy(f'COPY "{table}" TO STDOUT') as copy:
            return b"".join(bytes(block) for block in copy)

    def write(self, conn: psycopg.Connection) -> None:
        """Inside the caller's transaction, which has emptied every table with the triggers off
        (replica mode: the rows come back as they were, whatever the guards would say of them)."""
        for table, rows in self.tables:
            with conn.cursor().copy(f'COPY "{table}" FROM STDIN') as copy:
                copy.write(rows)
        if self.sequences:
            names, values = zip(*self.sequences)
            conn.execute("SELECT setval(quote_ident(name)::regclass, value) FROM unnest(%s::text[], %s::bigint[]) "
                         "AS s(name, value)", (list(names), list(values)))


#: whether the connection's role is a superuser: only one may skip triggers (session_replication_role)
IS_SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
#: whether the run's PostgreSQL demo clinic is loaded by `flask demo` itself: in `make test-all-engines`
#: (KI_ALL_ENGINES=1), where every demo test runs on PostgreSQL, that command's own test among them.
#: Otherwise only the few tests whose SQL differs by engine need the demo there: it is the SQLite
#: demo's rows, copied (transplant), which costs a second of CPU where `flask demo` on PostgreSQL cost
#: 35 s of the run's CPU and 16 s of the server's (17,000 statements)
FLASK_DEMO_ON_POSTGRESQL = os.environ.get("KI_ALL_ENGINES", "").lower() in ("1", "true", "yes")


def transplant(source: Path, target: str) -> None:
    """Every row of the SQLite database `source` written into the PostgreSQL database `target`
    (a libpq URL), which is migrated to the same revision, in place of its rows: column by column by name (the
    engines may order a table's columns differently), each value read by PostgreSQL from its text
    as SQLite keeps it (instants, dates and JSON are text there, booleans 0 and 1), with the
    triggers off as TableRows.write has them (the rows are put back as they were, not made anew);
    then each sequence set to its column's largest value, as inserting the rows would have left it."""
    with closing(sqlite3.connect(source)) as src, psycopg.connect(target) as dst, dst.transaction():
        dst.execute("SET LOCAL session_replication_role = replica")
        columns: dict[str, list[str]] = {}
        for table, column in dst.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position"):
            columns.setdefault(table, []).append(column)
        for table, names in columns.items():
            quoted = ", ".join(f'"{name}"' for name in names)
            dst.execute(f'DELETE FROM "{table}"')  # what the migrations seeded, which the demo's rows hold too
            with dst.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                for row in src.execute(f'SELECT {quoted} FROM "{table}"'):
                    copy.write_row(row)
        for sequence, table, column in dst.execute(
                "SELECT s.oid::regclass::text, t.relname, a.attname FROM pg_class s "
                "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
                "WHERE s.relkind = 'S'").fetchall():
            dst.execute(f'SELECT setval(%s, COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) FROM "{table}"',
                        (sequence,))


class PostgresRun:
    """What a run builds once on a PostgreSQL server for all its workers: the migrated template
    and the demo clinic, each a database named after the run (drop_run_databases finds them)."""

    def __init__(self, admin_url: str, builds: RunBuilds):
        self.admin_url, self.builds = admin_url, builds
        self.prefix = f"ki_test_{builds.run_id()}"

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)

    def libpq_url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def template(self) -> str:
        return self._built("template", lambda name: (self.create(f'"{name}"'), migrate(self.url(name))))

    def demo(self) -> str:
        template = self.template()
        if FLASK_DEMO_ON_POSTGRESQL or not self.superuser():
            return self._built("demo", lambda name: (self.copy(template, name), build_demo(
                self.url(name), self.demo_output)))
        return self._built("demo", lambda name: (self.copy(template, name), transplant(
            sqlite_demo(self.builds, sqlite_template(self.builds)), self.libpq_url(name))))

    @property
    def demo_output(self) -> Path:
        """What `flask demo` printed when it built the run's demo clinic."""
        return self.builds.root / "postgresql-demo.out"

    def superuser(self) -> bool:
        """Whether the run's role may skip triggers (set session_replication_role), as transplant needs."""
        with psycopg.connect(self.admin_url, connect_timeout=3) as conn:
            return conn.execute(IS_SUPERUSER).fetchone()[0]

    def _built(self, what: str, build) -> str:
        """The run's database `what`, made by build(name) by whichever process asks first."""
        name = f"{self.prefix}_{what}"
        self.builds.file(f"{name}.built", lambda path: (build(name), path.touch()))
        return name

    def copy(self, template: str, name: str) -> None:
        with self.builds.lock("postgresql-copy"):  # a template database must have no other session
            self.create(f'"{name}" TEMPLATE "{template}"')

    def create(self, what: str) -> None:
        """CREATE DATABASE `what`, whose sessions commit without waiting for the WAL flush: a test
        database never outlives a server crash, and a flushed commit costs 1.8 ms, an unflushed
        0.1 ms (a database's own settings are not copied from its template, hence each time)."""
        name = what.split('"')[1]
        self.admin(f"CREATE DATABASE {what}")
        self.admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')

    def admin(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(statement)

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresDatabases:
    name = "postgresql"

    def __init__(self, admin_url: str, builds: RunBuilds):
        self.run = PostgresRun(admin_url, builds)
        self.db_name = f"{self.run.prefix}_{builds.worker}"
        self.run.copy(self.run.template(), self.db_name)
        self.url = self.shared_url = self.run.url(self.db_name)
        self._conn = psycopg.connect(self.run.libpq_url(self.db_name))
        self._tables = [t for (t,) in self._conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "ORDER BY tablename")]
        self._superuser = self._conn.execute(IS_SUPERUSER).fetchone()[0]
        self._conn.rollback()
        self._reset = self._reset_statement()
        #: what load_snapshot and load_demo put back: TableRows, or (a role that may not skip
        #: triggers, so cannot write rows back as they were) the name of a database to copy as a template
        self._kept: dict[str, TableRows | str] = {}

    def _reset_statement(self) -> str:
        if not self._superuser:
            return "TRUNCATE " + ", ".join(f'"{t}"' for t in self._tables) + " RESTART IDENTITY CASCADE"
        # Replica mode skips the foreign-key triggers too, so the order of the DELETEs is free.
        return "; ".join([
            "SET LOCAL session_replication_role = replica",
            *(f'DELETE FROM "{t}"' for t in self._tables),
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'",
        ])

    def reset_shared(self) -> None:
        """Every table of the worker's database emptied, ids restarting at 1."""
        with self._conn.transaction():
            self._conn.execute(self._reset)

    def fresh(self) -> str:
        """The worker's database, emptied (PostgreSQL tests share one database, reset per test)."""
        self.reset_shared()
        return self.url

    def load_demo(self) -> None:
        """The worker's database becomes a copy of the demo clinic (its app's sessions are closed)."""
        if "demo clinic" not in self._kept:
            self._kept["demo clinic"] = self._keep(self.run.demo())
        self._put_back(self._kept["demo clinic"])

    def demo_output(self) -> str:
        """What `flask demo` printed when it built the run's demo clinic (after load_demo)."""
        if not self.run.demo_output.exists():
            raise RuntimeError("this run's PostgreSQL demo clinic holds the SQLite demo's rows (transplant): "
                               "`flask demo` ran on SQLite only; KI_ALL_ENGINES=1 runs it on PostgreSQL too")
        return self.run.demo_output.read_text()

    def save_snapshot(self, name: str) -> None:
        """The worker's database as it is now, kept as `name` (its app's sessions are closed)."""
        self._kept[f"snapshot {name}"] = self._keep(self.db_name)

    def load_snapshot(self, name: str) -> None:
        """The worker's database back to snapshot `name` (its app's sessions are closed)."""
        self._put_back(self._kept[f"snapshot {name}"])

    def _keep(self, database: str) -> TableRows | str:
        """What _put_back needs to make the worker's database a copy of `database` as it is now."""
        if database != self.db_name:  # the run's demo: never changed, so read or copied as it is
            if not self._superuser:
                return database
            with psycopg.connect(self.run.libpq_url(database)) as conn:
                return TableRows(conn, self._tables)
        if self._superuser:
            return TableRows(self._conn, self._tables)
        copy = f"{self.db_name}_kept{len(self._kept)}"
        self._reconnecting(lambda: self.run.copy(database, copy))
        return copy

    def _put_back(self, kept: TableRows | str) -> None:
        if isinstance(kept, TableRows):
            with self._conn.transaction():
                self._conn.execute(self._reset)
                kept.write(self._conn)
        else:
            self._reconnecting(lambda: (self.run.drop(self.db_name), self.run.copy(kept, self.db_name)))

    def _reconnecting(self, change) -> None:
        """change() with the reset connection closed (a database copied or dropped has no session)."""
        self._conn.close()
        try:
            change()
        finally:
            self._conn = psycopg.connect(self.run.libpq_url(self.db_name))

    def close(self) -> None:
        """The worker's own database; the run's template and demo go in drop_run_databases."""
        self._conn.close()
        self.run.drop(self.db_name)


def build_demo_in_background(builds: RunBuilds) -> subprocess.Popen | None:
    """Start building the run's PostgreSQL demo clinic (and the template it starts from) in a
    process of its own, once per run; None when another process of the run started it.

    `flask demo` on PostgreSQL is 17,000 statements, a minute or more of waiting on the server
    under load: built by the worker whose test asks for it first, that worker idled meanwhile. This
    process builds it as a worker would, from the start of the run, under the same locks: a test that
    asks before it is done waits for it, and if it fails, the first worker that asks builds it again
    and reports why (its output is in the run's directory)."""
    started = []

    def start(marker: Path) -> None:
        with open(builds.root / "postgresql-demo-builder.log", "wb") as log:
            started.append(subprocess.Popen(
                [sys.executable, "-m", "tests.databases", str(builds.root)],
                cwd=Path(__file__).parent.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
        marker.touch()

    builds.file("postgresql-demo-builder.started", start)
    return started[0] if started else None


def drop_run_databases(builds: RunBuilds, admin_url: str) -> None:
    """At the end of the run (the xdist controller, or the only process): every PostgreSQL
    database the run made, if it made any."""
    if not (builds.root / "run-id").exists():
        return
    prefix = f"ki_test_{(builds.root / 'run-id').read_text()}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


if __name__ == "__main__":  # build_demo_in_background's process: python -m tests.databases RUN_DIRECTORY
    run = RunBuilds(Path(sys.argv[1]), "demo-builder")
    use_template_cache(run.compiled_templates)
    PostgresRun(postgres_admin_url(), run).demo()
