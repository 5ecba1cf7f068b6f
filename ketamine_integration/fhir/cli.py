"""`flask export fhir --out DIR`: the clinic's record as FHIR NDJSON Bulk Data files, one per type."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..audit import services as audit
from ..extensions import db
from .export import InvalidResource, write_bulk


@click.group("export")
def export_cli():
    """Export the clinic's record."""


@export_cli.command("fhir")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the NDJSON files (Patient.ndjson, Observation.ndjson, ...); made if missing.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=None,
              help="Rows read per statement (default: 500; reports 50).")
@with_appcontext
def fhir_command(out: Path, batch: int | None):
    """Write every patient's record as FHIR R4 (validated as 4.3.0, R4B) NDJSON, in constant memory.
    Process notes are never exported."""
    if out.exists() and any(out.glob("*.ndjson")):
        raise click.ClickException(f"{out} already holds NDJSON files; choose an empty folder.")
    try:
        result = write_bulk(out, batch=batch)
    except InvalidResource as err:  # a mapping's bug: the files written so far are removed by write_bulk
        raise click.ClickException(f"a resource did not validate, so no export was written: {str(err)[:300]}") \
            from err
    total = sum(result.counts.values())
    audit.record("fhir.bulk_export", object_type="clinic",
                 detail=f"{total} resources in {len(result.counts)} files")
    db.session.commit()
    for kind, count in result.counts.items():
        click.echo(f"{kind}.ndjson: {count}")
    click.echo(f"Wrote {total} resources to {out}.")
