"""An uploaded import file read into rows, within limits on size, rows and time, before any write.

Nothing here touches the database: a file is decoded, split into rows (CSV lines, a FHIR Bundle's
entries or NDJSON lines) and each row handed to a reader that turns it into a candidate or a list of
refusals. The caller checks the candidates against the database afterwards (services.py).
"""
from __future__ import annotations

import csv
import io
import json
import time as clock
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Limits:
    """What one file may cost to read."""
    #: the largest file read
    max_bytes: int
    #: rows (CSV lines, FHIR resources) one file may hold: larger migrations are split into files
    max_rows: int
    #: wall time for reading and validating the whole file
    seconds: float


#: an upload: it occupies a server process while it is read, so a file at the row limit is read in about
#: half the time limit at most (bench/imports.py: 2,000 CSV rows in ~0.15 of it, 2,000 FHIR questionnaires in
#: ~0.5: fhir.resources' validation is most of that)
WEB_LIMITS = Limits(max_bytes=2 * 1024 * 1024, max_rows=2_000, seconds=5.0)
#: `flask import`, for a migration: a shell waits, no server process does
CLI_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_rows=50_000, seconds=300.0)
MAX_BYTES, MAX_ROWS, MAX_SECONDS = WEB_LIMITS.max_bytes, WEB_LIMITS.max_rows, WEB_LIMITS.seconds
#: how deep a FHIR JSON document may nest (a Bundle of QuestionnaireResponses nests about 10 deep)
MAX_JSON_DEPTH = 32
#: refusals listed per file: past this the report says how many more there were
MAX_REFUSALS = 500


@dataclass(frozen=True)
class Refusal:
    """Why one row of a file is not imported: where it is, which field, what is wrong."""
    row: str       #: "row 4" (CSV, counting the header as row 1), "entry 3" (Bundle), "line 7" (NDJSON)
    field: str     #: the CSV column or the FHIR element ("birthDate", "item[2].answer")
    problem: str


class FileRefused(Exception):
    """The file as a whole is not read (too large, not UTF-8, not CSV or FHIR JSON, over the time limit);
    the message names the file and the problem."""

    def __init__(self, filename: str, problem: str):
        super().__init__(f"{filename}: {problem}")
        self.filename, self.problem = filename, problem


@dataclass
class Budget:
    """Work one file may cost: rows and wall time."""
    filename: str
    max_rows: int = MAX_ROWS
    seconds: float = MAX_SECONDS
    deadline: float = field(default=0.0)
    rows: int = 0

    def __post_init__(self):
        self.deadline = clock.monotonic() + self.seconds

    def spend_row(self) -> None:
        self.rows += 1
        if self.rows > self.max_rows:
            raise FileRefused(self.filename, f"has more than {self.max_rows:,} rows, the limit for one file: "
                                             "split it into smaller files.")
        if clock.monotonic() > self.deadline:
            raise FileRefused(self.filename, f"took longer than {self.seconds:g} s to read (the limit): split it "
                                             "into smaller files.")


@dataclass
class Read:
    """What a file gave: the candidates of the rows that passed, and the refusals of those that did not."""
    filename: str
    candidates: list = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    rows: int = 0
    #: rows refused, counted even past MAX_REFUSALS listed
    refused_rows: int = 0
    #: resources that are not rows of this import (a Bundle's Patients in a measures file), by kind
    ignored: dict[str, int] = field(default_factory=dict)

    def refuse(self, refusals: list[Refusal]) -> None:
        self.refused_rows += 1
        if len(self.refusals) < MAX_REFUSALS:
            self.refusals.extend(refusals)


def decode(filename: str, data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """The file's text: UTF-8, a byte-order mark tolerated (spreadsheets write one); FileRefused."""
    if len(data) > max_bytes:
        raise FileRefused(filename, f"is larger than {max_bytes // (1024 * 1024)} MB, the limit: split it into "
                                    "smaller files.")
    if not data.strip():
        raise FileRefused(filename, "is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileRefused(filename, f"is not UTF-8 text (byte {err.start + 1}): save it as UTF-8 and upload it "
                                    "again.") from None


def csv_rows(filename: str, text: str, header: tuple[str, ...], required: tuple[str, ...],
             budget: Budget) -> Iterator[tuple[str, dict[str, str]]]:
    """("row N", {column: value}) for each data line of a CSV file whose header names only `header`'s
    columns and every `required` one; FileRefused for a header that does not."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        found = [name.strip().lower() for name in next(reader)]
        unknown = [name for name in found if name not in header]
        if unknown:
            raise FileRefused(filename, f"row 1 (the header) names unknown column(s) {', '.join(unknown)[:200]}; "
                                        f"the columns are: {', '.join(header)}.")
        missing = [name for name in required if name not in found]
        if missing:
            raise FileRefused(filename, f"row 1 (the header) lacks the column(s) {', '.join(missing)}.")
        if len(set(found)) != len(found):
            raise FileRefused(filename, "row 1 (the header) names a column twice.")
        for values in reader:
            budget.spend_row()
            where = f"row {reader.line_num}"
            if not any(v.strip() for v in values):
                continue  # a blank line a spreadsheet left at the end
            if len(values) != len(found):
                yield where, {"": f"has {len(values)} values; the header has {len(found)} columns."}
                continue
            yield where, dict(zip(found, values))
    except csv.Error as err:
        raise FileRefused(filename, f"row {reader.line_num} is not valid CSV ({err}).") from None


def _depth_ok(text: str) -> bool:
    """Whether no JSON value nests deeper than MAX_JSON_DEPTH (counted over brackets outside strings)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def fhir_resources(filename: str, text: str, budget: Budget) -> Iterator[tuple[str, Any]]:
    """("entry N" or "line N", resource dict) for each resource of a FHIR JSON Bundle, a single resource,
    or NDJSON (one resource a line); FileRefused for text that is none of these."""
    if not _depth_ok(text):
        raise FileRefused(filename, f"nests JSON deeper than {MAX_JSON_DEPTH} levels (the limit).")
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        raise FileRefused(filename, "is not FHIR JSON: it should start with '{' (a Bundle, a resource, or NDJSON).")
    try:
        document = _load(stripped)
    except json.JSONDecodeError:
        yield from _ndjson(filename, stripped, budget)
        return
    except _RepeatedKey as err:
        raise FileRefused(filename, f"gives the key \"{str(err)[:80]}\" twice in one object: a reader could take "
                                    "either value, so the file is not read.") from None
    except ValueError as err:  # a number of more than 4,300 digits (Python's own limit on reading one)
        raise FileRefused(filename, f"holds a number too long to read ({_first_words(err)}).") from None
    if not isinstance(document, dict):
        raise FileRefused(filename, "is not a FHIR resource.")
    if document.get("resourceType") != "Bundle":
        budget.spend_row()
        yield "resource 1", document
        return
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise FileRefused(filename, "Bundle.entry is not a list.")
    for n, entry in enumerate(entries, 1):
        budget.spend_row()
        yield f"entry {n}", entry.get("resource") if isinstance(entry, dict) else None


def _ndjson(filename: str, text: str, budget: Budget) -> Iterator[tuple[str, Any]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        budget.spend_row()
        try:
            resource = _load(line)
        except _RepeatedKey as err:
            raise FileRefused(filename, f"line {n} gives the key \"{str(err)[:80]}\" twice in one object: a "
                                        "reader could take either value, so the file is not read.") from None
        except json.JSONDecodeError as err:
            raise FileRefused(filename, f"line {n} is not JSON ({err.msg}, column {err.colno}): the file is "
                                        "neither a FHIR Bundle nor NDJSON.") from None
        except ValueError as err:
            raise FileRefused(filename, f"line {n} holds a number too long to read ({_first_words(err)}).") from None
        yield f"line {n}", resource


class _RepeatedKey(ValueError):
    """A JSON object naming a key twice (the key is the message)."""


def _object_once(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object whose keys are each given once. Readers differ on a repeated key (Python keeps the
    last, others the first): {"status": "entered-in-error", "status": "completed"} would be imported here
    and read as voided elsewhere, so a file holding one is refused instead of guessed at."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def _load(text: str):
    return json.loads(text, object_pairs_hook=_object_once)


def _first_words(err: Exception) -> str:
    return str(err).split(":")[0][:80]


def read_rows(read: Read, rows: Iterator[tuple[str, Any]], reader: Callable[[str, Any], Any]) -> Read:
    """Hand each row to `reader`, which returns a candidate or raises RowRefused; collect both."""
    for where, row in rows:
        try:
            candidate = reader(where, row)
        except NotARow as skipped:
            read.ignored[str(skipped)] = read.ignored.get(str(skipped), 0) + 1
            continue
        except RowRefused as err:
            read.rows += 1
            read.refuse(err.refusals)
            continue
        read.rows += 1
        read.candidates.append(candidate)
    return read


class NotARow(Exception):
    """A resource the import does not read as a row (its kind is the message): counted, not refused."""


class RowRefused(Exception):
    """One row refused, with one refusal per field at fault."""

    def __init__(self, refusals: list[Refusal]):
        super().__init__("; ".join(f"{r.row} {r.field}: {r.problem}" for r in refusals))
        self.refusals = refusals


def pydantic_refusals(where: str, error) -> list[Refusal]:
    """A fhir.resources (pydantic) ValidationError as refusals, one per element at fault."""
    refusals = []
    for problem in error.errors()[:10]:
        location = ".".join(str(part) for part in problem.get("loc", ()) if part != "__root__") or "resource"
        message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
        refusals.append(Refusal(where, location, message[:200]))
    return refusals
