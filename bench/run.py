"""`make bench`: every figure of the performance issue in one process, printed as one table and
written into BENCHMARKS.md.

    python -m bench.run [--scale 1.0] [--requests 30] [--load-seconds 20] [--no-load]

SQLite by default; BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres runs it on
PostgreSQL. The demo clinic and the large clinic are kept between runs (bench/databases.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import time

from sqlalchemy import func, select

from ketamine_integration import PROJECT_ROOT, create_app
from ketamine_integration.accounts.models import User
from ketamine_integration.db.types import utcnow
from ketamine_integration.demo.clinic import DEMO_PASSWORD, load_demo_clinic
from ketamine_integration.extensions import db

from . import databases, load, measures, report
from .reminders import reminder_sweeps
from .clinic import BENCH_PASSWORD, Params, generate, password_only_sign_in
from .pages import FLOOR, key_pages, sign_in, statements, time_pages

#: the mixed read workload under gunicorn: what clinicians open through the day
LOAD_MIX = ("therapist dashboard", "patient course page", "measures chart", "theme view", "week calendar",
            "prescriber worklist", FLOOR)


def _demo() -> None:
    load_demo_clinic(now=utcnow())
    password_only_sign_in(db.session.scalar(select(User).where(User.username == "admin")))
    db.session.commit()


def _sizes(app) -> dict:
    from ketamine_integration.audit.models import AuditEvent
    from ketamine_integration.notes.models import MeasureResponse, SessionNote
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.bookings.models import Appointment
    with app.app_context():
        sizes = {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in (
            ("patients", Patient), ("sessions", Appointment), ("notes", SessionNote),
            ("measures", MeasureResponse), ("audit rows", AuditEvent))}
        db.session.remove()
    return sizes


def measure_clinic(uri: str, password: str, *, requests: int | None) -> dict:
    """Statement counts of every key page (and, when `requests`, their timings) in one clinic."""
    app = create_app(databases.bench_settings(uri))
    pages = key_pages(app)
    clients = {user: sign_in(app, user, password) for user in {p.username for p in pages}}
    result = {"pages": pages, "sizes": _sizes(app), "statements": {}, "timings": {}}
    for page in pages:
        client = clients[page.username]
        client.get(page.path)  # the first request of a page fills caches; it is not counted
        result["statements"][page.name] = statements(app, client, page.path)
    if requests:
        result["timings"] = time_pages({p.name: (clients[p.username], p.path) for p in pages}, requests=requests)
    result["app"] = app
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Benchmarks of the performance issue (make bench).")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", 1.0)))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 30)))
    parser.add_argument("--load-seconds", type=int, default=int(os.environ.get("BENCH_LOAD_SECONDS", 20)))
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn throughput run")
    parser.add_argument("--output", default=str(PROJECT_ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    # WeasyPrint warns about the report's SVG styling on every render; the figures are what matter here
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    started = time.perf_counter()
    params = Params().scaled(args.scale)
    demo_uri, _ = databases.ensure(databases.demo_label(), _demo)
    large_uri, built = databases.ensure(f"clinic_{params.key}", lambda: generate(params))
    results = {"params": params, "engine": databases.engine_name(), "generated_seconds": built}
    results["demo"] = measure_clinic(demo_uri, DEMO_PASSWORD, requests=None)
    results["large"] = large = measure_clinic(large_uri, BENCH_PASSWORD, requests=args.requests)
    results["pdf"] = measures.pdf_vs_weasyprint(large["app"])
    results["feed"] = measures.feed_of_1000(databases.scratch_uri("feed"))
    results["autoschedule"] = measures.auto_scheduler()
    results["reminders"] = reminder_sweeps(params)
    if not args.no_load:
        by_name = {p.name: p for p in large["pages"]}
        mix = [(by_name[name].username, by_name[name].path) for name in LOAD_MIX]
        results["load"] = load.throughput(large_uri, mix, seconds=args.load_seconds)
        results["load_mix"] = LOAD_MIX
    results["seconds"] = time.perf_counter() - started
    table = report.table(results)
    print(table)
    report.write(args.output, results, table)
    print(f"\nWritten to {args.output} ({results['seconds']:.0f} s in all).")


if __name__ == "__main__":
    main()
