"""A draft's objectives still being written. An objective row holds every SMART part, so a row partly
filled is kept with the draft's content instead, as typed, until it is complete: saving (and a refused
"Sign and lock") keeps it, as a note's, a safety plan's and a discharge summary's draft keeps what was
typed, and signing asks for what each still lacks, on its own fields."""
from __future__ import annotations

from datetime import date

from ..domain import plans as rules

#: where the draft's content keeps them: [{"index": form row, "lineage", "goal", "target", ...}]
KEY = "unfinished_objectives"
_TEXT = ("goal", "target", "criterion", "mechanism", "measure")


def missing_parts(row: rules.ObjectiveRow) -> list[str]:
    """The SMART parts a row typed in part still lacks ([] for an empty or a complete row)."""
    if row.empty:
        return []
    return [name for name in rules.OBJECTIVE_NEEDS
            if getattr(row, name) is None or (isinstance(getattr(row, name), str) and not getattr(row, name).strip())]


def set_aside(rows: list[rules.ObjectiveRow]) -> tuple[set[str], set[int]]:
    """The fields of the parts still missing from rows typed in part (a save keeps those rows, it does
    not refuse them: a wrong value, a date before the plan, say, still does), and the rows' indexes."""
    unfinished = {i for i, row in enumerate(rows) if missing_parts(row)}
    return {f"objectives-{i}-{name}" for i in unfinished for name in missing_parts(rows[i])}, unfinished


def content(submitted: list[dict], rows: list[rules.ObjectiveRow], unfinished: set[int]) -> dict:
    """What the draft's content holds of its unfinished rows: nothing when there are none."""
    return {KEY: entries(submitted, rows, unfinished)} if unfinished else {}


def complete_rows(rows: list[rules.ObjectiveRow], unfinished: set[int]) -> list[rules.ObjectiveRow]:
    """The rows the draft's objectives are made of: each unfinished one as an empty row (left out)."""
    return [rules.ObjectiveRow() if i in unfinished else row for i, row in enumerate(rows)]


def entries(submitted: list[dict], rows: list[rules.ObjectiveRow], unfinished: set[int]) -> list[dict]:
    """The unfinished rows as the content keeps them (plain data: the date as ISO text)."""
    kept = []
    for i in sorted(unfinished):
        row = rows[i]
        entry = {name: getattr(row, name).strip() for name in _TEXT}
        entry.update(index=i, lineage=str(submitted[i].get("lineage") or ""),
                     by_when=row.by_when.isoformat() if row.by_when else None)
        kept.append(entry)
    return kept


def lineages(content: dict | None) -> set[str]:
    """The lineages the unfinished rows carry (a revised objective being rewritten keeps its own)."""
    return {e["lineage"] for e in (content or {}).get(KEY, []) if e.get("lineage")}


def needs(content: dict | None) -> dict[str, str]:
    """What signing asks of each unfinished row, on its fields."""
    problems = {}
    for entry in (content or {}).get(KEY, []):
        row = rules.ObjectiveRow(**{name: entry.get(name) or "" for name in _TEXT},
                                 by_when=date.fromisoformat(entry["by_when"]) if entry.get("by_when") else None)
        for name in missing_parts(row):
            problems[f"objectives-{entry['index']}-{name}"] = f"Objective {entry['index'] + 1}: " + \
                rules.OBJECTIVE_NEEDS[name]
    return problems


def form_rows(content: dict, complete: list[dict]) -> list[dict]:
    """The draft form's objective rows: the complete ones, with each unfinished one back at its place."""
    rows = list(complete)
    for entry in sorted(content.get(KEY, []), key=lambda e: e["index"]):
        rows.insert(min(entry["index"], len(rows)), {
            "lineage": entry.get("lineage") or "", **{name: entry.get(name) or "" for name in _TEXT},
            "by_when": date.fromisoformat(entry["by_when"]) if entry.get("by_when") else None})
    return rows
