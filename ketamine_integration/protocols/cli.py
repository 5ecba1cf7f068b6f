"""flask protocols check, flask techniques check and flask forms check: validate protocol, technique
vocabulary and form files before a clinic relies on them."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from ..domain import form_library, techniques
from ..domain.protocol_forms import with_forms
from ..domain.protocol_library import ProtocolLibrary
from ..extensions import db
from . import services

protocols_cli = AppGroup("protocols", help="Protocol library commands.")
techniques_cli = AppGroup("techniques", help="Technique vocabulary commands.")
forms_cli = AppGroup("forms", help="Intake and consent form commands.")


@protocols_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def check_command(files: tuple[Path, ...]):
    """Validate FILES (default: every file in the protocol library), each protocol's forms against the
    form library; exit 1 on any error."""
    if files:
        library = ProtocolLibrary.from_paths(files)
    else:
        library = ProtocolLibrary.load(Path(current_app.config["PROTOCOLS_DIR"]))
    if not library.entries:
        raise click.ClickException("no protocol files found")
    # the forms a protocol names are the clinic's forms as they are now (FORMS_DIR)
    library = with_forms(library, form_library.load_folder(Path(current_app.config["FORMS_DIR"])))
    failures = 0
    for entry in library.entries:
        problems = list(entry.problems)
        if entry.valid:
            problems += _registry_problems(entry)
        if problems:
            failures += 1
            for line in problems:
                click.echo(f"ERROR {line}", err=True)
        else:
            click.echo(f"ok    {entry.path.name}: {entry.protocol.id} v{entry.protocol.version}")
    if failures:
        raise SystemExit(1)


def _registry_problems(entry) -> list[str]:
    """A file changed without a new version number, compared with the database (if any)."""
    try:
        problem = services.refusal_for(entry, services.fetch_registered(*entry.protocol.key))
    except SQLAlchemyError:
        db.session.rollback()
        return []  # no database (yet): the file itself is what is checked
    return [problem] if problem else []


@techniques_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def check_techniques_command(files: tuple[Path, ...]):
    """Validate FILES together (default: every file of the technique vocabulary, TECHNIQUES_DIR);
    each problem names the file, the field and what is wrong; exit 1 on any error."""
    if files:
        library = techniques.build(files)
    else:
        library = techniques.load_folder(Path(current_app.config["TECHNIQUES_DIR"]))
    def describe(entry) -> str:
        count = sum(1 for t in library.vocabulary.techniques if t.source == entry.path.name)
        return f"version {entry.version}, {count} techniques"
    _report(library, "no technique vocabulary files found", describe)


@forms_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def check_forms_command(files: tuple[Path, ...]):
    """Validate FILES (default: every form file, FORMS_DIR); each problem as file:line field: message;
    exit 1 on any error."""
    if files:
        library = form_library.build(files)
    else:
        library = form_library.load_folder(Path(current_app.config["FORMS_DIR"]))
    def describe(entry) -> str:
        form = entry.form
        return (f"{form.id} v{form.version} ({form.kind}, {len(form.questions)} questions, "
                f"{len(form.flagged_questions)} flagged)")
    _report(library, "no form files found", describe)


def _report(library, none_found: str, describe) -> None:
    """A data library's check, file by file: its problems on stderr, "ok" and `describe(entry)` for a
    valid file; exit 1 when any file is broken (the technique vocabulary's and the forms' checks)."""
    if not library.files:
        raise click.ClickException(none_found)
    for entry in library.files:
        for line in entry.problems:
            click.echo(f"ERROR {line}", err=True)
        if entry.valid:
            click.echo(f"ok    {entry.path.name}: {describe(entry)}")
    if library.broken:
        raise SystemExit(1)
