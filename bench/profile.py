"""Where a slow key page spends its time: pyinstrument over repeated requests, printed as text.

    python -m bench.profile "therapist dashboard" [--requests 10] [--scale 1.0] [--sql]
    python -m bench.profile feed

Uses the databases `make bench` keeps (bench/databases.py); `--sql` also lists the page's
statements, to see which ones repeat.
"""
from __future__ import annotations

import argparse

from pyinstrument import Profiler
from sqlalchemy import event

from . import databases, measures
from .clinic import BENCH_PASSWORD, Params, generate
from .pages import fetch, key_pages, sign_in


def _show_sql(app, client, path: str) -> None:
    from ketamine_integration.extensions import db
    with app.app_context():
        engine = db.engine
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split())[:160])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        fetch(client, path)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    for n, statement in enumerate(seen, 1):
        print(f"{n:3d}  {statement}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", help='a key page name (e.g. "staff worklist") or "feed"')
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args(argv)
    from ketamine_integration import create_app

    if args.page == "feed":
        app = create_app(databases.bench_settings(databases.scratch_uri("feed"), FEED_REQUESTS_PER_HOUR=10_000))
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
            token = measures._feed_fixture(measures.FEED_EVENTS)
        client, path = app.test_client(), f"/feeds/{token}.ics"
    else:
        params = Params().scaled(args.scale)
        uri, _ = databases.ensure(f"clinic_{params.key}", lambda: generate(params))
        app = create_app(databases.bench_settings(uri))
        page = next(p for p in key_pages(app) if p.name == args.page)
        client, path = sign_in(app, page.username, BENCH_PASSWORD), page.path
    fetch(client, path)
    if args.sql:
        _show_sql(app, client, path)
    profiler = Profiler()
    with profiler:
        for _ in range(args.requests):
            fetch(client, path)
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
