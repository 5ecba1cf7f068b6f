"""`make bench-suite` (bench/suite.py): the run's timeline read back, idle time laid at the files running
then, and processes counted under the kind they are."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.suite import idle_by_file, process_kind, read_timeline
from bench.suite_timeline import runs_tests


def _write(path, *events):
    path.write_text("".join(f"{event}\t{at}\t{cpu}\t{nodeid}\n" for event, at, cpu, nodeid in events))


def test_the_timeline_gives_each_test_its_span_and_its_processs_cpu(tmp_path):
    _write(tmp_path / "gw0.tsv", ("start", 10.0, 1.0, "tests/unit/test_a.py::one"),
           ("end", 12.0, 2.5, "tests/unit/test_a.py::one"), ("start", 12.0, 2.5, "tests/browser/test_b.py::two"))
    _write(tmp_path / "gw1.tsv", ("start", 11.0, 0.0, "tests/security/test_c.py::three[sqlite]"),
           ("end", 11.5, 0.25, "tests/security/test_c.py::three[sqlite]"))
    runs = read_timeline(tmp_path)
    # the test still running when the run ended (no end line) is left out
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
    # (time, busy cores, idle cores, iowait cores), read every 0.5 s
    cores = [(2.0, 1.0, 1.0, 0.0),   # both files running: 0.5 core-seconds idle, a half each
             (7.0, 0.5, 1.5, 0.0),   # test_x alone running: 0.75 core-seconds
             (8.0, 2.0, 0.0, 0.0),   # no idle
             (20.0, 0.0, 2.0, 0.0)]  # no test running: 1 core-second outside
    by_file, outside = idle_by_file(cores, runs, 0.5)
    assert by_file == {"tests/integration/test_x.py": pytest.approx(0.25 + 0.75),
                       "tests/integration/test_y.py": pytest.approx(0.25)}
    assert outside == pytest.approx(1.0)


@pytest.mark.parametrize("comm, cmdline, kind", [
    ("chromium-headle", ["/usr/lib/chromium/chromium-headless-shell", "--type=renderer"], "Chromium"),
    ("postgres", ["postgres: postgres test 127.0.0.1(5432) idle"], "PostgreSQL server"),
    ("node", ["/x/playwright/driver/node", "cli.js", "run-driver"], "Playwright driver (node)"),
    ("java", ["java", "-jar", "vnu.jar"], "Nu checker (java)"),
    ("python", [".venv/bin/python", "-c", "import sys;exec(eval(sys.stdin.readline()))"], "pytest workers"),
    ("python", [".venv/bin/python", "-m", "pytest", "-n", "auto", "tests/unit"], "pytest controller"),
    ("gunicorn", ["/x/.venv/bin/python", "/x/.venv/bin/gunicorn", "wsgi:app"], "gunicorn (servers the tests start)"),
    ("flask", ["/x/.venv/bin/python", "/x/.venv/bin/flask", "--app", "wsgi", "worker"],
     "other Python (commands, writers the tests start)"),
    ("make", ["make", "test"], "other"),
])
def test_each_process_is_counted_under_its_kind(comm, cmdline, kind):
    assert process_kind(comm, cmdline) == kind


def test_the_timeline_is_written_by_the_processes_that_run_tests_only():
    assert runs_tests(SimpleNamespace(workerinput={"workerid": "gw0"}, option=SimpleNamespace(numprocesses=2)))
    assert not runs_tests(SimpleNamespace(option=SimpleNamespace(numprocesses=2)))  # xdist's controller
    assert runs_tests(SimpleNamespace(option=SimpleNamespace(numprocesses=0)))
    assert runs_tests(SimpleNamespace(option=SimpleNamespace()))  # pytest without xdist
