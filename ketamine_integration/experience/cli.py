"""flask signatures verify: recompute the digest of every signed record."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from .services import verify_signed_sessions

signatures_cli = AppGroup("signatures", help="Signed-record integrity commands.")


@signatures_cli.command("verify")
def verify_command():
    """Check every signed dosing session against its stored digest; exit 1 on any mismatch."""
    results = verify_signed_sessions()
    broken = [session_id for session_id, ok in results if not ok]
    for session_id in broken:
        click.echo(f"MISMATCH dosing session {session_id}: content differs from what was signed", err=True)
    click.echo(f"{len(results) - len(broken)} of {len(results)} signed dosing sessions verified.")
    if broken:
        raise SystemExit(1)
