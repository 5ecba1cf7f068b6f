"""Small pure rules: redirect targets, the password policy, what a minimum length counts, what text
counts as written, a counted noun and how a typed number is read (domain errors: test_domain_errors.py)."""
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.validators import NumberRange, Optional

from ketamine_integration.accounts.passwords import password_problem
from ketamine_integration.domain.text import counted, is_written, plural, written_length
from ketamine_integration.web.fields import ClinicDateField, FiniteDecimalField, WholeNumberField
from ketamine_integration.web.forms import safe_next


@pytest.mark.parametrize("target, expected", [
    ("/patients/12", "/patients/12"),                  # same-site path: followed
    ("/patients/?q=a", "/patients/?q=a"),              # with a query
    (None, "/"),                                       # nothing asked
    ("", "/"),
    ("https://evil.example/", "/"),                    # another site
    ("//evil.example/x", "/"),                         # scheme-relative: another site
    ("javascript:alert(1)", "/"),                      # a script URL
    ("patients", "/"),                                 # relative without a slash
])
def test_safe_next(target, expected):
    assert safe_next(target, "/") == expected


@pytest.mark.parametrize("password, username, problem", [
    ("correct horse battery staple", "desk", None),    # a passphrase
    ("Tr0ub4dor&3xy", "desk", None),                    # 13 characters, mixed
    ("elevenchars", "desk", "at least 12"),             # one short
    ("x" * 257, "desk", "at most 256"),
    ("my-desk-password-1", "desk", "must not contain the username"),
    ("abababababababab", "desk", "repeats too few"),
    ("password1234", "desk", "common or easy to guess"),      # in the breach corpus as it stands
    ("Password1234", "desk", "common or easy to guess"),      # case does not help
    ("iloveyou1234", "desk", "common or easy to guess"),      # built from common parts
    ("qwertyuiop123", "desk", "common or easy to guess"),     # a keyboard walk
    ("a fine long passphrase", "desk", None),                 # an ordinary passphrase is fine
    # zxcvbn 4.5 refuses to judge more than 72 characters: longer ones are judged by their start
    ("quiet ferry at dawn across the harbor; lanterns on the old sea wall while gulls argue overhead",
     "desk", None),                                                                      # 95 characters
    ("password" * 9 + "x" * 180, "desk", "common or easy to guess"),                     # 252: the start decides
])
def test_password_policy(password, username, problem):
    found = password_problem(password, username)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("text, written", [
    ("Called the patient", 16),               # spaces between words do not count
    ("ok        .", 3),                       # padding to reach a minimum counts for nothing
    ("  \n\t ok\u00a0\u2003. \r\n", 3),       # nor do line breaks, tabs and Unicode spaces
    ("", 0),
    (None, 0),                                # a field left out
    ("Décidé: RAS", 10),                      # letters beyond ASCII count like any other
    # review of issue 19: text that shows as blank on a signed record counts for nothing
    ("\x01\x02\x03" * 8, 0),                   # control characters
    ("\u200b" * 30, 0),                        # zero-width spaces
    ("\u202e" * 20 + "abc", 3),                # direction marks: only what shows
    ("ok\u200bok\u200dok", 6),                  # a zero-width joiner inside a word
    ("." * 30, 0),                             # punctuation alone says nothing
    ("BP 150/95 at 09:40.", 16),               # figures and their punctuation count
])
def test_a_minimum_length_counts_what_was_written(text, written):
    assert written_length(text) == written


@pytest.mark.parametrize("value, written", [
    ("Settled by minute 60", True),            # words
    ("8", True),                               # a figure alone says something (a score, a count)
    ("\u0663", True),                          # a digit of another script (Arabic-Indic three)
    ("静かに座っていた", True),                    # letters beyond Latin count like any other
    ("Тревога", True),
    ("\u200b", False),                         # zero-width space
    ("\ufeff\ufeff", False),                   # byte-order mark / zero-width no-break space
    ("\u2060", False),                         # word joiner
    ("\u200b.\n\u200b", False),                # what the review signed a note with
    ("\u0301\u0308", False),                   # combining marks with nothing to sit on
    ("...", False),                            # punctuation alone
    ("…", False),
    ("—", False),                              # an em dash, as if to say "none"
    ("- . -", False),
    ("   \n\t", False),
    ("", False),
    (None, False),                             # a field left out
    (["\u200b", "."], False),                  # a list of lines (a note's intentions): none written
    (["", "To rest"], True),                   # one written line is enough
    ([], False),
])
def test_what_counts_as_written_text(value, written):
    """The one rule for a field a record needs written: a signed note's sections, a checklist item's
    evidence (review of issue 20: zero-width text and "." signed notes and met the phase gate)."""
    assert is_written(value) is written


@pytest.mark.parametrize("count, noun, words", [
    (1, "day", "1 day"),                              # one: the noun as it is
    (0, "day", "0 days"),                             # none: plural, as English says it
    (2, "preparation session", "2 preparation sessions"),  # the last word takes the s
    (-1, "day", "-1 days"),                           # a gap counted backwards (dosing order checks)
])
def test_a_counted_noun(count, noun, words):
    """One way to say a count in every message (phase gates, dosing gaps, waits, the portal's words)."""
    assert counted(count, noun) == words
    assert plural(count, noun) == words.split(" ", 1)[1]


@pytest.mark.parametrize("field, typed, data, error", [
    # a whole number in ASCII digits
    ("whole", "120", 120, None),
    ("whole", " 120 ", 120, None),             # spaces around it are the browser's
    ("whole", "", None, None),                 # empty: InputRequired or Optional decide
    ("whole", "9" * 400, None, "Enter a whole number"),   # used to overflow NumberRange into a 500
    ("whole", "\u0663\u0665", None, "Enter a whole number"),   # another script's digits (35)
    ("whole", "1e3", None, "Enter a whole number"),
    ("whole", "12.5", None, "Enter a whole number"),
    # a decimal number: one point, no exponent
    ("decimal", "35.5", Decimal("35.5"), None),
    ("decimal", "3.5e1", None, "Enter a number"),
    ("decimal", "\uff13\uff15", None, "Enter a number"),         # full-width digits
    ("decimal", "inf", None, "Enter a number"),
    ("decimal", "1" * 40, None, "Enter a number"),
])
def test_numbers_are_read_as_a_clinician_types_them(field, typed, data, error):
    class Numbers(Form):
        whole = WholeNumberField(validators=[Optional(), NumberRange(0, 300)])
        decimal = FiniteDecimalField(validators=[Optional()])
    form = Numbers(MultiDict({field: typed}))
    form.validate()
    assert getattr(form, field).data == data
    assert (error is None and not getattr(form, field).errors) or error in " ".join(getattr(form, field).errors)


class DateForm(Form):
    day = ClinicDateField("Day", validators=[Optional()])


@pytest.mark.parametrize("typed, day, error", [
    ("2026-12-03", "2026-12-03", None),                # what every date picker sends
    ("3 December 2026", "2026-12-03", None),           # the hint's own example, typed where no picker shows
    ("3 Dec 2026", "2026-12-03", None),
    ("  3   December  2026 ", "2026-12-03", None),     # spaces as typed
    ("12/03/2026", None, "Enter a real date, for example 3 December 2026."),  # 3 December or 12 March?
    ("2026-02-30", None, "Enter a real date, for example 3 December 2026."),  # no such day
    ("1899-12-31", None, "Use a year between 1900 and 2100."),
])
def test_a_date_is_picked_or_typed_in_words_never_in_a_digit_order_to_guess(typed, day, error):
    form = DateForm(MultiDict({"day": typed}))
    assert form.validate() is (error is None)
    assert (form.day.data.isoformat() if form.day.data else None) == day
    assert form.day.errors == ([error] if error else [])


def test_no_hint_or_message_spells_a_date_format_a_date_picker_would_contradict():
    """A native date input shows the date in the browser's own order (mm/dd/yyyy in the US), so a hint
    "YYYY-MM-DD" beside it contradicts it (issue 21, point 5): hints give an example in words."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    found = [f"{p.relative_to(root)}:{n}" for folder in ("templates", "ketamine_integration")
             for p in sorted((root / folder).rglob("*")) if p.suffix in (".html", ".py")
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if any(f in line for f in ("YYYY", "yyyy", "MM/DD", "DD/MM", "mm/dd", "dd/mm", "HH:MM"))]
    assert found == []
