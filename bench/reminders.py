"""The reminder sweep on the large clinic (issue 22): time and SQL statements per sweep, the first
one (which queues every reminder coming due within its horizon) and the steady one (nothing new),
and the steady sweep's statements on a clinic a third the size, which must be the same.

    python -m bench.reminders [--scale 1.0] [--rounds 5]

Each clinic is the kept benchmark database (bench/databases.py) copied to a scratch one, so the
reminders written here never reach the clinic the page benchmarks read. In the copy nine patients
in ten consent to email and one in two to text messages (recorded by a staff account); the
clinic's rules are the defaults (48 h and 2 h before, email and SMS, quiet 21:00-08:00). The
queue is a huey SQLite file of the run's own: the first sweep's commit hands its jobs there.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from ketamine_integration import create_app
from ketamine_integration.accounts.models import User
from ketamine_integration.bookings.models import BOOKED, Appointment
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.messaging.models import Delivery
from ketamine_integration.patients.models import Patient
from ketamine_integration.reminders.models import ContactConsent
from ketamine_integration.reminders.rules import reminder_settings
from ketamine_integration.reminders.sweep import horizon, run_sweep

from . import databases
from .clinic import Params, generate

#: the smaller clinic: a third of the large one's clinicians and patients
SMALL = 1 / 3


def copy_of(uri: str, label: str) -> str:
    """A scratch copy of a kept clinic (SQLite: the file through the backup API; PostgreSQL: a
    database made from it as a template), made anew for each run."""
    target = databases.scratch_uri(label)
    url = make_url(uri)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as source, sqlite3.connect(make_url(target).database) as copy:
            source.backup(copy)
        return target
    server = databases.server_url()
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    name = make_url(target).database
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    engine.dispose()
    return target


def _consents() -> int:
    """Nine patients in ten consent to email, one in two to SMS too (bulk rows, in id order)."""
    desk = db.session.scalar(select(User.id).where(User.username == "staff1"))
    ids = db.session.scalars(select(Patient.id).order_by(Patient.id)).all()
    rows = [dict(patient_id=pid, channel="email", granted=True, method="written_form", recorded_by_id=desk,
                 recorded_at=utcnow()) for n, pid in enumerate(ids) if n % 10]
    rows += [dict(patient_id=pid, channel="sms", granted=True, method="phone", recorded_by_id=desk,
                  recorded_at=utcnow()) for n, pid in enumerate(ids) if n % 2 == 0]
    db.session.execute(insert(ContactConsent), rows)
    db.session.commit()
    return len(rows)


def _sweep(engine) -> tuple[float, int, int]:
    """(ms, statements, reminders queued) of one sweep, its commit included."""
    count = []
    listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        started = time.perf_counter()
        result = run_sweep(utcnow())
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    db.session.remove()
    return elapsed, len(count), result.queued


def measure(uri: str, label: str, *, rounds: int) -> dict:
    scratch = copy_of(uri, f"reminders_{label}")
    queue_dir = Path(tempfile.mkdtemp(prefix="ki-bench-queue-"))
    app = create_app(databases.bench_settings(scratch, KI_QUEUE_URL=f"sqlite:///{queue_dir / 'queue.sqlite3'}"))
    try:
        with app.app_context():
            consents = _consents()
            now = utcnow()
            ahead = horizon(reminder_settings())
            sessions = db.session.scalar(select(func.count()).select_from(Appointment))
            in_horizon = db.session.scalar(select(func.count()).select_from(Appointment).where(
                Appointment.status == BOOKED, Appointment.starts_at > now, Appointment.starts_at <= now + ahead))
            first_ms, first_sql, queued = _sweep(db.engine)
            steady = [_sweep(db.engine) for _ in range(rounds)]
            deliveries = db.session.scalar(select(func.count()).select_from(Delivery))
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(queue_dir, ignore_errors=True)
    return {"sessions": sessions, "in_horizon": in_horizon, "consents": consents, "first_ms": first_ms,
            "first_sql": first_sql, "queued": queued, "deliveries": deliveries,
            "steady_ms": statistics.median(s[0] for s in steady), "steady_sql": sorted({s[1] for s in steady}),
            "steady_queued": sum(s[2] for s in steady)}


def reminder_sweeps(params: Params, *, rounds: int = 5) -> dict:
    """The large clinic of `params` and one a third its size, each built once and kept."""
    small_params = params.scaled(SMALL)
    large_uri, _ = databases.ensure(f"clinic_{params.key}", lambda: generate(params))
    small_uri, _ = databases.ensure(f"clinic_{small_params.key}", lambda: generate(small_params))
    return {"large": measure(large_uri, "large", rounds=rounds), "small": measure(small_uri, "small", rounds=rounds)}


def rows(result: dict) -> list[str]:
    large, small = result["large"], result["small"]
    same = large["steady_sql"] == small["steady_sql"] and len(large["steady_sql"]) == 1
    return [f"| reminder sweep, {large['sessions']:,} sessions ({large['in_horizon']} booked within its horizon), "
            f"first run | {large['first_ms']:.0f} ms, {large['first_sql']} statements, "
            f"{large['queued']} reminders queued | — |",
            f"| reminder sweep, nothing new (median of the runs after) | {large['steady_ms']:.0f} ms, "
            f"{large['steady_sql'][0]} statements; a third of the clinic ({small['sessions']:,} sessions): "
            f"{small['steady_ms']:.0f} ms, {small['steady_sql'][0]} statements | "
            f"{'met' if same else 'MISSED'} (statements constant) |"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The reminder sweep on the large and a smaller clinic.")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = reminder_sweeps(Params().scaled(args.scale), rounds=args.rounds)
    for name in ("large", "small"):
        print(name, result[name])
    print("\n".join(["| measurement | figure | target |", "|---|---|---|", *rows(result)]))
    print(f"({time.perf_counter() - started:.0f} s in all, {databases.engine_name()})")


if __name__ == "__main__":
    main()
