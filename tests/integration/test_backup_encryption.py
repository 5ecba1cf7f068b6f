"""flask backup --encrypt on both engines: an encrypted backup verifies and restores every row
with the key, holds no process-note text, and is refused (restoring nothing) without the key,
with a wrong, malformed or non-canonically spelled key, when its ciphertext was changed, and
when a plain backup was swapped in for it while a key is set; PostgreSQL's verify drops its
scratch database after success and failure alike."""
from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ketamine_integration.backups.encryption import ENV_KEY
from ketamine_integration.backups.manifest import file_sha256, manifest_path
from ketamine_integration.extensions import db
from tests.backup_targets import restore_target
from tests.conftest import reused_world

# Backups: sqlite3's backup API vs pg_dump/pg_restore. The tests marked `both_engines` encrypt, verify and
# restore through them; a missing, wrong or misspelt key, a changed ciphertext and a plain backup swapped
# in are refused before either engine's restore (backups/services.py: the manifest and the key are
# checked first): SQLite in `make test`, PostgreSQL in `make test-all-engines`.

#: written into a process note; it must never be readable in an encrypted backup file
CANARY = "Canary-process-note: countertransference about the harbour 5521"


@pytest.fixture
def target(databases, tmp_path):
    yield from restore_target(databases, tmp_path)


#: the module's key, one per process: the encrypted backup the tests share (below) is made with it
KEY = Fernet.generate_key().decode()


@pytest.fixture
def key() -> str:
    return KEY


def run(app, *args, key: str | None):
    """A flask command with BACKUP_ENCRYPTION_KEY set to `key` (None: unset)."""
    return app.test_cli_runner().invoke(args=[str(a) for a in args], env={ENV_KEY: key})


def clinic_with_a_process_note(make) -> None:
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.notes import services as notes
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    patient = make.patient(therapists=[therapist], prescribers=[prescriber], family_name="Cipherton")
    course_id = make.course(patient, therapist, prescriber, phase="integration")

    def write():
        course, by = db.session.get(TreatmentCourse, course_id), db.session.get(User, therapist)
        note = notes.create_note(course, kind="integration", session_date=date.today(), by=by, today=date.today())
        notes.save_process_note(note, body=CANARY, by=by, expected_version=None)
    make.run(write)


@dataclass
class EncryptedBackup:
    """This test's copy of the encrypted backup of the clinic with a process note (the database as the
    backup left it), and the names of the files its folder held once `flask backup` had written it."""
    path: Path
    written: list[str]


@pytest.fixture
def encrypted(app, make, tmp_path, tmp_path_factory, key) -> EncryptedBackup:
    """Made once per engine per worker (reused_world): every test here starts from the same backup.
    Each test damages or swaps its own copy."""
    def build() -> tuple[str, list[str]]:
        clinic_with_a_process_note(make)
        path = tmp_path_factory.mktemp("encrypted-backup") / "clinic.backup"
        made = run(app, "backup", "--output", path, "--encrypt", key=key)
        assert made.exit_code == 0, made.output
        assert "encrypted" in made.output
        return str(path), sorted(p.name for p in path.parent.iterdir())
    made, written = reused_world(app, "backup-encryption-clinic", build)
    made, path = Path(made), tmp_path / Path(made).name
    for source, copy in ((made, path), (manifest_path(made), manifest_path(path))):
        shutil.copy2(source, copy)
    return EncryptedBackup(path, written)


def restored_process_notes(target) -> list[str]:
    from ketamine_integration.notes.models import ProcessNote
    return target.query(lambda: db.session.scalars(select(ProcessNote.body)).all())


@pytest.mark.both_engines  # an encrypted dump or SQLite file, verified and restored
def test_encrypted_backup_verifies_and_restores_every_row_and_holds_no_note_text(app, make, target, encrypted,
                                                                                key, databases, figures):
    path = encrypted.path
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["encryption"] == "fernet" and len(manifest["key_id"]) == 16
    assert key not in manifest_path(path).read_text()
    # only the ciphertext and its manifest were written: no plaintext copy beside them
    assert encrypted.written == ["clinic.backup", "clinic.backup.manifest.json"]
    written = (path, manifest_path(path))
    leaks = sum(text in f.read_bytes() for f in written for text in (CANARY.encode(), b"Cipherton"))

    verified = run(app, "backup", "verify", path, key=key)
    assert verified.exit_code == 0, verified.output
    tables = len(manifest["tables"])
    assert f"{tables} tables, {tables} match" in verified.output
    restored = run(app, "restore", path, "--target", target.url, key=key)
    assert restored.exit_code == 0, restored.output
    assert f"{tables} tables, {tables} match" in restored.output
    assert restored_process_notes(target) == [CANARY]  # the canary was in the backup, sealed
    figures.record("Backup encryption", "encrypted backup, verify, restore",
                   f"{tables} tables, {tables} match after restore; process-note canary and patient name found "
                   f"in the backup file and manifest: {leaks} times", engine=databases.name)
    assert leaks == 0


def _refused_everywhere(app, path, target, key, problem: str) -> None:
    for args in (("backup", "verify", path), ("restore", path, "--target", target.url)):
        result = run(app, *args, key=key)
        assert result.exit_code == 1, result.output
        assert problem in result.output, result.output
        assert "Traceback" not in result.output


def _nothing_restored(target, databases) -> None:
    from ketamine_integration.backups.services import occupied_tables
    assert occupied_tables(target.url) == {}


@pytest.mark.parametrize("given, problem", [
    (None, f"is encrypted: set {ENV_KEY}"),                           # no key in the environment
    ("wrong", f"{ENV_KEY} is not the key"),                           # another valid Fernet key
    ("not-a-fernet-key", f"{ENV_KEY} is not a valid Fernet key"),     # malformed
])
def test_a_missing_or_wrong_key_is_named_and_restores_nothing(app, make, target, encrypted, key, databases,
                                                              given, problem):
    path = encrypted.path
    other = Fernet.generate_key().decode() if given == "wrong" else given
    _refused_everywhere(app, path, target, other, problem)
    _nothing_restored(target, databases)


def test_changed_ciphertext_is_refused_and_restores_nothing(app, make, target, encrypted, key, databases):
    path = encrypted.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01 if data[len(data) // 2] != ord("A") else 0x02  # stays base64
    path.write_bytes(bytes(data))
    # the manifest's checksum of the file finds the change first...
    _refused_everywhere(app, path, target, key, "is corrupt or was changed")
    # ...and when the manifest is rewritten to match, the ciphertext's own tag still does
    manifest = json.loads(manifest_path(path).read_text())
    manifest["backup_sha256"] = file_sha256(path)
    manifest_path(path).write_text(json.dumps(manifest))
    _refused_everywhere(app, path, target, key, "fails its authentication tag")
    _nothing_restored(target, databases)


@pytest.mark.parametrize("given, problem", [
    (None, f"{ENV_KEY} is not set"),
    ("", f"{ENV_KEY} is not set"),
    ("short", f"{ENV_KEY} is not a valid Fernet key"),
])
def test_encrypt_without_a_valid_key_is_refused_and_writes_nothing(app, make, tmp_path, given, problem):
    path = tmp_path / "clinic.backup"
    result = run(app, "backup", "--output", path, "--encrypt", key=given)
    assert result.exit_code == 1 and problem in result.output, result.output
    assert "Fernet.generate_key()" in result.output   # says how to make one
    assert list(tmp_path.iterdir()) == []


# -- the second outside review (SECURITY.md "Encrypted backups") ---------------------------------

def _swap_in_plain_backup(app, make, tmp_path, path) -> None:
    """What the reviewer did: replace an encrypted backup and its manifest with a plain backup
    (made with no key) holding a record of their own, under the same file name."""
    make.patient(given_name="Mallory", family_name="Swapped")
    plain = tmp_path / "attacker.backup"
    made = run(app, "backup", "--output", plain, key=None)
    assert made.exit_code == 0, made.output
    plain.replace(path)
    manifest_path(plain).replace(manifest_path(path))


def restored_family_names(target) -> list[str]:
    from ketamine_integration.patients.models import Patient
    return target.query(lambda: sorted(db.session.scalars(select(Patient.family_name))))


def test_a_plain_backup_swapped_for_an_encrypted_one_is_refused_while_a_key_is_set(app, make, target, tmp_path,
                                                                                  encrypted, key, databases, figures):
    path = encrypted.path
    _swap_in_plain_backup(app, make, tmp_path, path)
    _refused_everywhere(app, path, target, key, f"is not encrypted, but {ENV_KEY} is set")
    _nothing_restored(target, databases)
    # the operator who means it (a backup from before encryption was turned on) says so
    verified = run(app, "backup", "verify", path, "--allow-unencrypted", key=key)
    assert verified.exit_code == 0, verified.output
    restored = run(app, "restore", path, "--target", target.url, "--allow-unencrypted", key=key)
    assert restored.exit_code == 0, restored.output
    names = restored_family_names(target)
    figures.record("Backup encryption", "plain backup swapped in while a key is set",
                   "verify and restore refused it (exit 1, nothing restored); accepted only with "
                   f"--allow-unencrypted, which restored {len(names)} patients", engine=databases.name)
    assert names == ["Cipherton", "Swapped"]


def _spellings(key: str) -> list[str]:
    """Texts Fernet decodes to the same 32 bytes as `key` (base64 decoding is forgiving)."""
    swapped = key.replace("-", "+").replace("_", "/")
    return [key + "junk", key + "==", *([swapped] if swapped != key else [])]


def test_a_key_spelled_other_than_canonically_is_refused_naming_the_form(app, make, target, tmp_path, encrypted, key,
                                                                          databases):
    from ketamine_integration.backups.encryption import parse_key
    assert parse_key(f" {key}\n").key_id == parse_key(key).key_id  # surrounding blanks are no other key
    path = encrypted.path
    for spelling in _spellings(key):
        made = run(app, "backup", "--output", tmp_path / "other.backup", "--encrypt", key=spelling)
        assert made.exit_code == 1 and "nothing after it" in made.output, made.output
        _refused_everywhere(app, path, target, spelling, f"{ENV_KEY} is not a valid Fernet key")
    assert not (tmp_path / "other.backup").exists()
    _nothing_restored(target, databases)


def _scratch_names(monkeypatch) -> list[str]:
    """The scratch databases verify makes, by name (other test runs share the server)."""
    from ketamine_integration.backups import postgres
    made, real = [], postgres.scratch_database

    @contextmanager
    def spy(url):
        with real(url) as scratch:
            made.append(make_url(scratch).database)
            yield scratch
    monkeypatch.setattr(postgres, "scratch_database", spy)
    return made


def _existing(databases, names) -> list[str]:
    admin = make_url(databases.url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False)) as conn:
        return [n for n in names if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (n,)).fetchone()]


@pytest.mark.both_engines
def test_postgres_verify_drops_its_scratch_database_after_success_and_failure(app, make, encrypted, key, databases,
                                                                              monkeypatch, figures):
    """An encrypted PostgreSQL backup is verified by restoring it into a scratch database
    (README and SECURITY.md say so): that database must not outlive the verify."""
    if databases.name != "postgresql":
        pytest.skip("SQLite verifies in memory (or read-only from the file): no scratch database")
    made = _scratch_names(monkeypatch)
    path = encrypted.path
    assert run(app, "backup", "verify", path, key=key).exit_code == 0
    # a payload that authenticates under the key but is no dump: pg_restore fails half-way in
    path.write_bytes(Fernet(key.encode()).encrypt(b"PGDMP not a dump at all"))
    manifest = json.loads(manifest_path(path).read_text())
    manifest.update(backup_sha256=file_sha256(path), backup_bytes=path.stat().st_size)
    manifest_path(path).write_text(json.dumps(manifest))
    failed = run(app, "backup", "verify", path, key=key)
    assert failed.exit_code == 1 and "pg_restore" in failed.output, failed.output
    left = _existing(databases, made)
    figures.record("Backup encryption", "PostgreSQL verify's scratch databases",
                   f"{len(made)} made (1 verify passed, 1 failed in pg_restore), {len(left)} left on the server",
                   engine=databases.name)
    assert len(made) == 2 and left == []
