"""The manifest written beside every backup, and the comparison of a database with it."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checksums import APPEND_ONLY, TableSum

FORMAT = "ketamine-integration-backup/1"
MANIFEST_SUFFIX = ".manifest.json"


class BackupError(Exception):
    """A backup, manifest or target that cannot be used; the message names the file and the problem."""


class TableEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    last_id: int | None = Field(default=None, ge=0)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str = Field(pattern=f"^{FORMAT}$")
    engine: str = Field(pattern=r"^(sqlite|postgresql)$")
    alembic_revision: str = Field(min_length=1)
    created_at: datetime
    backup_file: str
    #: of the backup file's bytes: a flipped byte is found before anything is restored
    backup_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    backup_bytes: int = Field(ge=0)
    #: "fernet" when the backup file is ciphertext (backups/encryption.py); absent: plain
    encryption: str | None = Field(default=None, pattern=r"^fernet$")
    #: the fingerprint of the key an encrypted backup needs (never the key itself)
    key_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    tables: dict[str, TableEntry] = Field(min_length=1)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def upto(self) -> dict[str, int]:
        return {name: entry.last_id for name, entry in self.tables.items()
                if name in APPEND_ONLY and entry.last_id is not None}


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(backup: Path, *, engine: str, revision: str, created_at: datetime,
                   sums: dict[str, TableSum], encryption: str | None = None,
                   key_id: str | None = None) -> Manifest:
    manifest = Manifest(format=FORMAT, engine=engine, alembic_revision=revision, created_at=created_at,
                        backup_file=backup.name, backup_sha256=file_sha256(backup),
                        backup_bytes=backup.stat().st_size, encryption=encryption, key_id=key_id,
                        tables={name: TableEntry(rows=s.rows, sha256=s.sha256, last_id=s.last_id)
                                for name, s in sums.items()})
    path = manifest_path(backup)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(manifest.model_dump_json(indent=2, exclude_none=True) + "\n")
    os.chmod(partial, 0o600)
    partial.replace(path)  # a manifest is whole or absent, never half-written
    return manifest


def read_manifest(backup: Path) -> Manifest:
    """The backup's manifest, after checking that both files exist and the file is unchanged."""
    path = manifest_path(backup)
    if not backup.is_file():
        raise BackupError(f"backup file {backup} not found")
    if not path.is_file():
        raise BackupError(f"manifest {path} not found: every backup has its manifest beside it; "
                          "without it the backup cannot be verified")
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BackupError(f"manifest {path} is corrupt: not valid JSON ({err})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BackupError(f"manifest {path} is corrupt: {where}: {first['msg']}") from None
    actual = file_sha256(backup)
    if actual != manifest.backup_sha256:
        raise BackupError(f"backup file {backup} is corrupt or was changed: its sha256 is {actual}, "
                          f"the manifest says {manifest.backup_sha256}")
    return manifest


@dataclass(frozen=True)
class TableCheck:
    table: str
    expected: TableEntry | None
    found: TableSum | None

    @property
    def ok(self) -> bool:
        return (self.expected is not None and self.found is not None
                and self.expected.rows == self.found.rows and self.expected.sha256 == self.found.sha256)

    def problem(self) -> str:
        if self.expected is None:
            return f"{self.table}: table not in the backup"
        if self.found is None:
            return f"{self.table}: table missing"
        if self.expected.rows != self.found.rows:
            return f"{self.table}: {self.found.rows} rows, the backup had {self.expected.rows}"
        return f"{self.table}: {self.found.rows} rows as in the backup, but their contents differ (checksum)"


def compare(manifest: Manifest, sums: dict[str, TableSum], *, skip: tuple[str, ...] = ()) -> list[TableCheck]:
    names = sorted((set(manifest.tables) | set(sums)) - set(skip))
    return [TableCheck(n, manifest.tables.get(n), sums.get(n)) for n in names]
