"""`flask --app wsgi reminders sweep`: one reminder sweep now, as the worker runs it every five minutes."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db.types import utcnow
from .sweep import run_sweep

reminders_cli = AppGroup("reminders", help="Appointment reminders.")


@reminders_cli.command("sweep")
def sweep_command():
    """Queue the reminders coming due (idempotent: what is already queued is left as it is)."""
    result = run_sweep(utcnow())
    click.echo(f"Looked at {result.appointments} booked appointment(s): {result.queued} reminder(s) queued, "
               f"{result.opted_out} not sent (opted out), {result.refused} refused (a clinical word).")
