"""What a minimum length of free text counts: the characters written, not the spaces between them,
nor characters that show nothing."""
from __future__ import annotations

import unicodedata


def written_length(text: str | None) -> int:
    """Characters that show on the page: not whitespace, control or format characters (zero-width
    spaces, direction marks), so "ok        ." is 3 and twenty zero-width spaces are 0: padding never
    meets a minimum (an acknowledgement of a safety alert must say what was done). Text with no
    letter or digit at all ("..........") says nothing and counts 0."""
    shown = [char for char in text or "" if unicodedata.category(char)[0] not in "ZC"]
    if not any(unicodedata.category(char)[0] in "LN" for char in shown):
        return 0
    return len(shown)
