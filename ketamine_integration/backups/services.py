"""Back up, restore and verify the clinic's database (HIPAA 164.308(a)(7) contingency plan).

Every backup has a manifest of per-table row counts and checksums taken from the very
snapshot that was backed up; a restore is not done until those match the restored database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..config import normalise_database_url
from ..extensions import READ_SNAPSHOT, db
from ..shipped import shipped_folder
from . import encryption, postgres, sqlite
from .checksums import ADVANCES_WITH_APPENDS, database_sums
from .encryption import BackupKey
from .manifest import BackupError, Manifest, TableCheck, compare, read_manifest, write_manifest

SUFFIX = {"sqlite": ".db", "postgresql": ".dump"}


@dataclass(frozen=True)
class Verification:
    manifest: Manifest
    checks: list[TableCheck]

    @property
    def mismatches(self) -> list[TableCheck]:
        return [c for c in self.checks if not c.ok]


def engine_name(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in SUFFIX:
        raise BackupError(f"{make_url(url).render_as_string()}: backups support SQLite and PostgreSQL, not {name}")
    return name


def head_revision() -> str:
    return ScriptDirectory(str(shipped_folder("migrations"))).get_current_head()


def database_engine(url: str) -> Engine:
    return create_engine(normalise_database_url(url), poolclass=NullPool)


def _revision(conn: Connection) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.scalar(text("SELECT version_num FROM alembic_version"))


def _snapshot_sums(conn: Connection, what: str) -> tuple[str, dict]:
    """The revision and table sums of one snapshot, refusing a schema these models do not describe."""
    revision, head = _revision(conn), head_revision()
    if revision != head:
        raise BackupError(f"{what} is at migration {revision or '(none)'}, this code's schema is {head}: "
                          "run `flask --app wsgi init-db` first, or use the code version that matches")
    return revision, database_sums(conn, db.metadata)


def default_output(folder: Path, engine: str, now: datetime) -> Path:
    return folder / f"ketamine-integration-{engine}-{now.strftime('%Y%m%dT%H%M%SZ')}{SUFFIX[engine]}"


def create_backup(url: str, output: Path, *, now: datetime, key: BackupKey | None = None) -> Manifest:
    """Back up the database at `url` into `output` and write its manifest beside it; with a
    `key`, the file is ciphertext and the plaintext is only ever held in memory."""
    engine = engine_name(url)
    if output.exists():
        raise BackupError(f"{output} already exists: a backup never overwrites a file")
    if not output.parent.is_dir():
        raise BackupError(f"folder {output.parent} does not exist")
    partial = output.with_name(output.name + ".partial")
    try:
        if key is None:
            revision, sums = (_backup_sqlite if engine == "sqlite" else _backup_postgres)(url, partial)
        else:
            revision, sums, plaintext = (_sqlite_in_memory if engine == "sqlite" else _postgres_in_memory)(url)
            encryption.write_ciphertext(partial, encryption.encrypt(key, plaintext))
            del plaintext
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return write_manifest(output, engine=engine, revision=revision, created_at=now, sums=sums,
                          encryption=encryption.SCHEME if key else None, key_id=key.key_id if key else None)


def _backup_sqlite(url: str, partial: Path):
    sqlite.copy_database(sqlite.sqlite_path(url), partial)
    # Sums come from the backup file itself: exactly what was written, read back.
    with sqlite.read_only_engine(partial) as engine, engine.connect() as conn:
        return _snapshot_sums(conn, "the database")


def _sqlite_in_memory(url: str):
    memory = sqlite.memory_copy(sqlite.sqlite_path(url))
    image = sqlite.memory_image(memory)
    # Sums come from the very copy whose image is encrypted.
    with sqlite.memory_engine(memory) as engine, engine.connect() as conn:
        return (*_snapshot_sums(conn, "the database"), image)


def _backup_postgres(url: str, partial: Path | None):
    engine = database_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                postgresql_readonly=True) as conn, conn.begin():
            # pg_dump imports this transaction's snapshot: the dump and the sums see one state.
            snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
            dump = postgres.start_dump(url, snapshot, partial)
            try:
                sums = _snapshot_sums(conn, "the database")
            finally:
                dumped = postgres.finish_dump(dump, partial)  # waits: the snapshot must outlive pg_dump's start
            return sums if partial is not None else (*sums, dumped)
    finally:
        engine.dispose()


def _postgres_in_memory(url: str):
    return _backup_postgres(url, None)


def _plaintext(manifest: Manifest, backup: Path, key_text: str | None) -> bytes | None:
    """An encrypted backup's plaintext (in memory), or None for a plain backup."""
    return encryption.decrypt(manifest, backup, key_text) if manifest.encryption else None


def _engine_matches(manifest: Manifest, backup: Path, url: str, what: str) -> None:
    if manifest.engine != engine_name(url):
        raise BackupError(f"{backup} is a {manifest.engine} backup; {what} is {engine_name(url)}")


def _revision_matches(manifest: Manifest, backup: Path) -> None:
    head = head_revision()
    if manifest.alembic_revision != head:
        raise BackupError(f"{backup} was made at migration {manifest.alembic_revision}; this code's schema is "
                          f"{head}: restore or verify it with the code version that made it")


def live_sums(url: str, manifest: Manifest) -> dict:
    """Sums of a live database in one transaction, append-only tables up to what the backup held."""
    engine = database_engine(url)
    try:
        options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" \
            else {READ_SNAPSHOT: True}  # a live clinic keeps writing while its sums are read
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return database_sums(conn, db.metadata, upto=manifest.upto())
    except DBAPIError as err:
        raise BackupError(f"could not read {engine.url.render_as_string()}: {err.orig}") from None
    finally:
        engine.dispose()


def verify_backup(backup: Path, *, scratch_url: str, database_url: str | None = None,
                  key_text: str | None = None, allow_unencrypted: bool = False) -> Verification:
    """Check a backup against its manifest without restoring it over anything: the SQLite file
    is opened read-only (an encrypted one is decrypted into memory); a PostgreSQL dump, encrypted
    or not, is restored into a throw-away database on the server of `scratch_url` (only a restore
    checks every table's rows; pg_restore --list would check the table of contents alone), which
    is dropped afterwards whatever happens. With `database_url`, that database is compared
    instead (the manifest alone is needed: no key)."""
    manifest = read_manifest(backup)
    encryption.require_encrypted(manifest, backup, key_text, allow_unencrypted=allow_unencrypted)
    _revision_matches(manifest, backup)
    if database_url:
        _engine_matches(manifest, backup, database_url, "the database to compare")
        return Verification(manifest, compare(manifest, live_sums(database_url, manifest),
                                              skip=ADVANCES_WITH_APPENDS))
    if manifest.engine == "sqlite":
        plaintext = _plaintext(manifest, backup, key_text)
        opened = sqlite.read_only_engine(backup) if plaintext is None \
            else sqlite.memory_engine(sqlite.memory_database(plaintext, backup))
        with opened as engine:
            problem = sqlite.integrity_problem(engine, backup)
            if problem:
                raise BackupError(problem)
            with engine.connect() as conn:
                return Verification(manifest, compare(manifest, database_sums(conn, db.metadata)))
    _engine_matches(manifest, backup, scratch_url, "the configured database (where verify restores)")
    plaintext = _plaintext(manifest, backup, key_text)
    with postgres.scratch_database(scratch_url) as scratch:
        postgres.restore_dump(backup, scratch, dump=plaintext)
        return Verification(manifest, compare(manifest, live_sums(scratch, manifest)))


def occupied_tables(url: str) -> dict[str, int]:
    """Tables of the target that hold rows (alembic_version aside); {} for an empty or new database."""
    if engine_name(url) == "sqlite" and not sqlite.sqlite_path(url).exists():
        return {}
    engine = database_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
            counts = {n: conn.scalar(select(func.count()).select_from(text(f'"{n}"'))) for n in names}
    except DBAPIError as err:
        raise BackupError(f"could not open the target {engine.url.render_as_string()}: {err.orig}") from None
    finally:
        engine.dispose()
    return {n: c for n, c in counts.items() if c}


def restore_backup(backup: Path, target_url: str, *, replace: bool, key_text: str | None = None,
                   allow_unencrypted: bool = False) -> Verification:
    """Restore into the target, then compare every table with the manifest. An encrypted
    backup is decrypted (in memory) before the target is touched, so a missing or wrong key,
    or a changed file, restores nothing; with a key configured, nor does a plain backup unless
    `allow_unencrypted`."""
    manifest = read_manifest(backup)
    encryption.require_encrypted(manifest, backup, key_text, allow_unencrypted=allow_unencrypted)
    _engine_matches(manifest, backup, target_url, "the target")
    _revision_matches(manifest, backup)
    occupied = occupied_tables(target_url)
    if occupied and not replace:
        shown = ", ".join(f"{n}: {c}" for n, c in sorted(occupied.items())[:4])
        raise BackupError(f"the target {make_url(target_url).render_as_string()} is not empty ({shown}"
                          f"{', ...' if len(occupied) > 4 else ''} rows): restore refuses to overwrite "
                          "records unless --replace is given")
    plaintext = _plaintext(manifest, backup, key_text)
    if manifest.engine == "sqlite":
        source = sqlite.memory_database(plaintext, backup) if plaintext is not None else None
        sqlite.restore_file(backup, sqlite.sqlite_path(target_url), source=source)
    else:
        postgres.restore_dump(backup, target_url, dump=plaintext)
    return Verification(manifest, compare(manifest, live_sums(target_url, manifest)))
