"""flask signatures verify: recompute the digest of every signed record (dosing sessions, notes)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..notes.services import verify_signed_notes
from .services import verify_protocol_snapshots, verify_signed_sessions

signatures_cli = AppGroup("signatures", help="Signed-record integrity commands.")


@signatures_cli.command("verify")
def verify_command():
    """Check signed dosing sessions, signed notes and protocol snapshots against their hashes;
    exit 1 on any mismatch."""
    sessions, snapshots, notes = verify_signed_sessions(), verify_protocol_snapshots(), verify_signed_notes()
    broken = 0
    for note_id, ok in notes:
        if not ok:
            broken += 1
            click.echo(f"MISMATCH session note {note_id}: content differs from what was signed", err=True)
    for session_id, ok in sessions:
        if not ok:
            broken += 1
            click.echo(f"MISMATCH dosing session {session_id}: content differs from what was signed", err=True)
    for label, ok in snapshots:
        if not ok:
            broken += 1
            click.echo(f"MISMATCH protocol snapshot {label}: definition differs from its content hash", err=True)
    click.echo(f"{sum(ok for _, ok in sessions)} of {len(sessions)} signed dosing sessions verified.")
    click.echo(f"{sum(ok for _, ok in notes)} of {len(notes)} signed session notes verified.")
    click.echo(f"{sum(ok for _, ok in snapshots)} of {len(snapshots)} protocol snapshots verified.")
    if broken:
        raise SystemExit(1)
