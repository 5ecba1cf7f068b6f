"""The wheel carries every shipped file, and the app finds its folders installed or in a checkout.

Building and installing the wheel is `make wheel-check` (tests/wheel_check.py); these checks are
the cheap part: the package-data globs of pyproject.toml against the folders as they are.
"""
import tomllib
from pathlib import Path

import pytest

from ketamine_integration import shipped
from ketamine_integration.shipped import SHIPPED, MissingFolder, shipped_folder

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]


def project_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def carried(folder: Path, package: str) -> set[Path]:
    """What setuptools puts in the wheel from `folder`: its package-data globs (recursive `**`
    as in setuptools), and modules, since every folder of a mapped one is a package (setup.py)."""
    data = {p for pattern in PACKAGE_DATA.get(package, []) for p in folder.glob(pattern) if p.is_file()}
    return data | {p for p in project_files(folder) if p.suffix == ".py"}


@pytest.mark.parametrize("folder", sorted(SHIPPED))
def test_the_wheel_carries_every_file_of_a_shipped_folder(folder):
    files = project_files(ROOT / folder)
    assert files, f"{folder}/ is empty"
    left_out = files - carried(ROOT / folder, f"ketamine_integration.{SHIPPED[folder]}")
    assert sorted(p.relative_to(ROOT).as_posix() for p in left_out) == []


def test_the_wheel_carries_every_static_file():
    static = ROOT / "ketamine_integration" / "static"
    left_out = project_files(static) - carried(ROOT / "ketamine_integration", "ketamine_integration")
    assert project_files(static) and sorted(p.name for p in left_out) == []


def test_a_checkout_reads_its_top_level_folders():
    assert {name: shipped_folder(name) for name in SHIPPED} == {name: ROOT / name for name in SHIPPED}


def lay_out(tmp_path, files):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()


@pytest.mark.parametrize("files, expected", [
    # installed from the wheel: the package's own folder
    (["site-packages/ketamine_integration/templates/base.html"], "site-packages/ketamine_integration/templates"),
    # installed, and another distribution left a top-level templates/ in site-packages: not read
    (["site-packages/ketamine_integration/templates/base.html", "site-packages/templates/x.html"],
     "site-packages/ketamine_integration/templates"),
    # a checkout: the top-level folder beside the package
    (["src/pyproject.toml", "src/ketamine_integration/__init__.py", "src/templates/base.html"], "src/templates"),
])
def test_where_the_templates_are_found(tmp_path, monkeypatch, files, expected):
    lay_out(tmp_path, files)
    monkeypatch.setattr(shipped, "PACKAGE", tmp_path / Path(expected).parts[0] / "ketamine_integration")
    assert shipped_folder("templates") == tmp_path / expected


@pytest.mark.parametrize("files", [
    # a wheel built without its templates, beside a stray top-level templates/ of another package
    ["site-packages/ketamine_integration/__init__.py", "site-packages/templates/base.html"],
    # a checkout whose templates/ is gone
    ["site-packages/pyproject.toml", "site-packages/ketamine_integration/__init__.py"],
])
def test_a_missing_folder_is_named(tmp_path, monkeypatch, files):
    lay_out(tmp_path, files)
    monkeypatch.setattr(shipped, "PACKAGE", tmp_path / "site-packages" / "ketamine_integration")
    with pytest.raises(MissingFolder, match=r"templates/ is missing: neither .*ketamine_integration/templates"):
        shipped_folder("templates")
