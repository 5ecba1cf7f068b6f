"""Figures the security and reliability suites measure, printed at the end of the run.

Each suite records what it counted (requests sent, successes, errors...) with
`figures.record(...)`; pytest prints them together after the test summary (under xdist the
workers hand theirs to the controller, tests/conftest.py), so `make test` reproduces every
figure SECURITY.md reports on SQLite and on PostgreSQL where the engine matters, and
`make test-all-engines` (CI runs both) the PostgreSQL figures of the rest.
`KI_SECURITY_SIZE=large` (or `make test-security-large`) runs the same suites at a larger size.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

#: "default" inside `make test`; "large" is the opt-in size for a longer, deeper run.
SIZE = os.environ.get("KI_SECURITY_SIZE", "default").strip().lower() or "default"
if SIZE not in ("default", "large"):
    raise SystemExit(f"KI_SECURITY_SIZE must be 'default' or 'large', not {SIZE!r}")


def sized(default: int, large: int) -> int:
    """The count a suite uses at the size this run asked for."""
    return large if SIZE == "large" else default


@dataclass(frozen=True)
class Figure:
    suite: str       #: e.g. "IDOR matrix"
    measured: str    #: what was counted, e.g. "requests"
    value: str       #: the figure, e.g. "412 requests, 0 successes"
    engine: str = ""  #: "sqlite" / "postgresql" when the suite ran per engine


class FigureBook:
    def __init__(self):
        self.figures: list[Figure] = []

    def record(self, suite: str, measured: str, value, *, engine: str = "") -> None:
        self.figures.append(Figure(suite, measured, str(value), engine))

    def lines(self) -> list[str]:
        width = max((len(f.suite) for f in self.figures), default=0)
        return [f"{f.suite:<{width}}  {('[' + f.engine + '] ') if f.engine else ''}{f.measured}: {f.value}"
                for f in self.figures]


BOOK = FigureBook()
