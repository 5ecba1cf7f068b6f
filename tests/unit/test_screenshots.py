"""`make screenshots` (tests/screenshots.py) is not run by the suite, which takes minutes; what it
would capture is checked here: the key pages registry is not empty, every file name is unique, the
README's set names pages that exist, and those kept in git are there, small, shown and not ignored."""
from pathlib import Path

from tests import screenshots
from tests.browser.key_pages import KEY_PAGES, ROLES

README = (screenshots.CHECKOUT / "README.md").read_text()


def test_every_key_page_of_every_role_is_planned_at_both_widths():
    shots = screenshots.planned()
    assert KEY_PAGES and len(shots) >= 2 * len(ROLES)
    names = [s.name for s in shots]
    assert len(names) == len(set(names))
    assert {s.width for s in shots} == {1280, 375}
    assert all(n.endswith(("-1280.png", "-375.png")) for n in names)


def test_the_readme_set_names_key_pages_and_is_kept_small():
    planned = {s.name for s in screenshots.planned()}
    curated = screenshots.curated_names()
    assert set(curated) <= planned, sorted(set(curated) - planned)
    assert {s.name for s in screenshots.planned(curated=True)} == set(curated)
    files = [screenshots.OUT / name for name in curated]
    missing = [f.name for f in files if not f.exists()]
    assert not missing, f"run `make screenshots` (SCREENSHOTS_ARGS=--curated): {missing}"
    assert sum(f.stat().st_size for f in files) < 3 * 2**20


def test_the_readme_shows_the_set_and_git_keeps_only_it():
    for name in screenshots.curated_names():
        assert f"docs/screenshots/{name}" in README, name
    ignore = (screenshots.OUT / ".gitignore").read_text().splitlines()
    assert "*.png" in ignore and {line[1:] for line in ignore if line.startswith("!")} == set(screenshots.curated_names())


def test_a_filter_narrows_the_plan():
    assert {s.role for s in screenshots.planned(only="prescriber-")} == {"prescriber"}
    assert isinstance(screenshots.OUT, Path) and screenshots.OUT.parts[-2:] == ("docs", "screenshots")
