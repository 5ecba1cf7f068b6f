"""The clinic outcomes page (issue 25, point 4) on the demo and the large clinic: its SQL statements and
its time beside the floor page and the other key pages, as ratios (one run's milliseconds drift with the
machine; ratios within a run hold).

    python -m bench.outcomes [--scale 1.0] [--requests 30]

SQLite by default; BENCH_DATABASE_URL=postgresql://... runs it on PostgreSQL. The clinics are the ones
`make bench` keeps (bench/databases.py), built here when missing.
"""
from __future__ import annotations

import argparse
import logging
import os

from ketamine_integration.demo.clinic import DEMO_PASSWORD

from . import databases
from .clinic import BENCH_PASSWORD, Params, generate
from .pages import FLOOR
from .run import _demo, measure_clinic

PAGE = "clinic outcomes"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The clinic outcomes page's statements and time.")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", 1.0)))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 30)))
    args = parser.parse_args(argv)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    params = Params().scaled(args.scale)
    demo_uri, _ = databases.ensure(databases.demo_label(), _demo)
    large_uri, _ = databases.ensure(f"clinic_{params.key}", lambda: generate(params))
    demo = measure_clinic(demo_uri, DEMO_PASSWORD, requests=None)
    large = measure_clinic(large_uri, BENCH_PASSWORD, requests=args.requests)
    floor = large["timings"][FLOOR].median_ms
    print(f"engine {databases.engine_name()}; large clinic: {large['sizes']}")
    print("| page | median ms | p95 ms | × floor | SQL (demo) | SQL (large) |")
    print("|---|---:|---:|---:|---:|---:|")
    for page in large["pages"]:
        t = large["timings"][page.name]
        print(f"| {page.name} (`{page.path}`) | {t.median_ms:.1f} | {t.p95_ms:.1f} | {t.median_ms / floor:.1f} | "
              f"{demo['statements'][page.name]} | {large['statements'][page.name]} |")


if __name__ == "__main__":
    main()
