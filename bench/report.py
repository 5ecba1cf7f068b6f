"""The benchmark's table, its targets, and BENCHMARKS.md (the machine it ran on included).

BENCHMARKS.md keeps what people wrote around the measured part (the profiles, the fixes and
their before/after figures); a run replaces only the text between the two markers.
"""
from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from .pages import FLOOR
from .reminders import rows as reminder_rows

BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"
#: the issue's targets
PAGE_RATIO, PDF_RATIO, FEED_MS, AUTOSCHEDULE_MS = 5.0, 1.3, 100.0, 2000.0
LOAD_RPS, LOAD_P99_MS = 300.0, 200.0


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _page_rows(results: dict) -> list[str]:
    large, demo = results["large"], results["demo"]
    floor = large["timings"][FLOOR].median_ms
    lines = ["| page | median ms | p95 ms | × floor | SQL (demo) | SQL (large) | target |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for page in large["pages"]:
        timing = large["timings"][page.name]
        ratio = timing.median_ms / floor
        same = demo["statements"][page.name] == large["statements"][page.name]
        target = "floor" if page.name == FLOOR else (
            f"{_mark(ratio <= PAGE_RATIO)} (≤ {PAGE_RATIO:g}×); SQL {'same' if same else 'DIFFERS'}")
        lines.append(f"| {page.name} (`{page.path}`) | {timing.median_ms:.1f} | {timing.p95_ms:.1f} | {ratio:.1f} | "
                     f"{demo['statements'][page.name]} | {large['statements'][page.name]} | {target} |")
    return lines


def _other_rows(results: dict) -> list[str]:
    pdf, feed, auto = results["pdf"], results["feed"], results["autoschedule"]
    lines = ["", "| measurement | figure | target |", "|---|---|---|",
             f"| coordination report PDF (generate_report) vs bare WeasyPrint, same HTML | medians {pdf['app_ms']:.0f} ms "
             f"vs {pdf['bare_ms']:.0f} ms; median of paired ratios {pdf['ratio']:.2f}× | {_mark(pdf['ratio'] <= PDF_RATIO)} (≤ {PDF_RATIO}×) |",
             f"| subscription feed, {feed['events']} events (`/feeds/<secret>.ics`) | median {feed['median_ms']:.0f} ms, "
             f"p95 {feed['p95_ms']:.0f} ms (first poll, nothing kept yet: {feed['first_ms']:.0f} ms) | "
             f"{_mark(feed['median_ms'] < FEED_MS)} (< {FEED_MS:g} ms) |",
             f"| auto-scheduler, {auto['windows']} uncovered windows, 40 therapists, 14 days ({auto['slots']} slots) | "
             f"median {auto['median_ms']:.0f} ms | {_mark(auto['median_ms'] < AUTOSCHEDULE_MS)} (< 2 s) |"]
    if "reminders" in results:
        lines += reminder_rows(results["reminders"])
    if "load" in results:
        load = results["load"]
        ok = load["rps"] >= LOAD_RPS and load["p99_ms"] < LOAD_P99_MS and load["errors"] == 0
        lines.append(f"| gunicorn, 2 workers, wrk {load['connections']} connections × {load['seconds']} s, mixed reads "
                     f"| {load['rps']:.0f} req/s; p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, "
                     f"p99 {load['p99_ms']:.0f} ms; {load['errors']} errors ({load['requests']} requests) | "
                     f"{_mark(ok)} (≥ {LOAD_RPS:g}/s, p99 < {LOAD_P99_MS:g} ms, 0 errors) |")
    return lines


def table(results: dict) -> str:
    params, sizes = results["params"], results["large"]["sizes"]
    made = results["generated_seconds"]
    head = [f"Large clinic ({results['engine']}): {params.therapists} therapists, {params.prescribers} prescribers, "
            + ", ".join(f"{v:,} {k}" for k, v in sizes.items())
            + (f"; generated in {made:.0f} s" if made else "; kept from an earlier run"),
            "Demo clinic: " + ", ".join(f"{v:,} {k}" for k, v in results["demo"]["sizes"].items()), ""]
    return "\n".join(head + _page_rows(results) + _other_rows(results))


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return ""


def _postgres_version() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
        engine.dispose()
        return f"PostgreSQL {version}"
    except Exception as err:  # the machine section says so rather than failing the run
        return f"PostgreSQL not reachable ({type(err).__name__})"


def machine() -> list[str]:
    cpu = dict(re.findall(r"^([^:]+):\s*(.+)$", _run(["lscpu"]), re.M))
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()) if Path("/proc/meminfo").exists() \
        else None
    load = os.getloadavg()
    return [f"- CPU: {cpu.get('Model name', platform.processor())}, {cpu.get('CPU(s)', os.cpu_count())} CPU(s)",
            f"- RAM: {int(memory.group(1)) / 1024 / 1024:.1f} GiB" if memory else "- RAM: unknown",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {_postgres_version()}",
            f"- {platform.platform()}; load average at the end of the run {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (the machine is shared: timings are noisy)"]


def write(path: str, results: dict, table_text: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mix = ", ".join(results.get("load_mix", ()))
    body = "\n".join([BEGIN, f"Run {stamp} with `make bench` ({results['seconds']:.0f} s), on:", "", *machine(), "",
                      table_text, "", f"Mixed read workload under gunicorn: {mix} (round-robin, each page as "
                      "the user who opens it)." if mix else "", END])
    target = Path(path)
    current = target.read_text() if target.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in current:
        current += f"\n{BEGIN}\n{END}\n"
    before, rest = current.split(BEGIN, 1)
    after = rest.split(END, 1)[1] if END in rest else ""
    target.write_text(before + body + after)
