"""`make screenshots`: every key page of every role in Chromium, at a desktop's and a phone's width.

The pages are the registry's (tests/browser/key_pages.py: the same ones the accessibility checks
open), in a fresh copy of the demo clinic served live, each role signed in through the real forms.
Each page is captured whole (full page) at 1280 and 375 px into
docs/screenshots/<role>-<page-slug>-<width>.png, its colours reduced to a palette (Pillow) so the
files stay small. The README shows the curated set (CURATED); only those are kept in git:
docs/screenshots/.gitignore, written here from CURATED, ignores the rest.

    make screenshots                           # every page of every role (about 300 files)
    python -m tests.screenshots --only home    # the pages whose file name contains 'home'
    python -m tests.screenshots --curated      # the README's set alone

Not part of `make test` (it takes minutes and writes into the checkout); tests/unit/
test_screenshots.py checks that this script imports and what it would capture.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.browser.key_pages import KeyPage, demo_clinic, open_key_page, registry, sign_in_role, slug

CHECKOUT = Path(__file__).resolve().parents[1]
OUT = CHECKOUT / "docs" / "screenshots"
WIDTHS = (1280, 375)
#: the window's height: a full-page capture grows past it to the page's own
HEIGHT = 800
#: the README's gallery: (file name without the width, its caption), each at both widths
CURATED: tuple[tuple[str, str], ...] = (
    ("staff-home", "Staff home: today's sessions and what waits"),
    ("therapist-home", "Therapist home"),
    ("prescriber-home", "Prescriber home: urgent note, REMS forms due"),
    ("staff-calendar-week", "Calendar, week view"),
    ("therapist-course-page-im-ketamine-kap-kap-intramuscular", "Course page (KAP, intramuscular)"),
    ("therapist-note-form-draft", "Integration note form"),
    ("therapist-coordination-report-preview", "Coordination report preview"),
    ("prescriber-prescriber-worklist", "Prescriber worklist"),
)
#: colours per image after quantizing: the pages are flat UI colours, and at 256 Pillow's max-coverage
#: method keeps every one of them (the paper and the wash, a badge's red; median cut and octree merged
#: those), at about a third of the size Chromium writes
PALETTE = 256


@dataclass(frozen=True)
class Shot:
    role: str
    key: KeyPage
    width: int

    @property
    def name(self) -> str:
        return f"{slug(self.role, self.key)}-{self.width}.png"


def curated_names() -> list[str]:
    return [f"{stem}-{width}.png" for stem, _caption in CURATED for width in WIDTHS]


def planned(only: str | None = None, curated: bool = False) -> list[Shot]:
    """The screenshots to take, role by role (one sign-in each)."""
    keep = set(curated_names()) if curated else None
    shots = [Shot(role, key, width) for role, key in registry() for width in WIDTHS]
    return [s for s in shots if (keep is None or s.name in keep) and (only is None or only in s.name)]


def optimise(path: Path) -> None:
    """The PNG reduced to a palette of PALETTE colours (about a third of the size), when Pillow is
    installed; left as Chromium wrote it otherwise."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def write_gitignore() -> None:
    lines = ["# written by tests/screenshots.py: only the README's set (CURATED) is kept in git", "*.png",
             *(f"!{name}" for name in curated_names())]
    (OUT / ".gitignore").write_text("\n".join(lines) + "\n")


def capture(shots: list[Shot]) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, sign_in
    from tests.databases import SQLiteDatabases

    if not CHROMIUM.exists():
        sys.exit(f"Chromium is missing at {CHROMIUM}: `make browser-deps` installs it (as root)")
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="ki-screenshots-") as work, sync_playwright() as playwright:
        databases = SQLiteDatabases(Path(work))
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            with demo_clinic(databases, Path(work)) as demo:
                for role in dict.fromkeys(s.role for s in shots):
                    written += _capture_role(browser, demo, role, [s for s in shots if s.role == role], sign_in)
        finally:
            browser.close()
            databases.close()
    return written


def _capture_role(browser, demo, role: str, shots: list[Shot], sign_in) -> list[Path]:
    from tests.browser.conftest import DEFAULT_TIMEOUT_MS

    context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT}, base_url=demo.live.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    written = []
    try:
        page = context.new_page()
        sign_in_role(page, demo, role)
        for shot in shots:
            page.set_viewport_size({"width": shot.width, "height": HEIGHT})
            response = open_key_page(page, shot.key, demo.ids[role])
            if response is None or response.status != shot.key.status:
                print(f"skipped {shot.name}: answered {response and response.status}", file=sys.stderr)
                continue
            path = OUT / shot.name
            page.screenshot(path=str(path), full_page=True, animations="disabled", caret="initial")
            optimise(path)
            written.append(path)
            print(f"{path.relative_to(CHECKOUT)}  {path.stat().st_size // 1024} KiB")
    finally:
        context.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only the screenshots whose file name contains this")
    parser.add_argument("--curated", action="store_true", help="only the README's set")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    shots = planned(args.only, args.curated)
    if not shots:
        sys.exit("no key page matches")
    written = capture(shots)
    write_gitignore()
    total = sum(p.stat().st_size for p in written)
    kept = sum((OUT / n).stat().st_size for n in curated_names() if (OUT / n).exists())
    print(f"{len(written)} screenshots ({total / 2**20:.1f} MiB) in {OUT.relative_to(CHECKOUT)}; "
          f"the README's {len(curated_names())}: {kept / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
