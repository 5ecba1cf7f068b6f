"""What the served HTML shows of a status or an action (issue 21, point 4: status by text and icon,
never by colour alone): its words right after an icon hidden from screen readers (the words say it)."""
from __future__ import annotations

import re

#: an inline heroicon as the _icons.html macros draw it: decorative, out of the tab order
ICON = r'<svg [^>]*aria-hidden="true"[^>]*focusable="false"[^>]*class="icon"[^>]*>(?:(?!</svg>).)*</svg>'


def after_icon(html: str, words: str) -> int:
    """How many times `words` follow a decorative icon (whitespace between them allowed)."""
    return len(re.findall(rf"{ICON}\s*{re.escape(words)}", html, re.S))


def badges(html: str) -> list[tuple[str, str]]:
    """Every status pill as (tone, words), each checked to carry its icon before its words."""
    found = re.findall(r'<span class="status-badge tone-(\w+)">(.*?)</span>', html, re.S)
    for tone, inner in found:
        assert re.fullmatch(rf"{ICON}[^<]+", inner, re.S), f"a {tone} badge without its icon: {inner[:120]}"
    return [(tone, re.sub(r"<svg.*</svg>", "", inner, flags=re.S)) for tone, inner in found]
