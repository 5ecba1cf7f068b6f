"""A pytest plugin for `make bench-suite` (bench/suite.py): when each test started and ended, and the CPU its
process had used by then, one line per event in $KI_SUITE_TIMELINE_DIR/<worker>.tsv.

Loaded with `-p bench.suite_timeline`; does nothing unless KI_SUITE_TIMELINE_DIR is set. Written by the
process that runs the tests (an xdist worker, or pytest itself without workers), not by xdist's controller,
which hears of every test too. The CPU is the whole process's (`time.process_time`: the live servers'
threads included), so a test's share is what its process used between its start and its end.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

FOLDER = "KI_SUITE_TIMELINE_DIR"


class Timeline:
    def __init__(self, path: Path):
        self.out = path.open("a", buffering=1, encoding="utf-8")

    def _write(self, event: str, nodeid: str) -> None:
        self.out.write(f"{event}\t{time.time():.3f}\t{time.process_time():.3f}\t{nodeid}\n")

    def pytest_runtest_logstart(self, nodeid, location):
        self._write("start", nodeid)

    def pytest_runtest_logfinish(self, nodeid, location):
        self._write("end", nodeid)

    def pytest_unconfigure(self, config):
        self.out.close()


def runs_tests(config) -> bool:
    """Whether this process runs the tests: an xdist worker, or pytest without workers."""
    if hasattr(config, "workerinput"):
        return True
    return not getattr(config.option, "numprocesses", None)  # -n N (N > 0) makes this process the controller


def pytest_configure(config):
    folder = os.environ.get(FOLDER)
    if not folder or not runs_tests(config):
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    config.pluginmanager.register(Timeline(Path(folder) / f"{worker}.tsv"), "ki-suite-timeline")
