"""The shape check shared by the protocol library and the technique vocabulary (domain/yaml_shape.py):
a hostile value is a file + field problem, and the other files stay usable."""
from pathlib import Path

import pytest

from ketamine_integration.domain.protocol_library import ProtocolLibrary
from ketamine_integration.domain.techniques import build, load_folder

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_VOCABULARY = (ROOT / "vocabularies" / "techniques.yaml").read_text()
CLINIC = "vocabulary: techniques\nversion: 2\nclusters:\n  - key: expressive\n    name: Expressive\n    techniques:\n"

VOCABULARY_CASES = [
    # an integer past Python's 4,300-digit conversion limit: loading it would raise ValueError
    ("vocabulary: techniques\nversion: " + "9" * 5000 + "\nclusters: []\n",
     "clinic.yaml: version (line 2, column 10): is a number 5,000 characters long; the limit is 30"),
    # the same with an explicit tag on a quoted value
    ("vocabulary: techniques\nversion: !!int \"" + "9" * 5000 + "\"\nclusters: []\n",
     "clinic.yaml: version (line 2, column 10): is a number 5,000 characters long"),
    # NUL inside a technique's name (PostgreSQL text refuses it when a plan stores the name)
    (CLINIC + '      - {key: art-response, name: "a\\0b", description: Drawing.}\n',
     "clinic.yaml: clusters[0].techniques[0].name (line 7, column 35): holds a control character (U+0000)"),
    # an escape control character in a cluster name
    (CLINIC.replace("name: Expressive", 'name: "Ex\\epressive"') + "      - {key: art, name: Art, description: D.}\n",
     "clinic.yaml: clusters[0].name (line 5, column 11): holds a control character (U+001B)"),
    # a key given twice in one flow mapping: YAML keeps the last silently
    (CLINIC + "      - {key: art-response, name: Art, description: Drawing., name: Other}\n",
     "clinic.yaml: clusters[0].techniques[0].name (line 7, column 63): is given twice in the same mapping"),
    # a top-level key given twice
    (CLINIC.replace("version: 2\n", "version: 2\nversion: 3\n") + "      - {key: art, name: Art, description: D.}\n",
     "clinic.yaml: version (line 3, column 1): is given twice in the same mapping"),
    # a merge key folds another mapping in, hiding keys from the reader
    (CLINIC + "      - {<<: {key: art}, name: Art, description: D.}\n",
     "clinic.yaml: clusters[0].techniques[0] (line 7, column 10): uses a YAML merge key (<<)"),
    # a list used as a key
    ("? [a, b]\n: c\n", "clinic.yaml: (top level) (line 1, column 3): uses a list or mapping as a key"),
]


@pytest.mark.parametrize("text, expected", VOCABULARY_CASES)
def test_a_hostile_value_in_a_vocabulary_file_is_a_file_and_field_problem(tmp_path, text, expected):
    (tmp_path / "techniques.yaml").write_text(SHIPPED_VOCABULARY)
    (tmp_path / "clinic.yaml").write_text(text)
    library = load_folder(tmp_path)
    [broken] = library.broken
    assert broken.problems[0].startswith(expected), broken.problems
    # the shipped file stays usable
    assert library.vocabulary.version == "techniques v1" and library.vocabulary.get("behavioural-activation")


def test_tabs_line_breaks_and_short_numbers_stay_allowed(tmp_path):
    (tmp_path / "clinic.yaml").write_text(CLINIC + "      - key: art-response\n        name: Art\n"
                                          "        description: \"Drawing,\\tthen talking.\"\n")
    library = build([tmp_path / "clinic.yaml"])
    assert not library.broken and library.vocabulary.get("art-response").description == "Drawing,\tthen talking."


@pytest.mark.parametrize("change, expected", [
    # a version past the integer digit limit
    (lambda text: text.replace("version: 3", "version: " + "7" * 4400, 1),
     "is a number 4,400 characters long; the limit is 30"),
    # the id given twice at the top: the second would silently win
    (lambda text: text.replace("version: 3", "version: 3\nversion: 4", 1), "version ("),
    # NUL in the protocol's name
    (lambda text: text.replace("name: ", 'name: "\\0"  # ', 1), "holds a control character (U+0000)"),
])
def test_a_hostile_value_in_a_protocol_file_is_named_and_the_others_stay_usable(tmp_path, change, expected):
    source = (ROOT / "protocols" / "iv-ketamine-induction.yaml").read_text()
    assert "version: 3" in source
    (tmp_path / "hostile.yaml").write_text(change(source))
    (tmp_path / "sublingual.yaml").write_text((ROOT / "protocols" / "sublingual-ketamine-kap.yaml").read_text())
    library = ProtocolLibrary.load(tmp_path)
    entries = {e.path.name: e for e in library.entries}
    assert not entries["hostile.yaml"].valid and expected in entries["hostile.yaml"].problems[0]
    assert entries["hostile.yaml"].problems[0].startswith("hostile.yaml: ")
    assert entries["sublingual.yaml"].valid
