"""The shape check every data file of the app (protocols, vocabularies) passes before it is loaded.

It reads the parser's events, before any object is built, and names the first problem by its field
path (e.g. clusters[0].techniques[2].name) and line: an alias, an oversized tree, a key given twice
in one mapping (YAML keeps the last silently, so a file would mean something its author did not
see), a control character in any text (NUL is refused by PostgreSQL text columns, the others are
invisible on a page), and a number too long to be a number (Python refuses to convert an integer of
over 4,300 digits, so loading it would raise instead of reporting).
"""
from __future__ import annotations

import errno
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

#: libyaml's parser when installed (the events pass is then C-speed too)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: the longest number a data file may hold, in characters (doses, days and versions are short)
MAX_NUMBER_CHARS = 30
#: text may hold tabs and line breaks; every other control character is refused
_ALLOWED_CONTROLS = {"\t", "\n"}
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_RESOLVER = yaml.resolver.Resolver()


@dataclass
class _Frame:
    """A list or mapping being read: its path, and where the reader is inside it."""

    path: str
    mapping: bool
    keys: set = field(default_factory=set)
    #: in a mapping, the key whose value comes next (None: a key comes next)
    key: str | None = None
    #: in a list, the index of the next item
    index: int = 0

    def child(self) -> str:
        if self.mapping:
            return f"{self.path}.{self.key}" if self.path else str(self.key)
        return f"{self.path}[{self.index}]"

    def advance(self) -> None:
        if self.mapping:
            self.key = None
        else:
            self.index += 1


def yaml_shape_problem(text: str, *, max_nodes: int, max_depth: int) -> tuple[str, str] | None:
    """(where, problem) for the first problem in the text's events, None for a text within the
    limits (YAML syntax errors are raised as yaml.YAMLError).

    An alias (*name) repeats a whole subtree by reference: nine levels of ten aliases each (a
    "billion laughs") load in a millisecond as shared lists, then cost hours and gigabytes to
    validate, hash or serialise. The app's data files spell every value out, so none is accepted.
    """
    stack: list[_Frame] = []
    nodes = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, yaml.AliasEvent):
            return where(event, stack), "uses a YAML alias (*name); write the value out"
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            stack.pop()
            if stack:
                stack[-1].advance()
            continue
        if not isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            continue
        nodes += 1
        if nodes > max_nodes:
            return where(event, stack), f"has more than {max_nodes:,} values (the limit)"
        problem = _node_problem(event, stack, max_depth)
        if problem is not None:
            return problem
    return None


def _node_problem(event, stack: list[_Frame], max_depth: int) -> tuple[str, str] | None:
    top = stack[-1] if stack else None
    if top is not None and top.mapping and top.key is None:
        return _key_problem(event, top)
    path = top.child() if top is not None else ""
    if isinstance(event, yaml.ScalarEvent):
        problem = scalar_problem(event)
        if problem is not None:
            return f"{path or '(top level)'} ({_line(event)})", problem
        if top is not None:
            top.advance()
        return None
    stack.append(_Frame(path=path, mapping=isinstance(event, yaml.MappingStartEvent)))
    if len(stack) > max_depth:
        return where(event, stack[:-1]), f"nests deeper than {max_depth} levels (the limit)"
    return None


def _key_problem(event, frame: _Frame) -> tuple[str, str] | None:
    """A mapping's key: plain text, given once."""
    at = f"{frame.path or '(top level)'} ({_line(event)})"
    if not isinstance(event, yaml.ScalarEvent):
        return at, "uses a list or mapping as a key; a key is a plain word"
    if _tag(event) == _MERGE_TAG:
        return at, "uses a YAML merge key (<<); write the values out"
    problem = scalar_problem(event)
    if problem is not None:
        return at, f"a key {problem}"
    if event.value in frame.keys:
        frame.key = event.value
        return f"{frame.child()} ({_line(event)})", \
            "is given twice in the same mapping (YAML would keep only the last); give each key once"
    frame.keys.add(event.value)
    frame.key = event.value
    return None


def scalar_problem(event) -> str | None:
    """What is wrong with one scalar's text: a control character, or a number too long."""
    value = event.value
    bad = next((c for c in value if c not in _ALLOWED_CONTROLS and unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        return f"holds a control character (U+{ord(bad):04X}); remove it"
    if len(value) > MAX_NUMBER_CHARS and _tag(event) in _NUMBER_TAGS:
        return f"is a number {len(value):,} characters long; the limit is {MAX_NUMBER_CHARS}"
    return None


def _tag(event) -> str:
    if event.tag not in (None, "!"):
        return event.tag
    return _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)


def where(event, stack: list[_Frame]) -> str:
    """The field path of the node `event` starts (within `stack`) and its line and column."""
    top = stack[-1] if stack else None
    if top is None:
        return _line(event)
    if top.mapping and top.key is None:
        return f"{top.path or '(top level)'} ({_line(event)})"
    return f"{top.child()} ({_line(event)})"


def _line(event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"


def field_lines(text: str) -> dict[str, int]:
    """Field path -> the line (1-based) its value starts on, for naming where a problem found in the
    loaded data lies (call yaml_shape_problem first: the node tree is then within the limits)."""
    lines: dict[str, int] = {}
    root = yaml.compose(text, Loader=LOADER)
    pending = [("", root)] if root is not None else []
    while pending:
        path, node = pending.pop()
        lines.setdefault(path or "(top level)", node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            pending += [(f"{path}.{key.value}" if path else str(key.value), value) for key, value in node.value]
            # a field's line is its key's (a list under `sections:` starts on the next line)
            lines.update({f"{path}.{key.value}" if path else str(key.value): key.start_mark.line + 1
                          for key, _value in node.value})
        elif isinstance(node, yaml.SequenceNode):
            pending += [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]
    return lines


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of `path`, or of its nearest enclosing field the file has (a missing key: its mapping)."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("(top level)")


#: the data files' suffixes (protocols, the technique vocabulary, forms), in any case
YAML_SUFFIXES = (".yaml", ".yml")


def yaml_entries(directory: Path) -> list[os.DirEntry]:
    """The data files directly in `directory` (*.yaml, *.yml, any case: "Intake.YAML" too) as one scandir
    lists them, by name; none when it is not a folder. Every entry but a folder is listed, a pipe, a
    device or a broken link too, so that reading it (domain/data_files.py) refuses it by name rather
    than leaving it out unseen. The data-file cache stamps these entries on every app context."""
    try:
        with os.scandir(directory) as entries:
            return sorted((e for e in entries if os.path.splitext(e.name)[1].lower() in YAML_SUFFIXES
                           and not e.is_dir()), key=lambda e: e.name)
    except OSError as error:
        if error.errno in _NOT_A_FOLDER:
            return []
        raise


#: what listing a path that is not a folder fails with (missing, a file, a link loop): no data files
_NOT_A_FOLDER = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def yaml_files(directory: Path) -> list[Path]:
    """yaml_entries' files as paths."""
    return [Path(entry.path) for entry in yaml_entries(directory)]
