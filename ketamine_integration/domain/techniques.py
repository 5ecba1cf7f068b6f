"""The technique vocabulary: clusters of therapy techniques, each with a one-line description, read
from the clinic's vocabulary files (vocabularies/*.yaml) and checked before anything uses them.

The shipped file holds the clusters of the clinical frameworks (shared/FRAMEWORKS.md, "Technique
clusters"); a clinic adds files with more clusters, or more techniques in a cluster another file
defines, and never redefines a key. A broken file is left out with its problems (file, field path,
problem) and the rest stays usable, as with the protocol library (domain/protocol_library.py,
whose parsing limits apply here too: size, values, depth, no aliases, before any object is built).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data_files import DataFileRefused, read_data_text
from .protocol_library import load_yaml, yaml_error_problem, yaml_shape_problem
from .yaml_shape import yaml_files

KIND = "techniques"
#: the shipped file: read first, so a clinic's file that repeats one of its keys is the one refused
SHIPPED_FILE = "techniques.yaml"
#: a vocabulary file larger than this is refused unread (the shipped one is about 6 kB)
MAX_FILE_BYTES = 128 * 1024
#: values in one file and how deeply they nest (the shipped file: ~170 values, 5 levels)
MAX_YAML_NODES = 5_000
MAX_YAML_DEPTH = 8
#: records store the key in String(60) and the name in String(120) (notes.techniques)
MAX_KEY, MAX_NAME, MAX_CLUSTER_NAME, MAX_DESCRIPTION = 60, 120, 80, 200
KEY_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
TOP_KEYS, CLUSTER_KEYS, TECHNIQUE_KEYS = {"vocabulary", "version", "clusters"}, {"key", "name", "techniques"}, \
    {"key", "name", "description"}


@dataclass(frozen=True)
class Technique:
    key: str
    name: str
    #: the key of its cluster
    cluster: str
    description: str
    #: the file that defines it
    source: str = ""


@dataclass(frozen=True)
class Cluster:
    key: str
    name: str
    techniques: tuple[Technique, ...]
    #: the file that names it
    source: str = ""


@dataclass(frozen=True)
class Vocabulary:
    #: the usable files and their versions, e.g. "techniques v1 + clinic-extras v2"
    version: str
    clusters: tuple[Cluster, ...]

    def get(self, key: str) -> Technique | None:
        return next((t for c in self.clusters for t in c.techniques if t.key == key), None)

    def grouped_choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """[(cluster name, [(technique key, technique name), ...])], for a select with <optgroup>s."""
        return [(c.name, [(t.key, t.name) for t in c.techniques]) for c in self.clusters if c.techniques]

    @property
    def techniques(self) -> tuple[Technique, ...]:
        return tuple(t for c in self.clusters for t in c.techniques)


@dataclass(frozen=True)
class VocabularyFile:
    """One file as read: its version when it is usable, else the problems found ("file: path: problem")."""

    path: Path
    version: int | None = None
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class VocabularyLibrary:
    """The vocabulary built from the usable files, and every file with its problems."""

    vocabulary: Vocabulary
    files: tuple[VocabularyFile, ...] = field(default=())

    @property
    def broken(self) -> tuple[VocabularyFile, ...]:
        return tuple(f for f in self.files if not f.valid)


class _FileProblems(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems


# -- one file ---------------------------------------------------------------------------------

def read_file(path: Path) -> dict:
    """The file's mapping, parsed within the limits, or _FileProblems naming where it failed."""
    try:
        text = read_data_text(path, MAX_FILE_BYTES)
    except DataFileRefused as refused:
        raise _FileProblems([("(file)", str(refused))]) from None
    try:
        shape = yaml_shape_problem(text, max_nodes=MAX_YAML_NODES, max_depth=MAX_YAML_DEPTH)
        if shape is not None:
            raise _FileProblems([shape])
        return load_yaml(text)
    except yaml.YAMLError as err:
        raise _FileProblems([yaml_error_problem(err)]) from None


@dataclass
class _Parsed:
    version: int
    #: clusters this file names: (key, name, path)
    named: list[tuple[str, str, str]]
    #: techniques: (cluster key, key, name, description, path)
    techniques: list[tuple[str, str, str, str, str]]


def parse_definition(data) -> tuple[_Parsed | None, list[tuple[str, str]]]:
    """A file's content checked on its own: (what it defines, []) or (None, [(field path, problem)])."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return None, [("(top level)", "must be a mapping with vocabulary, version and clusters")]
    problems += [(str(k), "unknown key (not part of the vocabulary format; check the spelling)")
                 for k in data if k not in TOP_KEYS]
    if data.get("vocabulary") != KIND:
        problems.append(("vocabulary", f"must be '{KIND}' (this folder holds the technique vocabulary), "
                                       f"got {data.get('vocabulary')!r}"))
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(("version", "must be a whole number of at least 1"))
    clusters = data.get("clusters")
    parsed = _Parsed(version=version if isinstance(version, int) else 0, named=[], techniques=[])
    if not isinstance(clusters, list) or not clusters:
        problems.append(("clusters", "must be a list of at least one cluster"))
        clusters = []
    for i, cluster in enumerate(clusters):
        problems += _parse_cluster(cluster, f"clusters[{i}]", parsed)
    problems += _repeated_keys(parsed)
    return (None, problems) if problems else (parsed, [])


def _parse_cluster(cluster, where: str, parsed: _Parsed) -> list[tuple[str, str]]:
    if not isinstance(cluster, dict):
        return [(where, "must be a mapping with key, name (for a new cluster) and techniques")]
    problems = [(f"{where}.{k}", "unknown key (a cluster has key, name and techniques)")
                for k in cluster if k not in CLUSTER_KEYS]
    key = cluster.get("key")
    problems += _key_problems(key, f"{where}.key")
    if "name" in cluster:
        problems += _text_problems(cluster["name"], f"{where}.name", MAX_CLUSTER_NAME)
        if isinstance(key, str) and isinstance(cluster["name"], str):
            parsed.named.append((key, cluster["name"].strip(), f"{where}.key"))
    techniques = cluster.get("techniques")
    if not isinstance(techniques, list) or not techniques:
        return problems + [(f"{where}.techniques", "must be a list of at least one technique")]
    for j, technique in enumerate(techniques):
        problems += _parse_technique(technique, f"{where}.techniques[{j}]", key, parsed)
    return problems


def _parse_technique(technique, where: str, cluster_key, parsed: _Parsed) -> list[tuple[str, str]]:
    if not isinstance(technique, dict):
        return [(where, "must be a mapping with key, name and description")]
    problems = [(f"{where}.{k}", "unknown key (a technique has key, name and description)")
                for k in technique if k not in TECHNIQUE_KEYS]
    problems += _key_problems(technique.get("key"), f"{where}.key")
    problems += _text_problems(technique.get("name"), f"{where}.name", MAX_NAME)
    problems += _text_problems(technique.get("description"), f"{where}.description", MAX_DESCRIPTION)
    if not problems and isinstance(cluster_key, str):
        parsed.techniques.append((cluster_key, technique["key"], technique["name"].strip(),
                                  technique["description"].strip(), f"{where}.key"))
    return problems


def _key_problems(key, where: str) -> list[tuple[str, str]]:
    if key is None:
        return [(where, "required key is missing")]
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        return [(where, f"{key!r}: use lower-case letters, digits and single dashes, e.g. behavioural-activation")]
    if len(key) > MAX_KEY:
        return [(where, f"is {len(key)} characters long; the limit is {MAX_KEY}")]
    return []


def _text_problems(value, where: str, limit: int) -> list[tuple[str, str]]:
    if value is None:
        return [(where, "required key is missing")]
    if not isinstance(value, str) or not value.strip():
        return [(where, "must be text (not blank)")]
    if "\n" in value.strip():
        return [(where, "must be one line")]
    if len(value.strip()) > limit:
        return [(where, f"is {len(value.strip())} characters long; the limit is {limit}")]
    return []


def _repeated_keys(parsed: _Parsed) -> list[tuple[str, str]]:
    """Within one file: a technique key twice, or a cluster named twice."""
    problems, seen, named = [], set(), set()
    for _cluster, key, _name, _description, where in parsed.techniques:
        if key in seen:
            problems.append((where, f"{key!r} is defined twice in this file"))
        seen.add(key)
    for key, _name, where in parsed.named:
        if key in named:
            problems.append((where, f"cluster {key!r} is named twice in this file"))
        named.add(key)
    return problems


# -- the folder -------------------------------------------------------------------------------

def file_order(paths) -> list[Path]:
    """The shipped file first, then the clinic's files by name (the first to define a key keeps it)."""
    return sorted((Path(p) for p in paths), key=lambda p: (p.name != SHIPPED_FILE, p.name))


def load_folder(directory: Path) -> VocabularyLibrary:
    """Every *.yaml / *.yml file directly in `directory`."""
    return build(yaml_files(directory))


def build(paths) -> VocabularyLibrary:
    """The vocabulary of the usable files; each other file with its problems. Files are taken in
    order (file_order), each checked on its own and then against the files taken before it: one
    that names a cluster already named, redefines a technique key, or adds to a cluster neither it
    nor an earlier usable file names, is left out whole (half a file is a vocabulary nobody wrote)."""
    clusters: dict[str, tuple[str, str]] = {}   # key -> (name, file)
    defined: dict[str, str] = {}                # technique key -> file
    techniques: list[Technique] = []
    files = []
    for path in file_order(paths):
        try:
            definition, found = parse_definition(read_file(path))
        except _FileProblems as err:
            definition, found = None, err.problems
        if definition is not None:
            found = _conflicts(definition, clusters, defined)
        if found:
            files.append(VocabularyFile(path=path, problems=tuple(f"{path.name}: {w}: {m}" for w, m in found)))
            continue
        clusters.update({key: (name, path.name) for key, name, _where in definition.named})
        for cluster, key, name, description, _where in definition.techniques:
            defined[key] = path.name
            techniques.append(Technique(key=key, name=name, cluster=cluster, description=description,
                                        source=path.name))
        files.append(VocabularyFile(path=path, version=definition.version))
    built = tuple(Cluster(key=key, name=name, source=source,
                          techniques=tuple(t for t in techniques if t.cluster == key))
                  for key, (name, source) in clusters.items())
    version = " + ".join(f"{f.path.stem} v{f.version}" for f in files if f.valid)
    return VocabularyLibrary(vocabulary=Vocabulary(version=version, clusters=built), files=tuple(files))


def _conflicts(definition: _Parsed, clusters: dict[str, tuple[str, str]],
               defined: dict[str, str]) -> list[tuple[str, str]]:
    """What a file, usable on its own, breaks in the vocabulary of the files before it."""
    problems = [(where, f"cluster {key!r} is already named in {clusters[key][1]}; leave out its name to add "
                        "techniques to it") for key, _name, where in definition.named if key in clusters]
    own = {key for key, _name, _where in definition.named}
    for cluster, key, _name, _description, where in definition.techniques:
        if cluster not in clusters and cluster not in own:
            problems.append((where.rsplit(".techniques", 1)[0] + ".key",
                             f"unknown cluster {cluster!r}: no earlier usable file names it (give it a name "
                             "to define it here)"))
        if key in defined:
            problems.append((where, f"{key!r} is already defined in {defined[key]}; a key is never redefined"))
    return list(dict.fromkeys(problems))
