"""The FHIR bulk export's time and peak memory at two clinic sizes, each export in a fresh process
(BENCHMARKS.md, FHIR export): memory that stays flat while the clinic grows is the claim.

    python -m bench.fhir_export [--scales 0.25 1.0] [--tracemalloc]

Each size's clinic is the generated one (bench/clinic.py), kept between runs (bench/databases.py).
A child process builds the app, validates one resource of each type (so the library's models are
loaded before the baseline), reads its peak resident memory (ru_maxrss), runs `write_bulk` into a
scratch folder and reads the peak again: the export's own growth is the difference. With
--tracemalloc a second child reports the peak of Python's heap during the export instead (slower).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import databases
from .clinic import Params, generate


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM): its own address space's high-water mark, which
    starts afresh at exec (ru_maxrss would start from the parent's size at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(uri: str, out: Path, traced: bool) -> dict:
    import tracemalloc

    from ketamine_integration import create_app
    from ketamine_integration.fhir import measures
    from ketamine_integration.fhir.export import validated, write_bulk

    app = create_app(databases.bench_settings(uri))
    with app.app_context():
        for questionnaire in measures.questionnaires():
            validated(questionnaire)
        from ketamine_integration.fhir.export import patient_resources
        from ketamine_integration.patients.models import Patient
        from ketamine_integration.extensions import db
        first = db.session.scalar(db.select(Patient.id).order_by(Patient.id).limit(1))
        patient_resources(first)  # every mapping and model class loaded before the baseline
        db.session.remove()
        before = _peak_mb()
        if traced:
            tracemalloc.start()
        started, cpu = time.perf_counter(), time.process_time()
        result = write_bulk(out)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    size = sum(p.stat().st_size for p in out.glob("*.ndjson"))
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_before_mb": before, "rss_peak_mb": _peak_mb(), "traced_peak_mb": traced_peak,
            "resources": sum(result.counts.values()), "batches": result.batches, "megabytes": size / 2**20,
            "counts": result.counts}


def run_child(uri: str, traced: bool) -> dict:
    out = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.fhir_export", "--child", uri, str(out)]
                              + (["--tracemalloc"] if traced else []), capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.25, 1.0])
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("URI", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), args.tracemalloc)))
        return
    rows = []
    for scale in args.scales:
        params = Params().scaled(scale)
        uri, _built = databases.ensure(f"clinic_{params.key}", lambda: generate(params))
        figures = run_child(uri, args.tracemalloc)
        rows.append((params.patients, figures))
        print(f"{params.patients} patients: {figures['resources']} resources ({figures['megabytes']:.1f} MB) in "
              f"{figures['seconds']:.1f} s ({figures['cpu_seconds']:.1f} s of CPU), {figures['batches']} batches; peak RSS {figures['rss_peak_mb']:.0f} MB "
              f"(baseline {figures['rss_before_mb']:.0f} MB, growth {figures['rss_peak_mb'] - figures['rss_before_mb']:.0f}"
              f" MB)" + (f"; Python heap peak {figures['traced_peak_mb']:.1f} MB" if args.tracemalloc else ""),
              flush=True)
    if len(rows) >= 2:
        (small_n, small), (large_n, large) = rows[0], rows[-1]
        growth = lambda f: max(f["rss_peak_mb"] - f["rss_before_mb"], 0.1)  # noqa: E731
        print(f"ratio {large_n}/{small_n} patients: resources x{large['resources'] / small['resources']:.2f}, "
              f"CPU time x{large['cpu_seconds'] / small['cpu_seconds']:.2f}, peak RSS x{large['rss_peak_mb'] / small['rss_peak_mb']:.2f}, "
              f"export's RSS growth x{growth(large) / growth(small):.2f}"
              + (f", Python heap peak x{large['traced_peak_mb'] / small['traced_peak_mb']:.2f}" if args.tracemalloc
                 else ""))


if __name__ == "__main__":
    main()
