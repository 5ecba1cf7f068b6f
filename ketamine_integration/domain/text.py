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


#: letters that show nothing (Hangul fillers, the braille blank): dropped like format characters
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def shows_nothing(char: str) -> bool:
    """Shows nothing: a format character (zero-width space and joiner, soft hyphen, word joiner, byte
    order mark, direction marks), a combining mark, a control character that is not a line break, a blank."""
    category = unicodedata.category(char)
    return (category in ("Cf", "Mn", "Me") or char in _BLANKS
            or (category == "Cc" and not char.isspace()))


def lookalike_key(text: str) -> str:
    """`text` as it looks, to find one name written twice: compatibility forms and accents decomposed
    (NFKD: full-width "Ｗｒｅｎ" is "Wren"), what shows nothing dropped (a zero-width space, a soft hyphen,
    a combining mark: so "Zoë" is "Zoe", a reader matching a name by eye takes them for one), case folded,
    and each other letter that Unicode's confusables data (UTS #39, through confusable_homoglyphs) draws
    as an ASCII one replaced by it (Cyrillic "а" is Latin "a", capital "Т" is "T"). Equal keys are names
    a reader cannot tell apart; a key is compared, never shown."""
    return "".join(_ascii_lookalike(char) for char in unicodedata.normalize("NFKD", text)
                   if not shows_nothing(char))


@lru_cache(maxsize=4096)
def _ascii_lookalike(char: str) -> str:
    """The character looked up as written, then case folded and looked up again: capital Cyrillic "Т"
    and Greek "Τ" are drawn as "T" while their small letters are not drawn as "t" (review of issue 25:
    folding first let "Тamsin" register a second Tamsin)."""
    found = _ascii_letter(char)
    if found is not None:
        return found
    return "".join(_ascii_letter(part) or part for part in char.casefold() if not shows_nothing(part))


def _ascii_letter(char: str) -> str | None:
    """The ASCII character `char` is, or the ASCII letter it is drawn as, case folded; None for neither."""
    if char.isascii():
        return char.casefold()
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"])
    for glyph in found[0]["homoglyphs"] if found else ():
        if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalpha():
            return glyph["c"].casefold()
    return None
