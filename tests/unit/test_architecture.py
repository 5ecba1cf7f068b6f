"""The import contracts of pyproject.toml ([tool.importlinter]) hold: plumbing knows no feature,
domain is pure Python, documents import no feature; and listeners attach once, in order."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from ketamine_integration.db.events import listen_in_order

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    # Run from the project root: lint-imports reads pyproject.toml there and analyses the
    # ketamine_integration found on that path (this checkout's, not an installed copy).
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


class ProbeSession(Session):
    """A Session class of this test's own, so its listeners touch no other test's sessions."""


def test_listeners_attach_once_and_run_in_the_order_listed():
    calls = []

    def first(session):
        calls.append("first")

    def last(session):
        calls.append("last")

    listeners = [(ProbeSession, "before_commit", first), (ProbeSession, "before_commit", last)]
    listen_in_order(listeners)
    listen_in_order(listeners)  # a second app made in the same process
    with ProbeSession(create_engine("sqlite://")) as session:
        session.connection()
        session.commit()
    assert calls == ["first", "last"]
