"""flask audit verify: recheck the HMAC chain over the whole audit trail."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import READ_SNAPSHOT, db
from .chain import Verification, chain_key, sealed_with, verify

audit_cli = AppGroup("audit", help="Audit trail integrity commands.")


def verify_chain(session) -> Verification:
    """Walk the whole chain in one snapshot of the trail. Call it before anything else reads in
    `session` (the isolation level is set on its first connection); `flask signatures verify` runs
    it too, since its checks trust only audit rows the chain authenticates."""
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the rows and the head: commits made while the walk runs would
        # otherwise move the head past the last row walked and look like a cut tail.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection(execution_options={READ_SNAPSHOT: True})  # requests keep writing meanwhile
    return verify(session, chain_key())


@audit_cli.command("verify")
def verify_command():
    """Check every audit row against the HMAC chain and its head; exit 1 at the first break."""
    session = db.session()
    result = verify_chain(session)
    if result.broken:
        position, row_id, why = result.broken
        row = f" (audit row id {row_id})" if row_id is not None else ""
        click.echo(f"BROKEN at chain position {position}{row}: {why}.", err=True)
        click.echo(f"{result.intact} rows before it verified.", err=True)
        if position == 1 and sealed_with(session, chain_key()) is False:
            click.echo("The head's seal does not match either: most likely AUDIT_HMAC_KEY is not the key this "
                       "trail was written with. Check the deployment's settings before treating this as "
                       "tampering.", err=True)
        raise SystemExit(1)
    click.echo(f"Audit chain intact: {result.intact} rows verified.")
    if result.head:
        # Kept outside the database (a ticket, a printed log), this line also reveals a
        # wholesale rollback of the trail to an earlier state, which no in-database check can.
        click.echo(f"Head: position {result.head[0]}, mac {result.head[1]}")
