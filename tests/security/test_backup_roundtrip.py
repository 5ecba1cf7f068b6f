"""Figure: backup then restore of the demo clinic gives back every row, every table's checksum
matching (HIPAA 164.308(a)(7)(ii)(D), testing the contingency plan); the restored clinic's signed
records still match their digests and its trail ends with the restore. At the large size the
round trip is repeated with more generated records each time. (tests/integration/test_backups.py:
corrupt files and manifests, drift, occupied targets, other schema revisions.)"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, text

from ketamine_integration.audit.models import AuditEvent

from ketamine_integration.backups.manifest import manifest_path
from ketamine_integration.extensions import db
from tests.backup_targets import cli, restore_target
from tests.figures import sized

# On SQLite and PostgreSQL: backups: sqlite3's backup API vs pg_dump/pg_restore.
pytestmark = pytest.mark.both_engines

#: extra patients (each with its care team and audit row) added before each further round trip
EXTRA_PATIENTS = 40


@pytest.fixture
def target(databases, tmp_path):
    yield from restore_target(databases, tmp_path)


def grow_clinic(make, round_no: int):
    """More records of every kind the factories make: users, patients, care teams, courses."""
    therapist = make.user("therapist")
    prescriber = make.user("prescriber")
    for n in range(EXTRA_PATIENTS):
        patient = make.patient(therapists=[therapist], prescribers=[prescriber],
                               family_name=f"Roundtrip{round_no}x{n}", phone=f"555-{n:04d}")
        if n % 10 == 0:
            make.course(patient, therapist, prescriber, phase="integration")


def restored_counts(target, tables) -> dict[str, int]:
    return target.query(lambda: {t: db.session.scalar(text(f'SELECT COUNT(*) FROM "{t}"')) for t in tables})


def restored_signatures_and_last_action(target):
    """Each signed note's and dosing session's digest check in the restored clinic, and its
    trail's last action."""
    def inspect():
        from ketamine_integration.experience.services import verify_signed_sessions
        from ketamine_integration.notes.services import verify_signed_notes
        last = db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1))
        return verify_signed_sessions() + verify_signed_notes(), last
    return target.query(inspect)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_backup_restore_round_trip_of_the_demo_clinic(app, make, target, tmp_path, databases, figures):
    rounds = sized(1, 5)
    tables_seen = rows_total = rows_matched = tables_matched = 0
    for round_no in range(rounds):
        if round_no:
            grow_clinic(make, round_no)
        path = tmp_path / f"round-{round_no}.backup"
        made = cli(app, "backup", "--output", path)
        assert made.exit_code == 0, made.output
        # a backup holds every patient's record: readable by its owner only, as is its manifest
        assert [oct(p.stat().st_mode & 0o777) for p in (path, manifest_path(path))] == [oct(0o600)] * 2
        manifest = json.loads(manifest_path(path).read_text())
        assert manifest["engine"] == databases.name
        assert manifest["alembic_revision"] == make.query(
            lambda: db.session.scalar(text("SELECT version_num FROM alembic_version")))
        restored = cli(app, "restore", path, "--target", target.url, *(["--replace"] if round_no else []))
        assert restored.exit_code == 0, restored.output
        reported = re.search(r"(\d+) tables, (\d+) match", restored.output)
        # Counted independently of the restore's own check: rows per table in the target.
        counts = restored_counts(target, manifest["tables"])
        counts["audit_events"] -= 1  # the restore's own audit row, written after it verified
        if manifest["tables"]["audit_chain_head"]["rows"] == 0:
            counts["audit_chain_head"] -= 1  # ...whose chaining made the head row (the demo audits nothing)
        expected = {t: e["rows"] for t, e in manifest["tables"].items()}
        tables_seen += len(expected)
        tables_matched += int(reported.group(2))
        rows_total += sum(expected.values())
        rows_matched += sum(rows for t, rows in expected.items() if counts[t] == rows)
        assert counts == expected
        assert reported.group(1) == reported.group(2) == str(len(expected))
        signatures, last_action = restored_signatures_and_last_action(target)
        assert signatures and all(ok for _, ok in signatures)  # signed records still match their digests
        assert last_action == "backup.restore"
    assert make.audit_rows(action="backup.create")[0].object_type == "backup"

    rows_pct = 100 * rows_matched / rows_total
    sums_pct = 100 * tables_matched / tables_seen
    matched = (f"{rows_pct:.0f}% rows and checksums match" if rows_pct == sums_pct
               else f"{rows_pct:.1f}% rows and {sums_pct:.1f}% checksums match")
    figures.record("Backup round trip", f"{rounds} backup+restore of the demo clinic",
                   f"{tables_seen // rounds} tables, {rows_total} rows, {matched}", engine=databases.name)
    assert rows_matched == rows_total and tables_matched == tables_seen
