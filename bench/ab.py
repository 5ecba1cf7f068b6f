"""Before and after: the key pages of one kept clinic, timed with the code this runs from.

    python bench/ab.py --database sqlite:///instance/bench/ki_bench_clinic_....db [--requests 30]

Run it from the current tree, then from a worktree of an earlier commit on the same database
(`git worktree add /tmp/before REV && cd /tmp/before && PYTHONPATH=. python /path/to/bench/ab.py
--database ...`): the imports are absolute, so the `bench` and `ketamine_integration` packages
are the checkout's own. Pages are requested in turn, round after round (bench.pages.time_pages
in the current tree), so the machine's drift meets every page alike; BENCHMARKS.md's before and
after table was made this way.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

from bench.clinic import BENCH_PASSWORD
from bench.databases import bench_settings
from bench.pages import fetch, key_pages, sign_in
from ketamine_integration import create_app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="URI of a kept clinic (bench/databases.py)")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    app = create_app(bench_settings(args.database))
    pages = key_pages(app)
    clients = {user: sign_in(app, user, BENCH_PASSWORD) for user in {p.username for p in pages}}
    for page in pages:  # warm: the first requests fill caches
        for _ in range(3):
            fetch(clients[page.username], page.path)
    samples = {page.name: [] for page in pages}
    for _ in range(args.requests):
        for page in pages:
            started = time.perf_counter()
            fetch(clients[page.username], page.path)
            samples[page.name].append((time.perf_counter() - started) * 1000)
    floor = statistics.median(samples[pages[0].name])
    for page in pages:
        median = statistics.median(samples[page.name])
        print(f"{page.name:22s} {median:7.1f} ms {median / floor:6.1f}x floor  {page.path}")


if __name__ == "__main__":
    main()
