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

A process is the run's when `make` started it, or a process the run started did, or it is the database
server's; others on the machine are counted apart. Processes that start and end between two reads are
missed (a short `flask` command, a PostgreSQL backend of one statement), so the kinds add up to a little
less than the busy time. Figures are for comparing within a run or between runs back to back, never
asserted in tests.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .suite_timeline import FOLDER

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
#: the machine's speed at the moment, as docs/test-budget.md quotes it: a pure-Python loop of 10^7
#: additions at module level (globals), in a fresh interpreter, printing its own seconds
LOOP = "import time\nt = time.perf_counter()\ns = 0\nfor i in range(10**7): s += i\nprint(time.perf_counter() - t)"


def loop_seconds() -> float:
    return float(subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, check=True).stdout)


# --- reading /proc -------------------------------------------------------------------------------------

def read_cores() -> tuple[int, int, int]:
    """(all, idle, iowait) jiffies of every core together, from /proc/stat's first line: user, nice,
    system, idle, iowait, irq, softirq and steal (guest time is already in user and nice)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return sum(values), values[3], values[4]


@dataclass(frozen=True)
class ProcessStat:
    """What the run's accounting reads of a process in /proc/<pid>/stat."""

    comm: str
    parent: int
    #: when it started, in jiffies since boot: with the pid, names one process (pids are reused)
    started: int
    #: user and system CPU so far, in seconds
    cpu: float


def parse_stat(text: str) -> ProcessStat:
    """/proc/<pid>/stat's line (proc(5)): the name in parentheses may itself hold spaces and parentheses,
    so the fields are counted from the last closing one (state is field 3, ppid 4, utime 14, stime 15,
    starttime 22)."""
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return ProcessStat(comm, int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / TICKS)


def _python(program: str) -> bool:
    return program.startswith("python")


#: (test, kind) in order, the first that holds naming a process's kind; each test gets the process's
#: name (comm), its program's file name and its whole command line
KINDS: tuple[tuple[Callable[[str, str, str], bool], str], ...] = (
    (lambda comm, program, line: comm.startswith("chrom") or program.startswith("chrom"), "Chromium"),
    (lambda comm, program, line: comm.startswith("postgres"), "PostgreSQL server"),
    # Playwright's bundled node names its main thread node-MainThread; Debian's node runs the calendar readers
    (lambda comm, program, line: program.startswith("node") and "run-driver" in line, "Playwright driver (node)"),
    (lambda comm, program, line: program.startswith("node"), "node (the calendar readers)"),
    (lambda comm, program, line: program == "java", "Nu checker (java)"),
    (lambda comm, program, line: "exec(eval(sys.stdin" in line, "pytest workers"),
    (lambda comm, program, line: " -m pytest" in line or program in ("pytest", "py.test"), "pytest controller"),
    (lambda comm, program, line: " -m gunicorn" in line or program == "gunicorn" or comm == "gunicorn",
     "gunicorn (servers the tests start)"),
    (lambda comm, program, line: _python(program) or comm in ("flask", "python", "python3"),
     "other Python (commands, writers, the demo builder the tests start)"),
)


def process_kind(comm: str, cmdline: list[str]) -> str:
    """The kind of process a run's CPU is counted under, from its name and command line."""
    program = os.path.basename(cmdline[0]) if cmdline else ""
    if _python(program) and len(cmdline) > 1 and not cmdline[1].startswith("-"):
        program = os.path.basename(cmdline[1])  # a script run by the interpreter: flask, gunicorn, pytest
    line = " ".join(cmdline)
    return next((kind for test, kind in KINDS if test(comm, program, line)), "other")


#: processes on the machine that are not the run's (not started by it, nor the database server)
NOT_THE_RUN = "not the run's (other processes on the machine)"


class ProcessLedger:
    """The CPU of the processes a run starts, by kind: each process (pid and start time) counted from
    when it was first seen, under the kind it is when read (a process seen between its fork and its exec
    has its parent's name until then). A process is the run's when its parent is, or when it is the
    database server's."""

    def __init__(self, run_pid: int, existing: set[tuple[int, int]]):
        self.by_kind: Counter = Counter()
        self._run = {run_pid}
        self._existing = existing
        self._cpu: dict[tuple[int, int], float] = {}

    def observe(self, pid: int, stat: ProcessStat, cmdline: list[str]) -> None:
        key = (pid, stat.started)
        if key in self._existing:
            return
        kind = process_kind(stat.comm, cmdline)
        if stat.parent in self._run or pid in self._run:
            self._run.add(pid)
        elif kind != "PostgreSQL server":
            kind = NOT_THE_RUN
        self.by_kind[kind] += stat.cpu - self._cpu.get(key, 0.0)
        self._cpu[key] = stat.cpu


#: each process's command line by (pid, start time, name): read once, and again only after an exec (which
#: renames it), so a read of /proc costs one file per process rather than two
_CMDLINES: dict[tuple[int, int, str], list[str]] = {}


def _read_process(pid: str) -> tuple[ProcessStat, list[str]] | None:
    """A process's stat and command line, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = parse_stat(f.read())
        key = (int(pid), stat.started, stat.comm)
        if key not in _CMDLINES:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                _CMDLINES[key] = [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except (OSError, ValueError, IndexError):
        return None
    return stat, _CMDLINES[key]


def _processes():
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (found := _read_process(pid)) is not None:
            yield int(pid), *found


@dataclass
class Sampler:
    """Reads the cores and the processes every `interval` seconds, on a thread, until stopped."""

    interval: float
    #: (time, busy, idle, iowait) core-seconds per read, from the jiffies /proc/stat counts
    cores: list[tuple[float, float, float, float]] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.ledger: ProcessLedger | None = None
        #: the processes there before the run (made before it starts, so none of its own is among them)
        self._existing = {(pid, stat.started) for pid, stat, _cmdline in _processes()}
        self._cores = read_cores()

    def start(self, run_pid: int) -> "Sampler":
        """Count the processes `run_pid` (started since this sampler was made) starts, and theirs."""
        self.ledger = ProcessLedger(run_pid, self._existing)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._read()  # the last part of an interval

    @property
    def by_kind(self) -> Counter:
        return self.ledger.by_kind if self.ledger else Counter()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._read()

    def _read(self) -> None:
        current = read_cores()
        all_, idle, iowait = (now - before for now, before in zip(current, self._cores))
        self._cores = current
        self.cores.append((time.time(), (all_ - idle - iowait) / TICKS, (idle + iowait) / TICKS, iowait / TICKS))
        for pid, stat, cmdline in _processes():
            self.ledger.observe(pid, stat, cmdline)


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
    """Every test the workers ran, from their .tsv files (bench/suite_timeline.py); a line cut short (a
    worker killed while writing it) and a test still running at the end are left out."""
    runs = []
    for path in sorted(folder.glob("*.tsv")):
        started: dict[str, tuple[float, float]] = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t", 3)
            try:
                event, at, cpu, nodeid = parts[0], float(parts[1]), float(parts[2]), parts[3]
            except (IndexError, ValueError):
                continue
            if event == "start":
                started[nodeid] = (at, cpu)
            elif nodeid in started:
                begun, cpu_then = started.pop(nodeid)
                runs.append(TestRun(path.stem, nodeid, begun, at, cpu - cpu_then))
    return sorted(runs, key=lambda run: run.start)


def idle_by_file(cores: list[tuple[float, float, float, float]], runs: list[TestRun]) -> tuple[Counter, float]:
    """The cores' idle core-seconds of each read shared among the test files running when it was taken
    (equally between the workers' tests of that moment), and the idle core-seconds when no test ran
    (start-up, collection, the end)."""
    by_file, outside = Counter(), 0.0
    by_worker: dict[str, list[TestRun]] = defaultdict(list)
    for run in runs:
        by_worker[run.worker].append(run)
    for at, _busy, idle, _iowait in cores:
        if idle <= 0:
            continue
        running = []
        for worker_runs in by_worker.values():
            running += [run.file for run in worker_runs if run.start <= at <= run.end][:1]
        if not running:
            outside += idle
        for name in running:
            by_file[name] += idle / len(running)
    return by_file, outside


# --- the report ----------------------------------------------------------------------------------------

def _machine(wall: float, loops: tuple[float, float], cores, passed: str) -> list[str]:
    busy, idle, iowait = (sum(read[i] for read in cores) for i in (1, 2, 3))
    return [f"wall {wall:.0f} s ({int(wall // 60)} min {wall % 60:.0f} s); {passed}",
            f"cores busy {busy:.0f} s, idle {idle:.0f} s (of which iowait {iowait:.0f} s)",
            f"pure-Python loop of 10^7 additions: {loops[0]:.2f} s before, {loops[1]:.2f} s after"]


def _kinds(by_kind: Counter, interval: float) -> list[str]:
    return ([f"CPU by kind of process (those the run started, read every {interval} s; short-lived ones missed):"]
            + [f"  {seconds:7.1f} s  {kind}" for kind, seconds in by_kind.most_common() if seconds >= 0.05])


def _workers(runs: list[TestRun]) -> list[str]:
    lines = ["per worker: its tests' CPU (the process's, live servers' threads included) and wall time, by suite:"]
    for worker in sorted({run.worker for run in runs}):
        mine = [run for run in runs if run.worker == worker]
        lines.append(f"  {worker}: {len(mine)} tests, {sum(r.cpu for r in mine):.1f} s CPU in "
                     f"{sum(r.end - r.start for r in mine):.1f} s")
        suites: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
        for run in mine:
            entry = suites[run.suite]
            entry[0], entry[1], entry[2] = entry[0] + 1, entry[1] + run.cpu, entry[2] + run.end - run.start
        lines += [f"      {suite:<12} {count:5d} tests {cpu:7.1f} s CPU {spent:7.1f} s wall"
                  for suite, (count, cpu, spent) in sorted(suites.items(), key=lambda item: -item[1][2])]
    return lines


def _idle(cores, runs: list[TestRun]) -> list[str]:
    by_file, outside = idle_by_file(cores, runs)
    return ([f"idle core-seconds by the test files running then ({outside:.1f} s while no test ran):"]
            + [f"  {seconds:6.1f} s  {name}" for name, seconds in by_file.most_common(12)])


def _costliest(runs: list[TestRun]) -> list[str]:
    cpu_by_file, count_by_file = Counter(), Counter()
    for run in runs:
        cpu_by_file[run.file] += run.cpu
        count_by_file[run.file] += 1
    total = sum(cpu_by_file.values()) or 1
    return (["the costliest test files (their processes' CPU):"]
            + [f"  {cpu:6.1f} s {100 * cpu / total:4.1f} %  {count_by_file[name]:4d} tests  {name}"
               for name, cpu in cpu_by_file.most_common(15)]
            + ["", "the costliest tests:"]
            + [f"  {run.cpu:6.2f} s CPU {run.end - run.start:6.2f} s wall  {run.nodeid}"
               for run in sorted(runs, key=lambda run: -run.cpu)[:10]])


def summary(*, wall: float, loops: tuple[float, float], sampler: Sampler, runs: list[TestRun], passed: str) -> str:
    sections = [_machine(wall, loops, sampler.cores, passed), _kinds(sampler.by_kind, sampler.interval),
                _workers(runs), _idle(sampler.cores, runs), _costliest(runs)]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


#: pytest's closing line: "==== 5048 passed, 5 skipped in 365.40s (0:06:05) ===="
PYTEST_SUMMARY = re.compile(r"^=+ (.* in [0-9.]+s.*?) =+$")


def _passed(log: Path) -> str:
    """The last pytest summary line of the run's output."""
    found = [m.group(1) for line in log.read_text(errors="replace").splitlines()
             if (m := PYTEST_SUMMARY.match(line.strip()))]
    return found[-1] if found else "no pytest summary in the output"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="test", help="the make target to run (default: test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="a new folder for the timeline, the run's output and summary.txt "
                             "(default: instance/bench/suite-<time>)")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between two reads of /proc")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "instance" / "bench" / time.strftime("suite-%Y%m%d-%H%M%S")
    timeline = out / "timeline"
    if timeline.exists() and any(timeline.iterdir()):
        parser.error(f"{timeline} holds an earlier run's timeline: name a new --out folder")
    timeline.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env[FOLDER] = str(timeline)
    env["PYTEST_ADDOPTS"] = (env.get("PYTEST_ADDOPTS", "") + " -p bench.suite_timeline").strip()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = loop_seconds()
    sampler = Sampler(args.interval)
    started = time.time()
    with (out / "make.log").open("wb") as log:
        make = subprocess.Popen(["make", args.target], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler.start(make.pid)
        code = make.wait()
    wall = time.time() - started
    sampler.stop()
    after = loop_seconds()
    report = summary(wall=wall, loops=(before, after), sampler=sampler, runs=read_timeline(timeline),
                     passed=_passed(out / "make.log"))
    if code:
        report = f"`make {args.target}` FAILED (exit {code}): see {out / 'make.log'}\n\n" + report
    (out / "summary.txt").write_text(report)
    sys.stdout.write(report + f"\n(written to {out / 'summary.txt'})\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
