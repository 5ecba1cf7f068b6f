"""flask backup, flask backup verify, flask restore: the contingency plan's commands."""
from __future__ import annotations

import getpass
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..audit import services as audit
from ..audit.chain import AuditChainBroken
from ..config import normalise_database_url
from ..db.types import utcnow
from ..extensions import db
from . import encryption, services
from .manifest import BackupError, manifest_path

BACKUP_PATH = click.Path(dir_okay=False, path_type=Path)
ALLOW_UNENCRYPTED = click.option(
    "--allow-unencrypted", is_flag=True,
    help=f"Accept a backup that is not encrypted although {encryption.ENV_KEY} is set (e.g. one made before "
         "encryption was turned on); without it such a backup is refused, as it may have been swapped in.")


def _configured_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def _audit(action: str, backup: Path, manifest, *, outcome: str = audit.SUCCESS, detail: str = "",
           url: str | None = None) -> None:
    """One audit row for the command (no signed-in user: the OS account is named instead),
    written to `url` (a restore's target) or the configured database."""
    fields = dict(object_type="backup", object_id=manifest.backup_sha256[:16] if manifest else None,
                  outcome=outcome, detail=f"by {getpass.getuser()}: {backup.name} {detail}".strip()[:200])
    try:
        if url is None:
            audit.record(action, **fields)
            db.session.commit()
            return
        engine = services.database_engine(url)
        try:
            with Session(engine) as session, session.begin():
                audit.record(action, session=session, **fields)
        finally:
            engine.dispose()
    except (SQLAlchemyError, AuditChainBroken) as err:
        db.session.rollback()
        why = str(err) if isinstance(err, AuditChainBroken) else _database_problem(err)
        raise click.ClickException(f"the {action} could not be written to the audit trail: {why}") from None


def _database_problem(err: SQLAlchemyError) -> str:
    """A database error in one line, for an operator (no traceback, no password)."""
    cause = getattr(err, "orig", None) or err
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return f"the database could not be used: {first}"


@contextmanager
def _refused(action: str, backup: Path | None):
    """A command that cannot go on ends with its reason in one line (exit 1), and the refusal
    is audited in the configured database when that database can take it; a failed check is
    as much part of the contingency plan's record as a passed one."""
    try:
        yield
    except (BackupError, SQLAlchemyError, AuditChainBroken, OSError) as err:
        message = _database_problem(err) if isinstance(err, SQLAlchemyError) else str(err)
        try:
            _audit(action, backup or Path("-"), None, outcome=audit.FAILURE, detail=f"refused: {message}")
        except click.ClickException as unrecorded:
            message += f" (and {unrecorded.message})"
        raise click.ClickException(message) from None


def _report(verification: services.Verification) -> None:
    checks = verification.checks
    click.echo(f"{len(checks)} tables, {len(checks) - len(verification.mismatches)} match "
               f"({verification.manifest.total_rows} rows in the backup)")
    for check in verification.mismatches:
        click.echo(f"MISMATCH {check.problem()}", err=True)


@click.group("backup", cls=AppGroup, invoke_without_command=True)
@click.option("--output", type=BACKUP_PATH, help="Backup file to write (default: instance/backups/...).")
@click.option("--encrypt", is_flag=True, help=f"Encrypt the backup file with the Fernet key in "
              f"{encryption.ENV_KEY} (the plaintext is never written to disk while backing up).")
@click.pass_context
@with_appcontext
def backup_cli(ctx: click.Context, output: Path | None, encrypt: bool):
    """Back up the configured database; the manifest is written beside it as PATH.manifest.json."""
    if ctx.invoked_subcommand is not None:
        if output is not None or encrypt:
            raise click.UsageError("--output and --encrypt belong to `flask backup` itself, not to a subcommand")
        return
    url, now = _configured_url(), utcnow()
    with _refused("backup.create", output):
        key = encryption.parse_key(encryption.key_from_environment()) if encrypt else None
        if output is None:
            folder = Path(current_app.instance_path) / "backups"
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            output = services.default_output(folder, services.engine_name(url), now)
        manifest = services.create_backup(url, output, now=now, key=key)
    sealed = f"encrypted, key id {manifest.key_id}" if manifest.encryption else "not encrypted"
    _audit("backup.create", output, manifest, detail=f"{len(manifest.tables)} tables, {sealed}")
    click.echo(f"Backed up {len(manifest.tables)} tables, {manifest.total_rows} rows (migration "
               f"{manifest.alembic_revision}) to {output} ({sealed})")
    click.echo(f"Manifest: {manifest_path(output)}")


@backup_cli.command("verify")
@click.argument("path", type=BACKUP_PATH)
@click.option("--database", "database_url", help="Compare this database (e.g. a restored copy) with the "
              "manifest instead of the backup file.")
@ALLOW_UNENCRYPTED
def verify_command(path: Path, database_url: str | None, allow_unencrypted: bool):
    """Check a backup file (or, with --database, a database) against the backup's manifest;
    exit 1 naming each table that differs. Nothing is restored over any data."""
    with _refused("backup.verify", path):
        verification = services.verify_backup(path, scratch_url=_configured_url(),
                                              database_url=normalise_database_url(database_url)
                                              if database_url else None,
                                              key_text=encryption.key_from_environment(),
                                              allow_unencrypted=allow_unencrypted)
    _report(verification)
    bad = [c.table for c in verification.mismatches]
    _audit("backup.verify", path, verification.manifest, outcome=audit.FAILURE if bad else audit.SUCCESS,
           detail=f"differs: {', '.join(bad)}" if bad else "matches")
    if bad:
        raise SystemExit(1)


@click.command("restore")
@click.argument("path", type=BACKUP_PATH)
@click.option("--target", "target_url", help="Database URL to restore into (default: the configured database).")
@click.option("--replace", is_flag=True, help="Overwrite a target that already holds records.")
@ALLOW_UNENCRYPTED
@with_appcontext
def restore_command(path: Path, target_url: str | None, replace: bool, allow_unencrypted: bool):
    """Restore a backup, then verify every table against its manifest; exit 1 on any mismatch.
    Stop the app first: a restore replaces the database under it."""
    target = normalise_database_url(target_url) if target_url else _configured_url()
    db.session.remove()
    db.engine.dispose()  # our own pooled connections would hold locks pg_restore --clean waits on
    with _refused("backup.restore", path):
        verification = services.restore_backup(path, target, replace=replace,
                                               key_text=encryption.key_from_environment(),
                                              allow_unencrypted=allow_unencrypted)
    _report(verification)
    bad = [c.table for c in verification.mismatches]
    _audit("backup.restore", path, verification.manifest, url=target,
           outcome=audit.FAILURE if bad else audit.SUCCESS,
           detail=f"verify failed: {', '.join(bad)}" if bad else f"from {verification.manifest.created_at:%Y-%m-%d %H:%M}Z")
    if bad:
        raise SystemExit(1)
    click.echo(f"Restored {path} into {make_url(target).render_as_string()}.")
