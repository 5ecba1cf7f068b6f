"""SQLite backups through the sqlite3 online-backup API.

The database runs in WAL mode: committed pages may still sit in the -wal file, so copying
the main file can miss them or catch a half-written checkpoint. The backup API copies a
consistent snapshot through SQLite itself, whatever the journal mode.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool, StaticPool

from ..extensions import ReadOnlySQLite
from .manifest import BackupError


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{url}: only SQLite databases in a named file can be backed up or restored")
    return Path(database)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, factory=ReadOnlySQLite)


@contextmanager
def read_only_engine(path: Path):
    """An engine on a backup file that can never write to it (verify changes nothing)."""
    engine = create_engine("sqlite://", creator=lambda: _read_only(path), poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def memory_copy(source: Path) -> sqlite3.Connection:
    """A consistent snapshot of `source` held in memory (an encrypted backup's plaintext never
    touches the disk)."""
    if not source.is_file():
        raise BackupError(f"database file {source} not found")
    memory = sqlite3.connect(":memory:", factory=ReadOnlySQLite, check_same_thread=False)
    with closing(sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=rw", uri=True)) as src:
        src.backup(memory)
    return memory


def memory_image(memory: sqlite3.Connection) -> bytes:
    """The in-memory copy as a database file image, self-contained like a file backup."""
    image = bytearray(memory.serialize())
    # Header bytes 18-19 (file format write/read version) say 2, WAL, when the source runs in
    # WAL mode, and an image marked WAL cannot be opened without its -wal file. The copy is
    # whole (the backup API read the committed pages), so it is marked 1, rollback journal, as
    # copy_database's PRAGMA journal_mode=DELETE marks a file backup.
    image[18:20] = b"\x01\x01"
    return bytes(image)


def memory_database(image: bytes, backup: Path) -> sqlite3.Connection:
    """A decrypted backup image opened in memory."""
    memory = sqlite3.connect(":memory:", factory=ReadOnlySQLite, check_same_thread=False)
    try:
        memory.deserialize(image)
    except sqlite3.DatabaseError as err:
        memory.close()
        raise BackupError(f"backup file {backup} decrypts to something that is not a SQLite database ({err})") from None
    return memory


@contextmanager
def memory_engine(memory: sqlite3.Connection):
    """An engine on an in-memory database; disposing of it closes the database."""
    engine = create_engine("sqlite://", creator=lambda: memory, poolclass=StaticPool)
    try:
        yield engine
    finally:
        engine.dispose()


def integrity_problem(engine: Engine, path: Path) -> str | None:
    """SQLite's own page-level check of a backup file; None when it answers 'ok'."""
    try:
        with engine.connect() as conn:
            answer = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
    except DBAPIError as err:
        return f"backup file {path} is not a readable SQLite database ({err.orig})"
    if answer != ["ok"]:
        return f"backup file {path} fails SQLite's integrity check: {'; '.join(answer[:3])}"
    return None


def copy_database(source: Path, target: Path) -> None:
    """A consistent snapshot of `source` into `target` (made or overwritten), kept in rollback
    journal mode so the backup is one self-contained file."""
    if not source.is_file():
        raise BackupError(f"database file {source} not found")
    # mode=rw: never create a missing database; a WAL reader may need to write the -shm index.
    with closing(sqlite3.connect(f"file:{quote(str(source.resolve()))}?mode=rw", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    os.chmod(target, 0o600)  # a backup holds every patient's record


def restore_file(backup: Path, target: Path, *, source: sqlite3.Connection | None = None) -> None:
    """Write the backup (or `source`, its decrypted copy in memory) over the target database
    through the backup API (the target keeps WAL mode; the app sets it on every connection)."""
    if not target.parent.is_dir():
        raise BackupError(f"target folder {target.parent} does not exist")
    created = not target.exists()
    try:
        with closing(source or _read_only(backup)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.DatabaseError as err:
        raise BackupError(f"restoring {backup} into {target} failed: {err}") from None
    if created:
        os.chmod(target, 0o600)
