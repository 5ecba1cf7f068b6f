"""The documented order of packages (README, Architecture) and no import loops, file by file."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def known_loops() -> list[tuple[str, str]]:
    """The imports the loop contract still ignores (pyproject.toml says why): one list for both checks."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract, = [c for c in config["contracts"] if c["id"] == "no-file-loops"]
    return [tuple(part.strip() for part in line.split("->")) for line in contract.get("ignore_imports", [])]


def test_import_contracts_hold():
    """pyproject.toml's [tool.importlinter] contracts: the layers, and no loops between siblings."""
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
