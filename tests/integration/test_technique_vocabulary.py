"""`flask techniques check` and the vocabulary page (issue 24, point 2): broken files are named with
their field and problem, exit status 1; the page lists the clusters, techniques and files, and a
broken file with its problems while the rest stays usable, on the note form too."""
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import page_text
from tests.integration.test_notes import _start, make_team

SHIPPED = Path(__file__).resolve().parents[2] / "vocabularies"
BROKEN = {
    "duplicate.yaml": "vocabulary: techniques\nversion: 1\nclusters:\n  - key: alliance-building\n    techniques:\n"
                      "      - {key: rupture-repair, name: Repair, description: Ours.}\n",
    "unknown-cluster.yaml": "vocabulary: techniques\nversion: 1\nclusters:\n  - key: spiritual\n    techniques:\n"
                            "      - {key: prayer, name: Prayer, description: Ours.}\n",
    "no-description.yaml": "vocabulary: techniques\nversion: 1\nclusters:\n  - key: creative\n    name: Creative\n"
                           "    techniques:\n      - {key: art-response, name: Art response}\n",
    "wrong-kind.yaml": "vocabulary: practices\nversion: 1\nclusters:\n  - key: creative\n    name: Creative\n"
                       "    techniques:\n      - {key: drawing, name: Drawing, description: Ours.}\n",
    "bad-key.yaml": "vocabulary: techniques\nversion: 1\nclusters:\n  - key: creative2\n    name: Creative\n"
                    "    techniques:\n      - {key: Art_Response, name: Art, description: Ours.}\n",
    "syntax.yaml": "vocabulary: techniques\nversion: 1\nclusters:\n  - key: x\n   name: [unclosed\n",
}
EXPECTED = [
    "ERROR duplicate.yaml: clusters[0].techniques[0].key: 'rupture-repair' is already defined in techniques.yaml",
    "ERROR unknown-cluster.yaml: clusters[0].key: unknown cluster 'spiritual'",
    "ERROR no-description.yaml: clusters[0].techniques[0].description: required key is missing",
    "ERROR wrong-kind.yaml: vocabulary: must be 'techniques'",
    "ERROR bad-key.yaml: clusters[0].techniques[0].key: 'Art_Response': use lower-case letters",
    "ERROR syntax.yaml: line 5, column 4: is not valid YAML",
]


@pytest.fixture
def vocabulary_dir(app, tmp_path):
    """A private copy of the shipped vocabulary, with the broken files beside it."""
    directory = tmp_path / "vocabularies"
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("*.md"))
    for name, body in BROKEN.items():
        (directory / name).write_text(body)
    app.config["TECHNIQUES_DIR"] = str(directory)
    return directory


def test_the_check_names_each_broken_file_its_field_and_problem(app, vocabulary_dir):
    result = app.test_cli_runner().invoke(args=["techniques", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for expected in EXPECTED:
        assert any(line.startswith(expected) for line in lines), (expected, result.output)
    assert "ok    techniques.yaml: version 1, 26 techniques" in lines


def test_the_check_of_named_files_and_of_the_shipped_folder(app, vocabulary_dir):
    only = app.test_cli_runner().invoke(args=["techniques", "check", str(vocabulary_dir / "wrong-kind.yaml")])
    assert only.exit_code == 1 and only.output.startswith("ERROR wrong-kind.yaml: vocabulary: must be")
    shipped = app.test_cli_runner().invoke(args=["techniques", "check", str(SHIPPED / "techniques.yaml")])
    assert shipped.exit_code == 0 and shipped.output == "ok    techniques.yaml: version 1, 26 techniques\n"


def test_the_vocabulary_page_lists_techniques_and_broken_files(make, auth, client, vocabulary_dir):
    team = make_team(make)
    auth.sign_in("ther")
    page = " ".join(page_text(client.get("/protocols/techniques")).split())
    assert "Cognitive and behavioural Cluster cognitive-behavioural , named in techniques.yaml" in page
    assert ("Behavioural activation behavioural-activation Scheduling small valued or pleasant activities to break "
            "the cycle of withdrawal and low mood. techniques.yaml") in page
    assert "Files that cannot be used" in page
    for name in BROKEN:
        assert f"{name} {name}:" in page
    # the note form offers the usable vocabulary: the broken files add nothing
    note = _start(auth, team["course"])
    html = client.get(f"/notes/{note}").get_data(as_text=True)
    offered = re.findall(r'<option value="([^"]+)"', re.search(
        r'<select[^>]*name="techniques-0-technique"[^>]*>.*?</select>', html, re.S).group(0))
    assert len(offered) == 26 and "prayer" not in offered and "art-response" not in offered
    # linked from the protocol library page
    assert 'href="/protocols/techniques"' in client.get("/protocols/").get_data(as_text=True)
