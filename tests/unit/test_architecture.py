"""The import contracts of pyproject.toml ([tool.importlinter]) hold: the documented order of
packages (README, Architecture), plumbing knows no feature, domain is pure Python, documents import
no feature, no import loops file by file; and session listeners attach once, in order."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import grimp
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from ketamine_integration.db.events import listen_in_order

ROOT = Path(__file__).resolve().parents[2]


def known_loops() -> list[tuple[str, str]]:
    """The imports the loop contract still ignores (pyproject.toml says why): one list for both checks."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract, = [c for c in config["contracts"] if c["id"] == "no-file-loops"]
    return [tuple(part.strip() for part in line.split("->")) for line in contract.get("ignore_imports", [])]


def test_import_contracts_hold():
    """pyproject.toml's [tool.importlinter] contracts: the layers, no loops between siblings, and the
    forbidden imports of plumbing, domain and documents."""
    lint_imports = Path(sysconfig.get_path("scripts")) / "lint-imports"
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's package, not an installed one
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_one_that_imports_it_back():
    """Directly or through a loop, the package root included (which sibling contracts do not see)."""
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("ketamine_integration", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    for importer, imported in known_loops():
        graph.remove_import(importer=importer, imported=imported)
    loops = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                loops.append(f"{importer} -> {' -> '.join(back)}")
    assert not loops, "import loops:\n" + "\n".join(loops)


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
