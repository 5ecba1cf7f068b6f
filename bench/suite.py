"""`make bench-suite`: where a whole `make test` run's time goes, measured on this machine in one run.

    python -m bench.suite [--target test] [--out DIR] [--interval 0.3]

Runs `make <target>` (the test suite by default) with a timeline of every test (bench/suite_timeline.py)
while this process reads, every interval, how busy the machine's cores are (/proc/stat) and the CPU of
every process (/proc/<pid>/stat), and then prints, and writes into DIR/summary.txt:

- the wall time, the cores' busy and idle seconds, and a pure-Python loop timed before and after (the
  machine's speed drifts by a fifth from hour to hour: only runs made back to back compare);
- the CPU by kind of process (the pytest workers, Chromium, PostgreSQL's server, the Playwright driver,
  the Nu checker, the other Python processes the tests start...);
- per worker: its tests' CPU and wall time, by suite;
- the idle core-seconds by the test files running when the cores idled, and the costliest files and tests.

Processes that start and end between two reads are missed (a short `flask` command, a PostgreSQL
backend of one statement), so the kinds add up to a little less than the busy time. Figures are for
comparing within a run or between runs back to back, never asserted in tests.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .suite_timeline import FOLDER

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


#: the machine's speed at the moment, as the README quotes it: a pure-Python loop of 10^7 additions at
#: module level (globals), in a fresh interpreter, printing its own seconds
LOOP = "import time\nt = time.perf_counter()\ns = 0\nfor i in range(10**7): s += i\nprint(time.perf_counter() - t)"


def loop_seconds() -> float:
    return float(subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, check=True).stdout)


# --- reading /proc -------------------------------------------------------------------------------------

def read_cores() -> tuple[int, int, int]:
    """(all, idle, iowait) jiffies of every core together, from /proc/stat's first line."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return sum(values), values[3] + values[4], values[4]


def process_kind(comm: str, cmdline: list[str]) -> str:
    """The kind of process a run's CPU is counted under, from its name and command line."""
    line = " ".join(cmdline)
    if "chrom" in comm or "chrom" in (cmdline[0] if cmdline else ""):
        return "Chromium"
    if comm == "postgres" or comm.startswith("postgres:"):
        return "PostgreSQL server"
    if comm == "node":
        return "Playwright driver (node)"
    if comm == "java":
        return "Nu checker (java)"
    if comm.startswith("python") or comm in ("gunicorn", "flask", "pytest") or "python" in line[:80]:
        if "exec(eval(sys.stdin" in line or "execnet" in line:
            return "pytest workers"
        if "pytest" in line and "-c" not in cmdline[1:2]:
            return "pytest controller"
        if "gunicorn" in line:
            return "gunicorn (servers the tests start)"
        return "other Python (commands, writers the tests start)"
    return "other"


def _process(pid: str) -> tuple[float, str] | None:
    """(CPU seconds used so far, kind) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except (OSError, ValueError):
        return None
    return cpu, process_kind(comm, cmdline)


@dataclass
class Sampler:
    """Reads the cores and the processes every `interval` seconds, on a thread, until stopped."""

    interval: float
    #: (time, busy cores, idle cores, iowait cores) per interval
    cores: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: CPU seconds by kind of process, over the processes started after the sampler
    by_kind: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self._stop = threading.Event()
        self._seen: dict[str, tuple[float, str]] = {}
        self._before = {pid for pid in os.listdir("/proc") if pid.isdigit()}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        previous, cores = time.time(), read_cores()
        while not self._stop.wait(self.interval):
            now, current = time.time(), read_cores()
            total = max(current[0] - cores[0], 1)
            count = os.cpu_count() or 1
            idle = (current[1] - cores[1]) / total * count
            self.cores.append((now, count - idle, idle, (current[2] - cores[2]) / total * count))
            previous, cores = now, current
            self._read_processes()

    def _read_processes(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid in self._before:
                continue
            found = _process(pid)
            if found is None:
                continue
            # counted under what it is now: a process seen between its fork and its exec (the Playwright
            # driver a worker starts) has its parent's name until then
            cpu, kind = found
            previous = self._seen.get(pid, (0.0, kind))[0]
            self.by_kind[kind] += cpu - previous if cpu >= previous else cpu  # less: the id was reused
            self._seen[pid] = (cpu, kind)


# --- the tests' timeline -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestRun:
    worker: str
    nodeid: str
    start: float
    end: float
    cpu: float

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def suite(self) -> str:
        parts = self.file.split("/")
        return parts[1] if len(parts) > 2 else parts[0]


def read_timeline(folder: Path) -> list[TestRun]:
    """Every test the workers ran, from their .tsv files (bench/suite_timeline.py)."""
    runs = []
    for path in sorted(folder.glob("*.tsv")):
        started: dict[str, tuple[float, float]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            event, at, cpu, nodeid = line.split("\t", 3)
            if event == "start":
                started[nodeid] = (float(at), float(cpu))
            elif nodeid in started:
                begun, cpu_then = started.pop(nodeid)
                runs.append(TestRun(path.stem, nodeid, begun, float(at), float(cpu) - cpu_then))
    return sorted(runs, key=lambda run: run.start)


def idle_by_file(cores: list[tuple[float, float, float, float]], runs: list[TestRun],
                 interval: float) -> tuple[Counter, float]:
    """The cores' idle seconds shared among the test files running when they idled (equally between the
    workers' tests of that moment), and the idle seconds when no test ran (start-up, collection, the end)."""
    by_file, outside = Counter(), 0.0
    by_worker: dict[str, list[TestRun]] = defaultdict(list)
    for run in runs:
        by_worker[run.worker].append(run)
    for at, _busy, idle, _iowait in cores:
        seconds = idle * interval
        if seconds <= 0:
            continue
        running = []
        for worker_runs in by_worker.values():
            running += [run.file for run in worker_runs if run.start <= at <= run.end][:1]
        if not running:
            outside += seconds
        for name in running:
            by_file[name] += seconds / len(running)
    return by_file, outside


# --- the report ----------------------------------------------------------------------------------------

def summary(*, wall: float, loops: tuple[float, float], sampler: Sampler, runs: list[TestRun], passed: str) -> str:
    interval = sampler.interval
    busy = sum(c[1] for c in sampler.cores) * interval
    idle = sum(c[2] for c in sampler.cores) * interval
    iowait = sum(c[3] for c in sampler.cores) * interval
    lines = [f"wall {wall:.0f} s ({int(wall // 60)} min {wall % 60:.0f} s); {passed}",
             f"cores busy {busy:.0f} s, idle {idle:.0f} s (of which iowait {iowait:.0f} s)",
             f"pure-Python loop of 10^7 additions: {loops[0]:.2f} s before, {loops[1]:.2f} s after", "",
             "CPU by kind of process (those started during the run, read every "
             f"{interval} s; short-lived ones missed):"]
    lines += [f"  {seconds:7.1f} s  {kind}" for kind, seconds in sampler.by_kind.most_common() if seconds >= 0.05]
    lines += ["", "per worker: the tests' own CPU (the process's, live servers' threads included) and wall time:"]
    for worker in sorted({run.worker for run in runs}):
        mine = [run for run in runs if run.worker == worker]
        lines.append(f"  {worker}: {len(mine)} tests, {sum(r.cpu for r in mine):.1f} s CPU in "
                     f"{sum(r.end - r.start for r in mine):.1f} s")
        suites = defaultdict(lambda: [0, 0.0, 0.0])
        for run in mine:
            entry = suites[run.suite]
            entry[0] += 1
            entry[1] += run.cpu
            entry[2] += run.end - run.start
        for suite, (count, cpu, spent) in sorted(suites.items(), key=lambda item: -item[1][2]):
            lines.append(f"      {suite:<12} {count:5d} tests {cpu:7.1f} s CPU {spent:7.1f} s wall")
    by_file, outside = idle_by_file(sampler.cores, runs, interval)
    lines += ["", f"idle core-seconds by the test files running then ({outside:.1f} s while no test ran):"]
    lines += [f"  {seconds:6.1f} s  {name}" for name, seconds in by_file.most_common(12)]
    cpu_by_file, count_by_file = Counter(), Counter()
    for run in runs:
        cpu_by_file[run.file] += run.cpu
        count_by_file[run.file] += 1
    total = sum(cpu_by_file.values()) or 1
    lines += ["", "the costliest test files (their processes' CPU):"]
    lines += [f"  {cpu:6.1f} s {100 * cpu / total:4.1f} %  {count_by_file[name]:4d} tests  {name}"
              for name, cpu in cpu_by_file.most_common(15)]
    lines += ["", "the costliest tests:"]
    lines += [f"  {run.cpu:6.2f} s CPU {run.end - run.start:6.2f} s wall  {run.nodeid}"
              for run in sorted(runs, key=lambda run: -run.cpu)[:10]]
    return "\n".join(lines) + "\n"


def _passed(log: Path) -> str:
    """The pytest summary line of the run (the last line naming passed or failed tests)."""
    found = [line.strip(" =") for line in log.read_text(errors="replace").splitlines()
             if " passed" in line or " failed" in line]
    return found[-1] if found else "no pytest summary in the log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="test", help="the make target to run (default: test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the timeline, the run's output and summary.txt go "
                             "(default: instance/bench/suite-<time>)")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between two reads of /proc")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "instance" / "bench" / time.strftime("suite-%Y%m%d-%H%M%S")
    (out / "timeline").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env[FOLDER] = str(out / "timeline")
    env["PYTEST_ADDOPTS"] = (env.get("PYTEST_ADDOPTS", "") + " -p bench.suite_timeline").strip()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = loop_seconds()
    sampler = Sampler(args.interval).start()
    started = time.time()
    with (out / "make.log").open("wb") as log:
        code = subprocess.call(["make", args.target], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.time() - started
    sampler.stop()
    after = loop_seconds()
    report = summary(wall=wall, loops=(before, after), sampler=sampler, runs=read_timeline(out / "timeline"),
                     passed=_passed(out / "make.log"))
    if code:
        report = f"`make {args.target}` FAILED (exit {code}): see {out / 'make.log'}\n\n" + report
    (out / "summary.txt").write_text(report)
    sys.stdout.write(report + f"\n(written to {out / 'summary.txt'})\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
