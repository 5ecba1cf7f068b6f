"""What a minimum length of free text counts: the characters written, not the spaces between them."""
from __future__ import annotations


def written_length(text: str | None) -> int:
    """Characters other than whitespace: "ok        ." is 3, so padding never meets a minimum
    (an acknowledgement of a safety alert must say what was done, not be spaces)."""
    return sum(not char.isspace() for char in text or "")
