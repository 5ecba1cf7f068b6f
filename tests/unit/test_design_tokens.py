"""The stylesheet's design tokens (issue 21, point 6): every text colour on every surface it is used
on has at least 4.5:1 contrast, every control's outline at least 3:1 (WCAG 2.2 1.4.3 and 1.4.11),
the ratios the stylesheet writes beside its tokens are the true ones, and no rule outside the token
blocks brings a colour of its own.

The colours are read from ketamine_integration/static/style.css itself, so changing a token there
is checked here; the pairs below say where each pair meets on a page.
"""
import re

import pytest

from tests.unit.test_focus_contrast import STYLE, contrast

#: every `--name: #rrggbb` the stylesheet defines
TOKENS = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\b", STYLE))
TEXT, UI = 4.5, 3.0

#: (foreground, background, minimum): a text colour on a surface it is drawn on, or an outline
PAIRS = [
    ("ink", "paper", TEXT),            # body text on cards, tables, fields
    ("ink", "wash", TEXT),             # body text on the page
    ("ink", "accent-wash", TEXT),      # today's column head in the calendar
    ("ink", "ok-wash", TEXT),          # a success flash, a signed note's banner
    ("ink", "warn-wash", TEXT),        # a notice
    ("ink", "danger-wash", TEXT),      # an error flash, a form's errors, a flagged reading
    ("ink", "info-wash", TEXT),        # an information flash
    ("muted", "paper", TEXT),          # hints, secondary facts on cards
    ("muted", "wash", TEXT),           # hints on the page, the footer
    ("muted", "ok-wash", TEXT),        # a hint inside an alert of each tone
    ("muted", "warn-wash", TEXT),
    ("muted", "danger-wash", TEXT),
    ("muted", "info-wash", TEXT),
    ("accent", "paper", TEXT),         # links, a secondary button's label
    ("accent", "wash", TEXT),          # links on the page
    ("accent", "accent-wash", TEXT),   # a secondary button under the pointer
    ("accent", "ok-wash", TEXT),       # a link inside an alert of each tone
    ("accent", "warn-wash", TEXT),
    ("accent", "danger-wash", TEXT),
    ("accent-ink", "accent", TEXT),    # a primary button's label
    ("accent-ink", "accent-strong", TEXT),  # ... under the pointer
    ("paper", "danger", TEXT),         # the menu's count of what waits
    ("ok", "paper", TEXT),             # "signed", "covered" words
    ("ok", "ok-wash", TEXT),           # an ok badge
    ("warn", "paper", TEXT),           # "override" words
    ("warn", "warn-wash", TEXT),       # a warning badge
    ("danger", "paper", TEXT),         # field errors, overdue words, a danger button's label
    ("danger", "danger-wash", TEXT),   # a danger badge, a form's errors
    ("info", "info-wash", TEXT),       # an information badge
    ("muted", "tg-prep-wash", TEXT),   # a calendar block's muted words on each kind's wash
    ("muted", "tg-dose-wash", TEXT),
    ("muted", "tg-integ-wash", TEXT),
    ("muted", "tg-follow-wash", TEXT),
    ("warn", "tg-prep-wash", TEXT),    # an unconfirmed session's state word on each kind's wash
    ("warn", "tg-dose-wash", TEXT),
    ("warn", "tg-integ-wash", TEXT),
    ("warn", "tg-follow-wash", TEXT),
    ("field-line", "paper", UI),       # a field's outline
    ("field-line", "wash", UI),
    ("accent", "paper", UI),           # a secondary button's outline
    ("danger", "paper", UI),           # a field in error, a danger button's outline
    ("tg-prep", "paper", UI),          # a calendar block's outline and band
    ("tg-dose", "paper", UI),
    ("tg-integ", "paper", UI),
    ("tg-follow", "paper", UI),
    ("focus-ring", "paper", UI),       # the focus ring (tests/unit/test_focus_contrast.py)
    ("focus-ring", "wash", UI),
]


@pytest.mark.parametrize("foreground, background, minimum", PAIRS)
def test_each_pair_in_use_has_enough_contrast(foreground, background, minimum):
    ratio = contrast(TOKENS[foreground], TOKENS[background])
    assert ratio >= minimum, f"--{foreground} on --{background}: {ratio:.2f}:1, under {minimum}:1"


def test_the_ratios_written_beside_the_tokens_are_true():
    """'--muted: #52616b; /* ... 6.40:1 on paper, 5.90:1 on wash */': each 'N:1 on <token>'."""
    checked = 0
    for name, comment in re.findall(r"--([a-z0-9-]+):\s*#[0-9a-fA-F]{6};[^/\n]*/\*(.*?)\*/", STYLE):
        for said, surface in re.findall(r"(\d+\.\d\d):1(?: or more)? on ([a-z0-9-]+)", comment):
            if surface in TOKENS:
                assert f"{contrast(TOKENS[name], TOKENS[surface]):.2f}" == said, (name, surface, said)
                checked += 1
    assert checked >= 15


def test_every_colour_is_a_token():
    """Outside the token definitions no rule names a colour: it uses var(--token)."""
    strays = [line for line in STYLE.splitlines()
              if re.search(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", line)
              and not re.match(r"\s*(:root \{ )?--[a-z0-9-]+:", line)]
    assert not strays, strays


def test_every_token_used_is_defined():
    defined = set(re.findall(r"--([a-z0-9-]+):", STYLE))
    used = set(re.findall(r"var\(--([a-z0-9-]+)", STYLE))
    assert not used - defined, sorted(used - defined)


def test_the_scales_are_documented_at_the_top():
    top = STYLE[:STYLE.index("/* -- Base -- */")]
    for token in ("--text-sm", "--text-base", "--text-2xl", "--space-1", "--space-6", "--radius", "--radius-pill",
                  "--shadow-1", "--ok-wash", "--warn-wash", "--danger-wash", "--info-wash"):
        assert f"{token}:" in top, token
