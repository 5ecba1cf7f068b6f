"""The technique vocabulary (issue 24, point 2): the shipped file, how a clinic extends it, and every
problem a file can have, named by file, field path and problem; hostile files are refused before
any object is built."""
import time
from pathlib import Path

import pytest
import yaml

from ketamine_integration.domain import techniques
from ketamine_integration.domain.techniques import build, load_folder

SHIPPED = Path(__file__).resolve().parents[2] / "vocabularies"
FRAMEWORK_CLUSTERS = ["Alliance-building", "Cognitive and behavioural", "Emotion-focused and experiential",
                      "Psychodynamic and attachment-informed", "Mindfulness, somatic, nervous system",
                      "Interpersonal and systems"]


def write(directory: Path, name: str, data) -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def extras(**cluster) -> dict:
    """A clinic's file with one cluster (by default a new one with one technique)."""
    base = {"key": "creative", "name": "Creative and expressive",
            "techniques": [{"key": "art-response", "name": "Art response",
                            "description": "Drawing or painting what the dosing session left behind."}]}
    return {"vocabulary": "techniques", "version": 2, "clusters": [{**base, **cluster}]}


def test_the_shipped_vocabulary_is_the_frameworks_clusters():
    library = load_folder(SHIPPED)
    assert library.broken == ()
    vocabulary = library.vocabulary
    assert [c.name for c in vocabulary.clusters] == FRAMEWORK_CLUSTERS
    assert vocabulary.version == "techniques v1"
    activation = vocabulary.get("behavioural-activation")
    assert (activation.name, activation.cluster, activation.source) == \
        ("Behavioural activation", "cognitive-behavioural", "techniques.yaml")
    assert activation.description and vocabulary.get("astrology") is None
    groups = vocabulary.grouped_choices()
    assert [name for name, _ in groups] == FRAMEWORK_CLUSTERS
    assert ("rupture-repair", "Rupture repair") in groups[0][1]
    # every technique of FRAMEWORKS.md's table, with a one-line description
    assert len(vocabulary.techniques) == 26
    assert all(t.description and "\n" not in t.description for t in vocabulary.techniques)


def test_a_clinic_adds_a_cluster_and_techniques_to_an_existing_one(tmp_path):
    write(tmp_path, "techniques.yaml", (SHIPPED / "techniques.yaml").read_text())
    write(tmp_path, "clinic-extras.yaml", {"vocabulary": "techniques", "version": 3, "clusters": [
        extras()["clusters"][0],
        {"key": "alliance-building", "techniques": [
            {"key": "session-rating", "name": "Session rating", "description": "A short rating of each session."}]}]})
    library = load_folder(tmp_path)
    assert library.broken == ()
    vocabulary = library.vocabulary
    assert vocabulary.version == "techniques v1 + clinic-extras v3"
    assert vocabulary.get("session-rating").cluster == "alliance-building"
    assert vocabulary.get("session-rating").source == "clinic-extras.yaml"
    assert [name for name, _ in vocabulary.grouped_choices()][-1] == "Creative and expressive"
    assert vocabulary.grouped_choices()[0][1][-1] == ("session-rating", "Session rating")


@pytest.mark.parametrize("extra, expected", [
    # the shipped key again, in a clinic's file
    (extras(techniques=[{"key": "chair-work", "name": "Chair work (ours)", "description": "Ours."}]),
     "clinic.yaml: clusters[0].techniques[0].key: 'chair-work' is already defined in techniques.yaml; "
     "a key is never redefined"),
    # adding to a cluster nobody names
    (extras(key="spiritual", name=None),
     "clinic.yaml: clusters[0].key: unknown cluster 'spiritual'"),
    # a cluster named again
    (extras(key="alliance-building", name="Alliance"),
     "clinic.yaml: clusters[0].key: cluster 'alliance-building' is already named in techniques.yaml"),
    # no description
    (extras(techniques=[{"key": "art-response", "name": "Art response"}]),
     "clinic.yaml: clusters[0].techniques[0].description: required key is missing"),
    # a name longer than a record keeps
    (extras(techniques=[{"key": "art-response", "name": "A" * 121, "description": "Drawing."}]),
     "clinic.yaml: clusters[0].techniques[0].name: is 121 characters long; the limit is 120"),
    # a description over one line's worth
    (extras(techniques=[{"key": "art-response", "name": "Art", "description": "word " * 50}]),
     "clinic.yaml: clusters[0].techniques[0].description: is 249 characters long; the limit is 200"),
    # a key with capitals and spaces
    (extras(techniques=[{"key": "Art Response", "name": "Art", "description": "Drawing."}]),
     "clinic.yaml: clusters[0].techniques[0].key: 'Art Response': use lower-case letters, digits and single dashes"),
    # a key too long for the records' column
    (extras(techniques=[{"key": "a" * 61, "name": "Art", "description": "Drawing."}]),
     "clinic.yaml: clusters[0].techniques[0].key: is 61 characters long; the limit is 60"),
    # another kind of vocabulary
    ({**extras(), "vocabulary": "practices"},
     "clinic.yaml: vocabulary: must be 'techniques' (this folder holds the technique vocabulary), got 'practices'"),
    # a version that is not a whole number
    ({**extras(), "version": "2"}, "clinic.yaml: version: must be a whole number of at least 1"),
    # a misspelt key
    (extras(technique=[]), "clinic.yaml: clusters[0].technique: unknown key"),
    # YAML that does not parse, with its line
    ("vocabulary: techniques\nversion: 1\nclusters: [\n  - key: x\n", "clinic.yaml: line 4, column 3: is not valid YAML"),
    # not a mapping at all
    ("- just\n- a list\n", "clinic.yaml: (top level): must be a mapping"),
])
def test_a_broken_file_is_named_with_its_field_and_left_out_while_the_rest_stays(tmp_path, extra, expected):
    write(tmp_path, "techniques.yaml", (SHIPPED / "techniques.yaml").read_text())
    if isinstance(extra, dict) and extra["clusters"][0].get("name", "") is None:
        del extra["clusters"][0]["name"]
    write(tmp_path, "clinic.yaml", extra)
    library = load_folder(tmp_path)
    [broken] = library.broken
    assert broken.path.name == "clinic.yaml"
    assert any(line.startswith(expected) for line in broken.problems), broken.problems
    # the shipped file stays usable, and nothing of the broken one is in the vocabulary
    assert library.vocabulary.version == "techniques v1" and len(library.vocabulary.techniques) == 26
    assert library.vocabulary.get("art-response") is None


def test_the_same_key_twice_in_one_file_is_refused(tmp_path):
    technique = {"key": "art-response", "name": "Art", "description": "Drawing."}
    write(tmp_path, "one.yaml", extras(techniques=[technique, dict(technique)]))
    [broken] = build([tmp_path / "one.yaml"]).broken
    assert broken.problems == ("one.yaml: clusters[0].techniques[1].key: 'art-response' is defined twice in this file",)


@pytest.mark.parametrize("text, problem", [
    # a "billion laughs": nine levels of ten aliases; refused at the first alias, before loading
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8)),
     "uses a YAML alias"),
    # nesting deeper than any vocabulary needs
    ("clusters: " + "[" * 50 + "]" * 50 + "\n", "nests deeper than 8 levels"),
    # more values than any vocabulary holds
    ("clusters:\n" + "".join(f"  - k{i}\n" for i in range(6000)), "has more than 5,000 values"),
])
def test_hostile_yaml_is_refused_quickly(tmp_path, text, problem):
    write(tmp_path, "hostile.yaml", text)
    started = time.perf_counter()
    [broken] = build([tmp_path / "hostile.yaml"]).broken
    assert time.perf_counter() - started < 2
    # named by the field it starts in, and its line
    assert problem in broken.problems[0] and broken.problems[0].startswith("hostile.yaml: ")
    assert "line " in broken.problems[0]


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (techniques.MAX_FILE_BYTES + 10))
    [broken] = build([path]).broken
    assert broken.problems[0].startswith("huge.yaml: (file): is ") and "the limit is 131,072" in broken.problems[0]


def test_the_shipped_file_is_read_first_whatever_the_names(tmp_path):
    """A clinic's file sorted before techniques.yaml that repeats a shipped key is the one refused."""
    write(tmp_path, "techniques.yaml", (SHIPPED / "techniques.yaml").read_text())
    write(tmp_path, "a-first.yaml", extras(techniques=[{"key": "body-scan", "name": "Ours", "description": "Ours."}]))
    library = load_folder(tmp_path)
    assert [f.path.name for f in library.broken] == ["a-first.yaml"]
    assert library.vocabulary.get("body-scan").name == "Body scan"
