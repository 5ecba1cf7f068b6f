"""`make bench-suite` (bench/suite.py): the run's timeline read back, idle time laid at the files running
then, processes counted under the kind they are, and only the run's."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.suite import (NOT_THE_RUN, TICKS, ProcessLedger, ProcessStat, idle_by_file, parse_stat, process_kind,
                         read_timeline)
from bench.suite_timeline import runs_tests


def _write(path, *events):
    path.write_text("".join(f"{event}\t{at}\t{cpu}\t{nodeid}\n" for event, at, cpu, nodeid in events))


def test_the_timeline_gives_each_test_its_span_and_its_processs_cpu(tmp_path):
    _write(tmp_path / "gw0.tsv", ("start", 10.0, 1.0, "tests/unit/test_a.py::one"),
           ("end", 12.0, 2.5, "tests/unit/test_a.py::one"), ("start", 12.0, 2.5, "tests/browser/test_b.py::two"))
    _write(tmp_path / "gw1.tsv", ("start", 11.0, 0.0, "tests/security/test_c.py::three[sqlite]"),
           ("end", 11.5, 0.25, "tests/security/test_c.py::three[sqlite]"))
    with (tmp_path / "gw1.tsv").open("a") as cut:
        cut.write("start\t13.0\t0.")  # a worker killed while writing its line
    runs = read_timeline(tmp_path)
    # the test still running when the run ended (no end line) and the line cut short are left out
    assert [(r.worker, r.nodeid, r.end - r.start, r.cpu) for r in runs] == [
        ("gw0", "tests/unit/test_a.py::one", 2.0, 1.5),
        ("gw1", "tests/security/test_c.py::three[sqlite]", 0.5, 0.25)]
    assert [(r.file, r.suite) for r in runs] == [("tests/unit/test_a.py", "unit"),
                                                 ("tests/security/test_c.py", "security")]


def test_idle_time_is_shared_among_the_files_running_then(tmp_path):
    _write(tmp_path / "gw0.tsv", ("start", 0.0, 0, "tests/integration/test_x.py::a"),
           ("end", 10.0, 1, "tests/integration/test_x.py::a"))
    _write(tmp_path / "gw1.tsv", ("start", 0.0, 0, "tests/integration/test_y.py::b"),
           ("end", 5.0, 1, "tests/integration/test_y.py::b"))
    runs = read_timeline(tmp_path)
    # (time, busy, idle, iowait) core-seconds of each read
    cores = [(2.0, 0.5, 0.5, 0.0),   # both files running: a half each
             (7.0, 0.25, 0.75, 0.0),  # test_x alone running
             (20.0, 0.0, 1.0, 0.0)]   # no test running
    by_file, outside = idle_by_file(cores, runs)
    assert by_file == {"tests/integration/test_x.py": pytest.approx(0.25 + 0.75),
                       "tests/integration/test_y.py": pytest.approx(0.25)}
    assert outside == pytest.approx(1.0)


def test_a_process_stat_line_is_read_past_a_name_holding_parentheses_and_spaces():
    fields = ["S", "4242", "1", "1", "0", "-1", "4194560", "10", "0", "0", "0", "150", "25", "0", "0", "20", "0",
              "1", "0", "987654", "1000", "10"]
    stat = parse_stat("777 (a) (b c) " + " ".join(fields))
    assert (stat.comm, stat.parent, stat.started) == ("a) (b c", 4242, 987654)
    assert stat.cpu == pytest.approx(175 / TICKS)  # utime 150 and stime 25 jiffies


#: command lines as the run's processes have them (read from /proc during a run)
@pytest.mark.parametrize("comm, cmdline, kind", [
    # Chromium's headless shell: the browser, and a renderer its zygote forked
    ("chromium-headle", ["/usr/lib/chromium/chromium-headless-shell", "--no-sandbox", "--headless"], "Chromium"),
    ("chromium-headle", ["/usr/lib/chromium/chromium-headless-shell", "--type=renderer"], "Chromium"),
    ("postgres", ["postgres: postgres ki_test_gw0 127.0.0.1(51234) idle"], "PostgreSQL server"),
    # Playwright's bundled node names its main thread
    ("node-MainThread", ["/w/.venv/lib/python3.11/site-packages/playwright/driver/node",
                         "/w/.venv/lib/python3.11/site-packages/playwright/driver/package/cli.js", "run-driver"],
     "Playwright driver (node)"),
    # Debian's node runs ical.js for tests/calendar_readers
    ("node", ["/usr/bin/node", "/w/tests/calendar_readers/ical_reader.mjs"], "node (the calendar readers)"),
    ("java", ["java", "-XX:TieredStopAtLevel=1", "-jar", "/w/.cache/a11y/node_modules/vnu-jar/build/dist/vnu.jar"],
     "Nu checker (java)"),
    ("python", ["/w/.venv/bin/python", "-c", "import sys;exec(eval(sys.stdin.readline()))"], "pytest workers"),
    ("python", ["/w/.venv/bin/python", "-m", "pytest", "-n", "auto", "--dist", "worksteal", "tests/unit"],
     "pytest controller"),
    # what the tests start, whose arguments name pytest's temporary folders
    ("python", ["/w/.venv/bin/python", "-m", "gunicorn", "--access-logfile",
                "/tmp/pytest-of-root/pytest-3/popen-gw0/test_x0/access.log", "wsgi:app"],
     "gunicorn (servers the tests start)"),
    ("python", ["/w/.venv/bin/python", "-m", "tests.databases", "/tmp/pytest-of-root/pytest-3"],
     "other Python (commands, writers, the demo builder the tests start)"),
    ("python", ["/w/.venv/bin/python", "-m", "tests.security.sqlite_writers", "sqlite:////tmp/pytest-of-root/x.db"],
     "other Python (commands, writers, the demo builder the tests start)"),
    ("flask", ["/w/.venv/bin/python", "/w/.venv/bin/flask", "--app", "wsgi", "forms", "check",
               "/tmp/pytest-of-root/pytest-3/popen-gw1/test_pipe0/form.yaml"],
     "other Python (commands, writers, the demo builder the tests start)"),
    ("make", ["make", "test"], "other"),
])
def test_each_process_is_counted_under_its_kind(comm, cmdline, kind):
    assert process_kind(comm, cmdline) == kind


def _stat(parent, started, cpu, comm="python"):
    return ProcessStat(comm, parent, started, cpu)


def test_the_ledger_counts_the_runs_processes_from_first_sight_and_a_reused_pid_as_new():
    ledger = ProcessLedger(run_pid=100, existing={(50, 1)})
    worker = ["/w/.venv/bin/python", "-c", "import sys;exec(eval(sys.stdin.readline()))"]
    ledger.observe(50, _stat(1, 1, 9.0), worker)        # there before the run: never counted
    ledger.observe(200, _stat(100, 5, 2.0), worker)     # make's child
    ledger.observe(200, _stat(100, 5, 3.5), worker)     # read again: 1.5 s more
    ledger.observe(300, _stat(200, 6, 1.0, comm="java"), ["java", "-jar", "vnu.jar"])  # its child
    ledger.observe(400, _stat(1, 7, 4.0, comm="postgres"), ["postgres: postgres test idle"])  # the server's
    ledger.observe(500, _stat(1, 8, 6.0), ["/usr/bin/python3", "other.py"])  # another session's
    ledger.observe(200, _stat(100, 9, 0.5), worker)     # pid 200 again, a new process: counted from 0
    assert dict(ledger.by_kind) == {"pytest workers": pytest.approx(3.5 + 0.5), "Nu checker (java)": 1.0,
                                    "PostgreSQL server": 4.0, NOT_THE_RUN: 6.0}


def test_the_timeline_is_written_by_the_processes_that_run_tests_only():
    assert runs_tests(SimpleNamespace(workerinput={"workerid": "gw0"}, option=SimpleNamespace(numprocesses=2)))
    assert not runs_tests(SimpleNamespace(option=SimpleNamespace(numprocesses=2)))  # xdist's controller
    assert runs_tests(SimpleNamespace(option=SimpleNamespace(numprocesses=0)))
    assert runs_tests(SimpleNamespace(option=SimpleNamespace()))  # pytest without xdist
