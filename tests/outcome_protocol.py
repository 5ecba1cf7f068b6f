"""A test protocol that schedules the registry's outcome measures beyond depression (issue 24,
point 5): the shipped IV protocol under another id, asking the PCL-5 and WSAS at baseline and the
end of the series and the WAI-SR at baseline (after the preparation sessions) and each integration
session. The shipped files stay as they are."""
from __future__ import annotations

import shutil
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "protocols"
#: the test protocol's id
OUTCOMES = "iv-outcome-measures"
SCHEDULE = ("  - measure: pcl5\n    at: [baseline, end_of_series]\n"
            "  - measure: wsas\n    at: [baseline, end_of_series]\n"
            "  - measure: waisr\n    at: [baseline, each_integration]\n")


def library_with_outcomes(directory: Path) -> Path:
    """The shipped protocols and the test protocol, in `directory` (made); returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED.glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    text = (SHIPPED / "iv-ketamine-induction.yaml").read_text(encoding="utf-8")
    text = text.replace("id: iv-ketamine-induction", f"id: {OUTCOMES}", 1)
    text = text.replace("measures:\n", "measures:\n" + SCHEDULE, 1)
    assert f"id: {OUTCOMES}" in text and "measure: waisr" in text
    (directory / f"{OUTCOMES}.yaml").write_text(text, encoding="utf-8")
    return directory
