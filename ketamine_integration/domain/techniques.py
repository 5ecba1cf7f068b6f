"""The clinic's technique vocabulary, pure: clusters of techniques read from mappings (vocabularies/*.yaml).
A minimal version made by the treatment-plan branch; the vocabulary branch owns the full one."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping


@dataclass(frozen=True)
class Technique:
    key: str
    name: str
    cluster: str
    description: str


@dataclass(frozen=True)
class Cluster:
    key: str
    name: str
    techniques: tuple[Technique, ...]


@dataclass(frozen=True)
class Vocabulary:
    version: str
    clusters: tuple[Cluster, ...]

    def get(self, key: str) -> Technique | None:
        return next((t for c in self.clusters for t in c.techniques if t.key == key), None)

    def grouped_choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        return [(c.name, [(t.key, t.name) for t in c.techniques]) for c in self.clusters]


class VocabularyError(ValueError):
    """A vocabulary file is not one; the message names the field."""


def parse_vocabulary(files: list[tuple[str, Mapping]]) -> Vocabulary:
    """Several files (name, parsed mapping) as one vocabulary; a key may not be defined twice."""
    clusters: dict[str, Cluster] = {}
    seen: set[str] = set()
    versions = []
    for name, data in files:
        if not isinstance(data, Mapping) or data.get("vocabulary") != "techniques":
            raise VocabularyError(f"{name}: vocabulary: must be 'techniques'")
        if not isinstance(data.get("version"), int):
            raise VocabularyError(f"{name}: version: a whole number")
        versions.append(f"{name.rsplit('.', 1)[0]} v{data['version']}")
        for entry in data.get("clusters") or []:
            key, label = str(entry.get("key", "")), str(entry.get("name", ""))
            if not key or not label:
                raise VocabularyError(f"{name}: clusters: each needs a key and a name")
            techniques = _techniques(name, key, entry.get("techniques") or [], seen)
            before = clusters.get(key)
            clusters[key] = Cluster(key, before.name if before else label,
                                    (before.techniques if before else ()) + techniques)
    return Vocabulary(" + ".join(versions), tuple(clusters.values()))


def _techniques(name: str, cluster: str, items: list, seen: set[str]) -> tuple[Technique, ...]:
    techniques = []
    for item in items:
        technique = Technique(str(item.get("key", "")), str(item.get("name", "")), cluster,
                              str(item.get("description", "")))
        if not technique.key or not technique.name or len(technique.key) > 60 or len(technique.name) > 120:
            raise VocabularyError(f"{name}: clusters.{cluster}.techniques: each needs a key and a name")
        if technique.key in seen:
            raise VocabularyError(f"{name}: technique {technique.key} is defined twice")
        seen.add(technique.key)
        techniques.append(technique)
    return tuple(techniques)
