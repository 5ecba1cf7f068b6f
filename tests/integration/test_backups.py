"""flask backup / backup verify / restore on both engines: corrupt files and manifests found,
drift after a restore found, occupied targets and other schema revisions refused (the round trip
of the demo clinic, every row and checksum: tests/security/test_backup_roundtrip.py)."""
from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from ketamine_integration.audit import services as audit
from ketamine_integration.audit.models import AuditChainHead
from ketamine_integration.backups.manifest import manifest_path
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.backup_targets import cli, restore_target
from tests.conftest import reused_world

# Backups: sqlite3's backup API vs pg_dump/pg_restore. The tests marked `both_engines` verify or restore
# through them; in the others the file, its folder or its manifest is refused before either engine's code
# runs (backups/manifest.py read_manifest, services.create_backup's checks, the revision check), a
# hand-edited manifest is compared by the one compare() of both engines, or the audit trail refuses the
# command's row: SQLite in `make test`, PostgreSQL in `make test-all-engines`.


@pytest.fixture
def target(databases, tmp_path):
    yield from restore_target(databases, tmp_path)


def current_revision(make) -> str:
    """The schema revision the test database was migrated to (the newest migration)."""
    return make.query(lambda: db.session.scalar(text("SELECT version_num FROM alembic_version")))


def small_clinic(make):
    therapist = make.user("therapist")
    prescriber = make.user("prescriber")
    for n in range(3):
        make.patient(therapists=[therapist], prescribers=[prescriber], family_name=f"Backupson{n}")


def backed_up(app, tmp_path, name="clinic"):
    path = tmp_path / f"{name}.backup"
    result = cli(app, "backup", "--output", path)
    assert result.exit_code == 0, result.output
    # a backup holds every patient's record: readable by its owner only, as is its manifest
    assert [oct(p.stat().st_mode & 0o777) for p in (path, manifest_path(path))] == [oct(0o600)] * 2
    return path


@pytest.fixture
def backup(app, make, tmp_path, tmp_path_factory) -> Path:
    """The small clinic and a backup of it, the database as `flask backup` left it (its audit row
    written): built once per engine per worker (reused_world). Each test gets its own copy of the
    backup and its manifest, in its tmp_path under the same name, to damage as it likes."""
    def build() -> str:
        small_clinic(make)
        return str(backed_up(app, tmp_path_factory.mktemp("small-backup")))
    made = Path(reused_world(app, "backups-small-clinic", build))
    path = tmp_path / made.name
    for source, copy in ((made, path), (manifest_path(made), manifest_path(path))):
        shutil.copy2(source, copy)  # its mode too: 0600
    return path


@pytest.mark.both_engines  # verify: the SQLite file read-only, a dump restored into a scratch database
def test_verify_reads_a_backup_without_changing_it(app, make, backup):
    before = backup.read_bytes()
    result = cli(app, "backup", "verify", backup)
    assert result.exit_code == 0, result.output
    assert "tables, " in result.output and "MISMATCH" not in result.output
    assert backup.read_bytes() == before
    assert [r.outcome for r in make.audit_rows(action="backup.verify")] == ["success"]


def _edit_manifest(path, change):
    manifest = json.loads(manifest_path(path).read_text())
    change(manifest)
    manifest_path(path).write_text(json.dumps(manifest))


@pytest.mark.parametrize("change, message", [
    # a table's checksum altered: that table is named, the others still match
    (lambda m: m["tables"]["patients"].update(sha256="0" * 64), "MISMATCH patients: 3 rows as in the backup"),
    # a row count altered
    (lambda m: m["tables"]["users"].update(rows=99), "MISMATCH users: 2 rows, the backup had 99"),
])
def test_verify_names_each_table_a_tampered_manifest_disagrees_with(app, make, backup, change, message):
    _edit_manifest(backup, change)
    result = cli(app, "backup", "verify", backup)
    assert result.exit_code == 1
    assert message in result.output
    tables = len(json.loads(manifest_path(backup).read_text())["tables"])
    assert f"{tables} tables, {tables - 1} match" in result.output
    assert [r.outcome for r in make.audit_rows(action="backup.verify")] == ["failure"]


@pytest.mark.parametrize("damage, message", [
    (lambda p: manifest_path(p).write_text('{"format": "ketamine'), "is corrupt: not valid JSON"),
    (lambda p: manifest_path(p).write_text("[]"), "is corrupt: (top level)"),
    (lambda p: _edit_manifest(p, lambda m: m["tables"]["users"].update(sha256="not-hex")),
     "is corrupt: tables.users.sha256"),
    (lambda p: manifest_path(p).unlink(), "not found: every backup has its manifest beside it"),
    (lambda p: p.unlink(), "not found"),
    (lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])), "is corrupt or was changed"),
])
def test_corrupt_or_missing_files_are_named_and_nothing_is_restored(app, make, backup, target, damage, message):
    damage(backup)
    for args in (["backup", "verify", backup], ["restore", backup, "--target", target.url]):
        result = cli(app, *args)
        assert result.exit_code != 0 and message in result.output, result.output
        assert str(backup) in result.output or str(manifest_path(backup)) in result.output
    assert target.query(lambda: db.inspect(db.engine).get_table_names()) == []


@pytest.mark.both_engines  # pg_restore or the SQLite copy, then each engine's row checksums
def test_a_row_changed_after_restore_is_found_by_verify(app, make, backup, target):
    assert cli(app, "restore", backup, "--target", target.url).exit_code == 0
    same = cli(app, "backup", "verify", backup, "--database", target.url)
    assert same.exit_code == 0, same.output   # the restore's own audit row is an append, not drift

    def tamper():
        db.session.execute(update(Patient).where(Patient.family_name == "Backupson1").values(phone="555-0000"))
        db.session.commit()
    target.query(tamper)
    changed = cli(app, "backup", "verify", backup, "--database", target.url)
    assert changed.exit_code == 1
    assert "MISMATCH patients: 3 rows as in the backup, but their contents differ" in changed.output
    assert changed.output.count("MISMATCH") == 1


@pytest.mark.both_engines  # each engine's occupied tables and restore over them
def test_an_occupied_target_is_refused_unless_replace(app, make, backup):
    make.patient(family_name="AddedAfterBackup")
    refused = cli(app, "restore", backup)
    assert refused.exit_code != 0 and "is not empty" in refused.output and "--replace" in refused.output
    names = lambda: sorted(db.session.scalars(select(Patient.family_name)))  # noqa: E731
    assert "AddedAfterBackup" in make.query(names)

    replaced = cli(app, "restore", backup, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert make.query(names) == ["Backupson0", "Backupson1", "Backupson2"]
    assert make.audit_rows(action="backup.restore")[-1].outcome == "success"


def test_a_backup_from_another_schema_revision_is_refused(app, make, backup, target):
    _edit_manifest(backup, lambda m: m.update(alembic_revision="0007_session_notes"))
    result = cli(app, "restore", backup, "--target", target.url)
    assert result.exit_code != 0
    assert "made at migration 0007_session_notes" in result.output and current_revision(make) in result.output


def test_a_backup_never_overwrites_a_file(app, make, tmp_path):
    path = backed_up(app, tmp_path)
    before = path.read_bytes()
    again = cli(app, "backup", "--output", path)
    assert again.exit_code != 0 and "already exists" in again.output
    assert path.read_bytes() == before


@pytest.mark.both_engines  # each engine's connection errors (a PostgreSQL backup reaches the server)
@pytest.mark.parametrize("url", ["nonsense://nowhere", "postgresql://nobody@127.0.0.1:9/none"])  # port 9: no server
def test_a_database_that_cannot_be_used_is_named_in_one_line_and_audited(app, make, backup, url):
    for args in (["backup", "verify", backup, "--database", url], ["restore", backup, "--target", url]):
        result = cli(app, *args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert result.output.startswith("Error: ") and "Traceback" not in result.output
    refused = [(r.action, r.outcome, r.detail) for r in make.audit_rows() if r.action in ("backup.verify",
                                                                                          "backup.restore")]
    assert [(a, o) for a, o, _ in refused] == [("backup.verify", "failure"), ("backup.restore", "failure")]
    assert all(d.startswith(f"by {getpass.getuser()}: {backup.name} refused: ") for _, _, d in refused)


def test_a_refused_verify_is_audited_with_its_reason(app, make, backup):
    manifest_path(backup).unlink()
    assert cli(app, "backup", "verify", backup).exit_code == 1
    [row] = make.audit_rows(action="backup.verify")
    assert row.outcome == "failure" and "refused:" in row.detail and "not found" in row.detail


def test_a_broken_audit_chain_stops_a_backup_with_a_message_not_a_traceback(app, make, tmp_path):
    small_clinic(make)

    def rewrite_head():
        audit.record("patient.list", detail="a row, so the chain has a head")
        db.session.commit()
        assert db.session.execute(update(AuditChainHead).values(seal="0" * 64)).rowcount == 1
        db.session.commit()
    make.query(rewrite_head)
    result = cli(app, "backup", "--output", tmp_path / "after.backup")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "head row was rewritten" in result.output and "Traceback" not in result.output


def test_an_output_path_that_cannot_be_written_is_named_not_a_traceback(app, make, tmp_path):
    small_clinic(make)
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("x")
    result = cli(app, "backup", "--output", not_a_folder / "clinic.backup")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert str(not_a_folder) in result.output and "Traceback" not in result.output
    [row] = make.audit_rows(action="backup.create")
    assert row.outcome == "failure" and "refused:" in row.detail
