"""Every data folder's reader (protocols, the technique vocabulary, forms) reads regular files only, within
its limit (attacker review of issue 26, finding 5): a FIFO, a link to /dev/zero and a link out of the folder
are each refused by name, never read, and never hang the reader. Each load runs in a subprocess with a
timeout, so a regression fails instead of hanging the suite."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ketamine_integration.domain.data_files import DataFileRefused, read_data_text

ROOT = Path(__file__).resolve().parents[2]
#: (the loader's call on a folder, printing each broken file's name and problems as JSON)
LOADERS = {
    "forms": "from ketamine_integration.domain.form_library import load_folder as load\n"
             "print(json.dumps({f.path.name: list(f.problems) for f in load(folder).broken}))",
    "techniques": "from ketamine_integration.domain.techniques import load_folder as load\n"
                  "print(json.dumps({f.path.name: list(f.problems) for f in load(folder).broken}))",
    "protocols": "from ketamine_integration.domain.protocol_library import ProtocolLibrary\n"
                 "print(json.dumps({e.path.name: list(e.problems) for e in ProtocolLibrary.load(folder).entries"
                 " if not e.valid}))",
}
NOT_REGULAR = "(file): is not a regular file (a pipe, a device or a folder); only regular files are read"
OUTSIDE = "(file): is a link to a file outside its folder; only links to files in the folder are followed"


def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    os.mkfifo(folder / "pipe.yaml")                            # opening it for reading waits for a writer
    (folder / "zero.yaml").symlink_to("/dev/zero")             # stat says 0 bytes; reading never ends
    (tmp_path / "elsewhere.yaml").write_text("a: 1\n")
    (folder / "outside.yaml").symlink_to(tmp_path / "elsewhere.yaml")  # any file on the server
    (folder / "gone.yaml").symlink_to(folder / "nowhere")      # a link leading nowhere
    return folder


def load_in_subprocess(loader: str, folder: Path) -> dict[str, list[str]]:
    script = f"import json\nfrom pathlib import Path\nfolder = Path({str(folder)!r})\n{LOADERS[loader]}"
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {loader} loader hung on a pipe or a device")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_pipe_a_device_or_a_link_out_of_the_folder_is_refused_by_name(loader, tmp_path):
    broken = load_in_subprocess(loader, hostile_folder(tmp_path))
    assert {name: problems[0] for name, problems in broken.items()} == {
        "pipe.yaml": f"pipe.yaml: {NOT_REGULAR}",
        "zero.yaml": f"zero.yaml: {OUTSIDE}",
        "outside.yaml": f"outside.yaml: {OUTSIDE}",
        "gone.yaml": "gone.yaml: (file): cannot be read: No such file or directory",
    }


def test_a_link_to_a_regular_file_inside_the_folder_is_read(tmp_path):
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "real.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to("drafts/real.yaml")
    assert read_data_text(tmp_path / "link.yaml", 100) == "a: 1\n"


def test_a_link_inside_the_folder_to_a_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.yaml").symlink_to("pipe")
    with pytest.raises(DataFileRefused, match="is not a regular file"):
        read_data_text(tmp_path / "link.yaml", 100)


@pytest.mark.parametrize("size, refused", [
    (100, None),                                      # at the limit: read
    (101, "is 101 bytes; the limit is 100"),          # one byte over: refused unread
])
def test_the_size_limit(tmp_path, size, refused):
    path = tmp_path / "f.yaml"
    path.write_text("x" * size)
    if refused is None:
        assert len(read_data_text(path, 100)) == size
    else:
        with pytest.raises(DataFileRefused, match=refused):
            read_data_text(path, 100)


def test_a_file_larger_than_its_stat_says_is_refused_after_the_limit_and_one_byte(tmp_path, monkeypatch):
    """The size check never trusts stat alone: a file that grows (or reports 0 bytes, as /dev/zero does) is read
    up to the limit and one byte, then refused."""
    path = tmp_path / "f.yaml"
    path.write_text("x" * 500)
    real_fstat = os.fstat

    def says_empty(descriptor):
        details = list(real_fstat(descriptor))
        details[6] = 0  # st_size
        return os.stat_result(details)
    monkeypatch.setattr(os, "fstat", says_empty)
    with pytest.raises(DataFileRefused, match="is more than 100 bytes; the limit is 100"):
        read_data_text(path, 100)
