"""`flask --app wsgi worker`: the process that runs the queued jobs (huey's consumer)."""
from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from .queue import queue_of


@click.command("worker")
@with_appcontext
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32),
              help="Jobs run at once in this process (threads: sending waits on the network).")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Run the periodic jobs (the delivery sweep). Exactly one worker process should.")
def worker_command(workers: int, periodic: bool):
    """Run queued jobs (sending messages) until stopped: Ctrl-C or SIGINT finishes the running
    jobs first, SIGTERM stops at once (an interrupted send is found by the sweep), SIGHUP restarts."""
    app = current_app._get_current_object()
    queue = queue_of(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    click.echo(f"Worker: {workers} thread(s) on {_shown(queue.url)}; periodic jobs {'on' if periodic else 'off'}.")
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                          check_worker_health=True)
    consumer.run()


def _shown(url: str) -> str:
    """The queue's address without a password (redis://:secret@host)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if "@" in rest else url
