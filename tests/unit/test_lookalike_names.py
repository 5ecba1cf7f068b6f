"""domain.text.lookalike_key: names a reader cannot tell apart have one key, names that differ do not."""
from __future__ import annotations

import pytest

from ketamine_integration.domain.text import lookalike_key, shows_nothing


@pytest.mark.parametrize("written", [
    # review of issue 25: capitals were case folded before the lookup, and small Cyrillic and Greek
    # letters are not drawn as Latin ones, so no match was found
    "\u0422amsin",                      # Cyrillic capital Te
    "\u03a4amsin",                      # Greek capital Tau
    "TAMSIN",                           # case alone
    "\uff34\uff41\uff4d\uff53\uff49\uff4e",  # full-width letters
    "T\u0430msin",                      # Cyrillic small a
    # review of issue 25: what shows nothing made another person
    "Tam\u200bsin",                     # zero-width space
    "Tams\u200din",                     # zero-width joiner
    "Tam\u00adsin",                     # soft hyphen
    "\ufeffTamsin",                     # byte order mark (zero-width no-break space)
    "Tamsin\u200e",                     # left-to-right mark
    "Tam\u034fsin",                     # combining grapheme joiner
    "Ta\u0301msin",                     # a combining acute accent
    "T\u00e1msin",                      # the accented letter precomposed: read as its letter
])
def test_a_name_drawn_alike_has_the_same_key(written):
    assert lookalike_key(written) == lookalike_key("Tamsin")


@pytest.mark.parametrize("capital, latin", [
    (capital, latin) for capitals, latin in (
        ("\u0422\u0412\u041a\u041c\u041d", "TBKMH"),                             # Cyrillic Т В К М Н
        ("\u03a4\u0392\u0395\u0397\u039a\u039c\u039d\u03a5\u03a7", "TBEHKMNYX"),  # Greek Τ Β Ε Η Κ Μ Ν Υ Χ
    ) for capital, latin in zip(capitals, latin)
])
def test_each_capital_drawn_as_a_latin_one_is_that_letter(capital, latin):
    assert lookalike_key(capital) == lookalike_key(latin) == latin.lower()


@pytest.mark.parametrize("one, other", [
    ("Zo\u00eb", "Zoe"),          # decided: the diaeresis is dropped, one person (desk staff type "Zoe" for "Zoë")
    ("Jos\u00e9", "JOSE"),        # an accent and case together
])
def test_accents_do_not_make_another_person(one, other):
    assert lookalike_key(one) == lookalike_key(other)


@pytest.mark.parametrize("one, other", [
    ("\u0442amsin", "tamsin"),    # small Cyrillic te is drawn as a small capital, not as "t"
    ("Tamsin", "Tamsen"),         # another letter
    ("Tamsin", "Tam sin"),        # a space shows
    ("Sorrel", "Sorrell"),        # a letter more
])
def test_names_that_look_different_keep_different_keys(one, other):
    assert lookalike_key(one) != lookalike_key(other)


@pytest.mark.parametrize("char, hidden", [
    ("\u200b", True),   # zero-width space
    ("\u00ad", True),   # soft hyphen
    ("\u0301", True),   # combining acute accent
    ("\u3164", True),   # Hangul filler, a blank letter
    ("\u0007", True),   # a control character
    ("\n", False),      # a line break shows as one
    (" ", False),       # a space shows
    ("a", False),
])
def test_what_shows_nothing(char, hidden):
    assert shows_nothing(char) is hidden
