"""Every function of the package stays under a cyclomatic complexity of 15 as radon measures it
(STYLE.md: "keep every function under a cyclomatic complexity of about 15"; issue 18 point 6):
past that a function carries more paths than a reader or a test table can follow. The fix is
a named helper or a table, never a higher threshold."""
from __future__ import annotations

from pathlib import Path

from radon.complexity import add_inner_blocks, cc_visit
from radon.visitors import Class

PACKAGE = Path(__file__).resolve().parents[2] / "ketamine_integration"
#: the first complexity refused (radon's rank C ends at 20; this keeps to its lower part)
LIMIT = 15


def _functions(path: Path):
    """Each function, method and closure of a module, as radon's blocks (classes left out: a
    class's figure is its methods')."""
    blocks = add_inner_blocks(cc_visit(path.read_text(encoding="utf-8")))
    return [b for b in blocks if not isinstance(b, Class)]


def test_radon_sees_the_package():
    """The scan below reads real code: the package's modules, and a known function among them."""
    modules = list(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    names = {b.name for b in _functions(PACKAGE / "coordination" / "report.py")}
    assert "report_data" in names


def test_no_function_reaches_the_complexity_limit(figures):
    scanned, highest, too_complex = 0, 0, []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in _functions(path):
            scanned, highest = scanned + 1, max(highest, block.complexity)
            if block.complexity >= LIMIT:
                too_complex.append(f"{path.relative_to(PACKAGE.parent)}:{block.lineno} "
                                   f"{block.fullname} ({block.complexity})")
    figures.record("Complexity", "functions under radon's limit",
                   f"{scanned} functions, methods and closures scanned; highest {highest}; "
                   f"{len(too_complex)} at {LIMIT} or more")
    assert not too_complex, f"complexity {LIMIT} or more (split into named helpers or a table):\n" \
                            + "\n".join(too_complex)
