"""The background job queue (huey): built per app from KI_QUEUE_URL, its jobs run in an app context.

SQLite storage in the instance folder by default, so `make run` needs no other service; Redis in
production, shared by the worker processes of every machine (README, "Messages and the worker").
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import RetryTask

from ..db.types import utcnow
from . import services
from .mailer import mailer_for
from .sms import sms_provider_for

log = logging.getLogger(__name__)

#: app.extensions key of the app's queue (built on first use: tests move the instance folder)
EXTENSION = "messaging.queue"
QUEUE_NAME = "ketamine_integration"
SEND_TASK, SWEEP_TASK = "send_delivery", "sweep_deliveries"
@dataclass(frozen=True)
class PeriodicJob:
    """A periodic job of a feature above messaging (the reminder sweep, the daily summaries): huey runs `run(app, now)`
    on `schedule`; it makes its own app context and commits its own work."""
    name: str
    schedule: Callable
    run: Callable[[Flask, datetime], None]


#: the features' periodic jobs by name, added by create_app (register_hooks) before any queue is made
PERIODIC: dict[str, PeriodicJob] = {}


def run_periodically(name: str, schedule: Callable, run: Callable[[Flask, datetime], None]) -> None:
    """Have the worker run `run(app, now)` on `schedule` (a huey crontab); once per name."""
    PERIODIC[name] = PeriodicJob(name, schedule, run)


def queue_url(app: Flask) -> str:
    return app.config.get("KI_QUEUE_URL") or f"sqlite:///{Path(app.instance_path) / 'queue.sqlite3'}"


def make_queue(url: str, *, name: str = QUEUE_NAME) -> Huey:
    """A huey on SQLite (`sqlite:///path`) or Redis (`redis://`, `rediss://`, `unix://`). Results are
    not kept: a job's effect is its delivery row."""
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), results=False)
    return RedisHuey(name, url=url, results=False)


@dataclass(frozen=True)
class Queue:
    url: str
    huey: Huey
    #: huey task wrappers: calling one queues the job
    send_delivery: object
    sweep_deliveries: object

    def enqueue(self, key: str, when: datetime) -> None:
        """Queue the job sending `key`: now, or at `when` (huey's schedule)."""
        if when > utcnow():
            self.send_delivery.schedule(args=(key,), eta=when)
        else:
            self.send_delivery(key)


def queue_of(app: Flask) -> Queue:
    """The app's queue with its jobs registered, made once per app (and per instance folder)."""
    url = queue_url(app)
    queue = app.extensions.get(EXTENSION)
    if queue is None or queue.url != url:
        # KI_QUEUE_NAME (config only): several apps on one Redis keep apart, as tests do
        queue = register_jobs(app, url, make_queue(url, name=app.config.get("KI_QUEUE_NAME", QUEUE_NAME)))
        app.extensions[EXTENSION] = queue
    return queue


def register_jobs(app: Flask, url: str, huey: Huey) -> Queue:
    """The jobs, each run inside an app context of `app`: sending one delivery, the sweep every five
    minutes, and the features' periodic jobs (PERIODIC). Periodic jobs are defined in code; the
    worker runs them."""

    @huey.task(name=SEND_TASK)
    def send_delivery(key: str) -> str:
        with app.app_context():
            outcome = services.deliver(key, mailer=mailer_for(app.config, app.instance_path),
                                       sms=sms_provider_for(app.config, app.instance_path), policy=services.RetryPolicy.of(app.config), now=utcnow())
        if outcome.status == "retry":
            # huey schedules the job again after our back-off (domain.messages.retry_delay);
            # the delivery's attempts, not huey's retry count, decide when to give up
            raise RetryTask(f"delivery {key} failed; next attempt in {outcome.delay} s", delay=outcome.delay)
        return outcome.status

    @huey.periodic_task(crontab(minute="*/5"), name=SWEEP_TASK)
    def sweep_deliveries() -> None:
        with app.app_context():
            for key in services.sweep(now=utcnow()):
                send_delivery(key)

    for job in PERIODIC.values():
        _register_periodic(app, huey, job)
    return Queue(url, huey, send_delivery, sweep_deliveries)


def _register_periodic(app: Flask, huey: Huey, job: PeriodicJob) -> None:
    @huey.periodic_task(job.schedule, name=job.name)
    def periodic() -> None:
        job.run(app, utcnow())


def enqueue_committed(session) -> None:
    """Session after_commit listener: hand the jobs of the deliveries the transaction queued to
    the queue. The rows are committed, so if the queue cannot be reached now the sweep sends them
    later (services.LOST_AFTER); a failure here never fails the committed request. SQLAlchemy
    calls it when a savepoint is released too: the transaction is still open then, so nothing is
    handed over (a job would look for a row not committed yet)."""
    if session.in_nested_transaction():
        return
    keys = services.take_keys_to_enqueue(session)
    if not keys or not has_app_context():
        return
    queue = queue_of(current_app._get_current_object())
    for key, when in keys:
        try:
            queue.enqueue(key, when)
        except Exception:  # noqa: BLE001 (any storage error: the sweep catches up)
            log.exception("could not queue delivery %s; the sweep will send it", key)


def forget_rolled_back(session) -> None:
    """Session after_rollback listener: a rolled-back transaction's deliveries do not exist. A
    savepoint rolled back (a key another transaction queued first: services._added) keeps the
    deliveries queued before it."""
    if session.in_nested_transaction():
        return
    services.take_keys_to_enqueue(session)
