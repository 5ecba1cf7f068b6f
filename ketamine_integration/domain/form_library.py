"""The form library: every file in forms/, read within limits, checked, usable or not.

As with the protocol library (domain/protocol_library.py), a broken file never stops the clinic: it
is listed with its problems and offered to nobody. Each problem is "file:line field: message", the
line found from the field path (domain/yaml_shape.field_lines), so the author goes straight to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import re

import yaml

from .data_files import DataFileRefused, read_data_text
from .form_definitions import FormDefinition, parse_definition
from .protocol_library import load_yaml, yaml_error_problem
from .yaml_shape import field_lines, line_of, yaml_files, yaml_shape_problem

#: a form file larger than this is refused unread (the shipped ones are 3-9 kB)
MAX_FILE_BYTES = 128 * 1024
#: values in one file and how deeply they nest (the intake form: ~300 values, 7 levels)
MAX_YAML_NODES = 5_000
MAX_YAML_DEPTH = 10
#: where the YAML checks place a problem: "field (line 3, column 5)" or "line 3, column 5"
_MARK = re.compile(r"(?:(?P<field>.+) \()?line (?P<line>\d+), column \d+\)?")


@dataclass(frozen=True)
class FormFile:
    """One file as read: its form when usable, else its problems ("file:line field: message")."""

    path: Path
    form: FormDefinition | None = None
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.form is not None and not self.problems


@dataclass(frozen=True)
class FormLibrary:
    """The files of forms/ as read. It never changes once built (the app reads a new one when a file does), so
    what is worked out from it (the usable forms, the newest of each, who countersigns what) is worked out
    once, on first use, and kept with it: the packet status and the menu's badge ask on every request."""

    files: tuple[FormFile, ...] = field(default=())

    @property
    def broken(self) -> tuple[FormFile, ...]:
        return tuple(f for f in self.files if not f.valid)

    @cached_property
    def forms(self) -> tuple[FormDefinition, ...]:
        return tuple(f.form for f in self.files if f.valid)

    @cached_property
    def _by_key(self) -> dict[tuple[str, int], FormDefinition]:
        found: dict[tuple[str, int], FormDefinition] = {}
        for form in self.forms:
            found.setdefault(form.key, form)
        return found

    def find(self, form_id: str, version: int) -> FormDefinition | None:
        return self._by_key.get((form_id, version))

    @cached_property
    def _newest(self) -> tuple[FormDefinition, ...]:
        best: dict[str, FormDefinition] = {}
        for form in self.forms:
            if form.id not in best or form.version > best[form.id].version:
                best[form.id] = form
        return tuple(sorted(best.values(), key=lambda f: (f.kind != "consent", f.title)))

    def newest(self) -> list[FormDefinition]:
        """The newest usable version of each form, consents first, then by title."""
        return list(self._newest)

    def countersigned_by(self, role: str) -> Countersigned:
        """The forms whose file asks `role` to countersign (domain.form_definitions.COUNTERSIGNERS)."""
        return self._countersigned.get(role, Countersigned())

    @cached_property
    def _countersigned(self) -> dict[str, Countersigned]:
        roles = {f.countersign for f in self.forms if f.countersign is not None}
        return {role: self._asking(role) for role in roles}

    def _asking(self, role: str) -> Countersigned:
        fallback = tuple(sorted(f.id for f in self._newest if f.countersign == role))
        return Countersigned(versions=tuple(sorted(f.key for f in self.forms if f.countersign == role)),
                             newest_of=fallback,
                             known=tuple(sorted(f.key for f in self.forms if f.id in fallback)))


@dataclass(frozen=True)
class Countersigned:
    """Which signatures a role countersigns, by the form file of the signed version, else the form's newest."""

    #: (form id, version) of each file that asks the role
    versions: tuple[tuple[str, int], ...] = ()
    #: the forms whose newest file asks the role: it says for a signed version whose file is gone
    newest_of: tuple[str, ...] = ()
    #: (form id, version) of every file of those forms: a signed version among them has its own file to say
    known: tuple[tuple[str, int], ...] = ()


def read_file(path: Path) -> FormFile:
    """One file, parsed within the limits and checked; every problem named by line and field."""
    name = path.name
    try:
        text = read_data_text(path, MAX_FILE_BYTES)
    except DataFileRefused as refused:
        return _broken(path, [f"{name}: (file): {refused}"])
    try:
        shape = yaml_shape_problem(text, max_nodes=MAX_YAML_NODES, max_depth=MAX_YAML_DEPTH)
        if shape is not None:
            return _broken(path, [_at_mark(name, *shape)])
        data = load_yaml(text)
        lines = field_lines(text)
    except yaml.YAMLError as err:
        return _broken(path, [_at_mark(name, *yaml_error_problem(err))])
    form, problems = parse_definition(data)
    if problems:
        return _broken(path, [_located(name, lines, where, message) for where, message in problems])
    return FormFile(path=path, form=form)


def _located(name: str, lines: dict[str, int], where: str, message: str) -> str:
    line = line_of(lines, where)
    return f"{name}:{line} {where}: {message}" if line else f"{name}: {where}: {message}"


def _at_mark(name: str, where: str, message: str) -> str:
    """A problem the parser placed ("field (line 3, column 5)") in the check's form: file:line field."""
    found = _MARK.fullmatch(where)
    if found is None:
        return f"{name}: {where}: {message}"
    field_path = found["field"] or "(file)"
    return f"{name}:{found['line']} {field_path}: {message}"


def _broken(path: Path, problems: list[str]) -> FormFile:
    return FormFile(path=path, problems=tuple(problems))


def load_folder(directory: Path) -> FormLibrary:
    """Every *.yaml / *.yml file directly in `directory`, by name."""
    return build(yaml_files(directory))


def build(paths) -> FormLibrary:
    """The files read one by one; two usable files with the same form id and version are both
    refused (which is the one a patient signed?)."""
    files = [read_file(Path(p)) for p in paths]
    claims: dict[tuple[str, int], list[FormFile]] = {}
    for entry in files:
        if entry.valid:
            claims.setdefault(entry.form.key, []).append(entry)
    result = []
    for entry in files:
        others = [o.path.name for o in claims.get(entry.form.key, ()) if o is not entry] if entry.valid else []
        if others:
            entry = _broken(entry.path, [f"{entry.path.name}: version: {entry.form.id} version {entry.form.version} "
                                         f"is also defined in {', '.join(others)}; raise the version of the "
                                         "newer file"])
        result.append(entry)
    return FormLibrary(files=tuple(result))
