"""The protocol library: every file in protocols/, parsed and checked, usable or not.

A broken file never stops the clinic: it is listed as invalid, with its problems, and cannot
be chosen for a new course. Running courses never read files at all: they use the snapshot
they were started on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data_files import DataFileRefused, read_data_text
from .protocols import Protocol, ProtocolError, content_hash, validate_definition
from .yaml_shape import LOADER, yaml_files, yaml_shape_problem

#: a protocol file larger than this is refused unread (they are a few kilobytes)
MAX_FILE_BYTES = 256 * 1024
#: values (scalars, lists, mappings) in one file, and how deeply they nest (a protocol has a few
#: hundred values, four levels deep)
MAX_YAML_NODES = 20_000
MAX_YAML_DEPTH = 20
_LOADER = LOADER


@dataclass(frozen=True)
class LibraryEntry:
    """One protocol file: its protocol when valid, otherwise the problems found."""

    path: Path
    protocol: Protocol | None = None
    content_hash: str | None = None
    definition: dict | None = None
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.protocol is not None and not self.problems


def read_protocol_file(path: Path) -> tuple[Protocol, dict]:
    """Parse and validate one file: (protocol, the mapping it came from) or ProtocolError."""
    source = path.name
    try:
        text = read_data_text(path, MAX_FILE_BYTES)
    except DataFileRefused as refused:
        raise ProtocolError(source, [("(file)", str(refused))]) from None
    try:
        _check_yaml_shape(text, source)
        data = load_yaml(text)
    except yaml.YAMLError as err:
        raise ProtocolError(source, [yaml_error_problem(err)]) from None
    return validate_definition(data, source), data


def _check_yaml_shape(text: str, source: str) -> None:
    problem = yaml_shape_problem(text, max_nodes=MAX_YAML_NODES, max_depth=MAX_YAML_DEPTH)
    if problem is not None:
        raise ProtocolError(source, [problem])


def load_yaml(text: str):
    """The parsed text, with the safe loader (call yaml_shape_problem first: domain/yaml_shape.py)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)


def yaml_error_problem(err: yaml.YAMLError) -> tuple[str, str]:
    """(where, problem) of a YAML syntax error: its line and column when the parser knows them."""
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
    problem = getattr(err, "problem", None) or str(err)
    return where, f"is not valid YAML: {problem}"


def load_entry(path: Path) -> LibraryEntry:
    try:
        protocol, data = read_protocol_file(path)
    except ProtocolError as err:
        return LibraryEntry(path=path, problems=tuple(err.lines()))
    return LibraryEntry(path=path, protocol=protocol, content_hash=content_hash(data), definition=data)


@dataclass
class ProtocolLibrary:
    entries: list[LibraryEntry] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> ProtocolLibrary:
        """Every *.yaml / *.yml file directly in `directory`."""
        return cls.from_paths(yaml_files(directory))

    @classmethod
    def from_paths(cls, paths) -> ProtocolLibrary:
        return cls(entries=_refuse_duplicates([load_entry(Path(p)) for p in paths]))

    def valid_entries(self) -> list[LibraryEntry]:
        return [e for e in self.entries if e.valid]

    def find(self, protocol_id: str, version: int) -> LibraryEntry | None:
        for entry in self.valid_entries():
            if entry.protocol.key == (protocol_id, version):
                return entry
        return None

    def newest(self) -> list[LibraryEntry]:
        """The newest valid version of each protocol: what a new course may start on."""
        best: dict[str, LibraryEntry] = {}
        for entry in self.valid_entries():
            current = best.get(entry.protocol.id)
            if current is None or entry.protocol.version > current.protocol.version:
                best[entry.protocol.id] = entry
        return sorted(best.values(), key=lambda e: e.protocol.name)


def _refuse_duplicates(entries: list[LibraryEntry]) -> list[LibraryEntry]:
    """Two files claiming the same id and version are both unusable: which one is meant?"""
    seen: dict[tuple[str, int], list[LibraryEntry]] = {}
    for entry in entries:
        if entry.valid:
            seen.setdefault(entry.protocol.key, []).append(entry)
    clashing = {id(e): others for others in seen.values() if len(others) > 1 for e in others}
    result = []
    for entry in entries:
        others = clashing.get(id(entry))
        if others:
            names = ", ".join(o.path.name for o in others if o is not entry)
            problem = (f"{entry.path.name}: version: {entry.protocol.id} version "
                       f"{entry.protocol.version} is also defined in {names}")
            entry = LibraryEntry(path=entry.path, protocol=entry.protocol,
                                 content_hash=entry.content_hash, definition=entry.definition,
                                 problems=(problem,))
        result.append(entry)
    return result
