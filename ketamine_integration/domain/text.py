"""What free text counts as written: the characters that show, not the spaces between them, nor
characters that show nothing, nor punctuation alone. One rule for every minimum length and for
every field a record needs written (notes, reasons, the evidence of a checklist item). And a noun
as a count of it takes it ("1 day", "3 days"), said one way in every message."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from confusable_homoglyphs import confusables


def written_length(text: str | None) -> int:
    """Characters that show on the page: not whitespace, control or format characters (zero-width
    spaces, direction marks), so "ok        ." is 3 and twenty zero-width spaces are 0: padding never
    meets a minimum (an acknowledgement of a safety alert must say what was done). Text with no
    letter or digit at all ("..........", "—", a combining accent alone) says nothing and counts 0."""
    shown = [char for char in text or "" if unicodedata.category(char)[0] not in "ZC"]
    if not any(unicodedata.category(char)[0] in "LN" for char in shown):
        return 0
    return len(shown)


def is_written(value: str | Iterable[str] | None) -> bool:
    """Whether a field a record needs says something: a letter or a digit, of any script, shows in
    it (review of issue 20: a zero-width space or "." signed notes and met checklist items). A list
    (a note's intentions, one per line) is written when any of its lines is."""
    if value is None or isinstance(value, str):
        return written_length(value) > 0
    return any(is_written(item) for item in value if isinstance(item, str))


def plural(count: int, noun: str) -> str:
    """`noun` as `count` of it takes it: "session" for one, "sessions" for any other count (none too)."""
    return noun if count == 1 else f"{noun}s"


def counted(count: int, noun: str) -> str:
    """"1 day", "0 days", "14 days"."""
    return f"{count} {plural(count, noun)}"


#: the longest uploaded file name kept (shown on pages, stored with an import)
MAX_FILENAME = 120


def upload_name(name: str | None) -> str:
    """An uploaded file's own name, fit to show and store: no path, no control characters, at most
    MAX_FILENAME characters, cut inside the name rather than its extension (a file's type is judged by
    it: ".ics", ".csv"); "upload" when nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    stem, dot, extension = base.rpartition(".")
    if len(base) > MAX_FILENAME and dot and len(extension) <= 10:
        return stem[:MAX_FILENAME - len(extension) - 2] + "…." + extension
    return base[:MAX_FILENAME] or "upload"


def lookalike_key(text: str) -> str:
    """`text` as it looks, to find one name written twice: compatibility forms folded (NFKC: full-width
    "Ｗｒｅｎ" is "Wren"), case folded, and each other letter that Unicode's confusables data (UTS #39,
    through confusable_homoglyphs) draws as an ASCII one replaced by it (Cyrillic "а" is Latin "a").
    Equal keys are names a reader cannot tell apart; a key is compared, never shown."""
    return "".join(_ascii_lookalike(char) for char in unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=4096)
def _ascii_lookalike(char: str) -> str:
    if char.isascii():
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"])
    for glyph in found[0]["homoglyphs"] if found else ():
        if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalpha():
            return glyph["c"].casefold()
    return char
