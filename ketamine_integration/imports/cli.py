"""flask import patients|measures FILE --as USERNAME: the import page's check and import, from a shell."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..accounts.models import User
from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..extensions import db
from . import services
from .reading import CLI_LIMITS

import_cli = AppGroup("import", help="Import patients or measure history from a file (all or nothing).")


def _run(kind: str, path: Path, username: str, check_only: bool) -> None:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.can("patients.import"):
        raise click.ClickException(f"{username}: no active user who may import (patients.import).")
    with path.open("rb") as handle:
        data = handle.read(CLI_LIMITS.max_bytes + 1)
    report = services.check(services.read_upload(kind, path.name, data, CLI_LIMITS))
    _echo(report)
    if check_only or not report.importable:
        audit.record("import.check", user_id=user.id, detail=services.summary(report),
                     outcome=audit.SUCCESS if report.importable else audit.FAILURE)
        db.session.commit()
        if not report.importable:
            raise click.ClickException("nothing was imported.")
        return
    try:
        imported = services.import_file(report, by=user, today=clinic_today(), audit_user_id=user.id)
    except DomainError as err:
        db.session.rollback()
        raise click.ClickException(f"nothing was imported: {err}") from None
    db.session.commit()
    click.echo(f"Imported {imported} {services.KINDS[kind]} row(s) from {path.name}.")


def _echo(report: services.Report) -> None:
    if report.file_refusal:
        click.echo(f"Refused: {report.file_refusal}", err=True)
        return
    click.echo(f"{report.filename}: {report.rows} row(s), {len(report.ready)} ready, {report.refused_rows} refused, "
               f"{len(report.skipped)} skipped.")
    for refusal in report.refusals:
        click.echo(f"  {refusal.row}, {refusal.field or '(whole row)'}: {refusal.problem}", err=True)
    if report.unlisted:
        click.echo(f"  ... and {report.unlisted} more refused row(s).", err=True)
    for skipped in report.skipped:
        click.echo(f"  {skipped.row}: {skipped.problem}")


def _command(kind: str):
    @import_cli.command(kind, help=f"Import {services.KINDS[kind]} from FILE "
                                   f"({', '.join(services.FORMATS[kind])}), all or nothing.")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--as", "username", required=True, help="The user importing (holding patients.import).")
    @click.option("--check", "check_only", is_flag=True, help="Check the file and report; import nothing.")
    def command(path: Path, username: str, check_only: bool) -> None:
        _run(kind, path, username, check_only)
    return command


_command(services.PATIENTS)
_command(services.MEASURES)
