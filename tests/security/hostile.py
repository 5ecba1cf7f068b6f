"""Hostile form values, by field type, as Hypothesis strategies; and raw form encoding that
can carry what a browser never would (invalid UTF-8 from lone surrogates, repeated keys).

Each strategy mixes fixed nasties (the cases worth naming) with generated values, and with
plausible ones, so a submission sometimes gets past validation into the service.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st
from wtforms import (BooleanField, DateField, DecimalField, FieldList, FileField, FormField, HiddenField,
                     IntegerField, SelectFieldBase, TimeField)
from wtforms.fields.datetime import DateTimeLocalField

TEXT = [
    "", " ", "\t\n  \r\n", "\x00", "note\x00with NUL", "\x01\x02\x1b[31mred\x7f\x9f", "\u202eevil\u202c",
    "שלום, מה שלומך?", "مرحبا بالعالم", "e\u0301\u0301\u0301\u0301", "Z̷̢̛a̸͇l̶g̵o̴", "😀👩‍👩‍👧‍👦🏳️‍🌈",
    "\ufeff\u200b\u2028\u2029", "x" * 10_000, "é" * 10_000, "😀" * 2_600, "<script>alert(1)</script>",
    "' OR 1=1 --", "%s%n%x{0}", "{{ 7*7 }}", "\udcff\udcfe junk", "\ud800", "a\r\nSet-Cookie: x=1",
    "NULL", "None", "true", "[]", "{}", "-1", "../../etc/passwd",
]
NUMBERS = [
    "0", "-0", "-1", "1", "00042", "1e308", "-1e308", "1e309", "NaN", "nan", "sNaN", "inf", "-Infinity",
    "9" * 30, "2147483647", "2147483648", "-2147483649", "٣", "²", "１２", "3.5", "0x1F", "1_000", " 7 ",
    "+5", "1,5", "1e-400", "4e2", "", "  ",
]
DATES = [
    "0001-01-01", "9999-12-31", "2024-02-30", "2023-02-29", "2024-02-29", "2024-13-01", "2024-00-10",
    "1899-12-31", "1900-01-01", "2100-12-31", "2101-01-01", "24-1-1", "2024/01/01", "٢٠٢٤-٠١-٠١",
    "2024-01-01T10:00", "today", "-2024-01-01", "+002024-01-01", "", " ",
]
DATETIMES = [
    "0001-01-01T00:00", "9999-12-31T23:59", "2024-02-30T10:00", "2025-03-09T02:30", "2025-11-02T01:30",
    "2024-01-01T24:00", "2024-01-01T10:60", "2024-01-01 10:00", "2024-01-01T10:00:00", "2024-01-01T10:00Z",
    "2024-01-01T10:00+05:00", "2100-12-31T23:59", "1900-01-01T00:00", "2024-1-1T9:5", "", "now",
]
TIMES = ["00:00", "23:59", "24:00", "25:00", "12:60", "9:5", "12:30:45", "-1:00", "٢:٠٠", "noon", "", "07:00 "]
CHOICES = ["", "0", "-1", "99999999999999999999", "unknown", "Yes", "__proto__", "1.0", " 1"]
BOOLEANS = ["", "y", "on", "false", "0", "no", "\x00"]


def _near(days: int) -> st.SearchStrategy[datetime]:
    """Plausible instants around now (on the quarter hour), so some submissions succeed."""
    return st.builds(lambda d, q: (datetime.now().replace(minute=0, second=0, microsecond=0)
                                   + timedelta(days=d, minutes=15 * q)),
                     st.integers(-days, days), st.integers(0, 95))


# Every code point UTF-8 carries: all but the surrogates (category Cs), which is what codec="utf-8" gave too,
# the same characters, without Hypothesis encoding all 1.1 million code points to find out (1.3 s of CPU in
# each process of a run from a clean clone, where no .hypothesis folder caches the answer).
text = st.one_of(st.sampled_from(TEXT), st.text(max_size=40),
                 st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300))
numbers = st.one_of(st.sampled_from(NUMBERS), st.integers(-10**20, 10**20).map(str),
                    st.integers(0, 500).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str))
dates = st.one_of(st.sampled_from(DATES), st.dates().map(date.isoformat),
                  _near(60).map(lambda d: d.date().isoformat()))
datetimes = st.one_of(st.sampled_from(DATETIMES), st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
                      _near(30).map(lambda d: d.strftime("%Y-%m-%dT%H:%M")))
times = st.one_of(st.sampled_from(TIMES), st.times().map(lambda t: t.strftime("%H:%M")),
                  st.builds(time, st.integers(6, 20), st.sampled_from([0, 30])).map(lambda t: t.strftime("%H:%M")))


def value_strategy(field, baseline) -> st.SearchStrategy:
    """Values for one form field, chosen by its type; `baseline` (the valid value) stays possible.
    A field of the same kind and baseline gets the same strategy object: Hypothesis validates each new
    one at its first draw (9 % of the fuzzing suite's CPU when every draw built its own)."""
    kind, offered = _kind(field)
    return _strategy(kind, offered, baseline if isinstance(baseline, str) else None)


def _kind(field) -> tuple[str, tuple[str, ...]]:
    """The field's kind of values, and what a choice field offers."""
    if isinstance(field, (IntegerField, DecimalField)):
        return "numbers", ()
    if isinstance(field, DateTimeLocalField):
        return "datetimes", ()
    if isinstance(field, DateField):
        return "dates", ()
    if isinstance(field, TimeField):
        return "times", ()
    if isinstance(field, BooleanField):
        return "booleans", ()
    if isinstance(field, SelectFieldBase):  # select, radio, multi-select: unknown values too
        choices = [] if callable(field.choices) else field.choices or []
        return "choices", tuple(str(getattr(c, "value", c[0] if isinstance(c, tuple) else c)) for c in choices)
    if isinstance(field, HiddenField):
        return "hidden", ()
    return "text", ()


_VALUES = {"numbers": numbers, "datetimes": datetimes, "dates": dates, "times": times,
           "booleans": st.sampled_from(BOOLEANS), "hidden": st.one_of(numbers, st.sampled_from(CHOICES)), "text": text}


@lru_cache(maxsize=None)
def _strategy(kind: str, offered: tuple[str, ...], baseline: str | None) -> st.SearchStrategy:
    if kind == "choices":
        values = st.one_of(st.sampled_from(CHOICES), text, *([st.sampled_from(offered)] if offered else []))
    else:
        values = _VALUES[kind]
    single = st.one_of(values, *([st.just(baseline)] if baseline is not None else []))
    # a repeated field: two values where one is expected (or several choices, for a multi-select)
    return st.one_of(single, st.lists(single, min_size=2, max_size=3))


def leaf_fields(form):
    """(name, field) of every input of a form, nested rows included; a row list with no rows gets one."""
    for field in form:
        if isinstance(field, FieldList):
            if not field.entries:
                field.append_entry()
            for entry in field.entries:
                yield from (leaf_fields(entry.form) if isinstance(entry, FormField) else [(entry.name, entry)])
        elif isinstance(field, FormField):
            yield from leaf_fields(field.form)
        elif not isinstance(field, FileField):
            yield field.name, field


def encode_form(pairs: list[tuple[str, str]]) -> bytes:
    """application/x-www-form-urlencoded, lone surrogates passed through as the invalid UTF-8
    a hostile client can send."""
    return b"&".join(quote_from_bytes(k.encode("utf-8", "surrogatepass")).encode() + b"="
                     + quote_from_bytes(v.encode("utf-8", "surrogatepass")).encode() for k, v in pairs)


def as_pairs(data: dict) -> list[tuple[str, str]]:
    pairs = []
    for key, value in data.items():
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            pairs.append((key, str(v)))
    return pairs


ICS_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Fuzz//EN\r\n"
ICS_FILES = [
    b"", b"\x00\x01\x02", b"\x89PNG\r\n\x1a\n\xff\xfe", ("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").encode(),
    (ICS_HEAD + "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:00010101T000000Z\r\nDTEND:99991231T235959Z\r\nEND:VEVENT\r\n"
     "END:VCALENDAR\r\n").encode(),
    (ICS_HEAD + "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20250101T100000Z\r\nRRULE:FREQ=SECONDLY\r\nDURATION:PT1S\r\n"
     "END:VEVENT\r\nEND:VCALENDAR\r\n").encode(),
    (ICS_HEAD + "BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20250230T100000\r\nDTEND:20250230T090000\r\nEND:VEVENT\r\n"
     "END:VCALENDAR\r\n").encode(),
    (ICS_HEAD + "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;TZID=Nowhere/Land:20250309T023000\r\nDURATION:-PT1H\r\n"
     "END:VEVENT\r\nEND:VCALENDAR\r\n").encode(),
    (ICS_HEAD * 3 + "BEGIN:VEVENT\r\n" * 50).encode(),
    "BEGIN:VCALENDAR\r\nX-\u202e:\u0000😀\r\nEND:VCALENDAR\r\n".encode("utf-8"),
    b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"A" * 1_100_000 + b"\r\nEND:VCALENDAR\r\n",
]
FILENAMES = ["work.ics", "", "a" * 300 + ".ics", "../../etc/passwd", "\u202egpj.ics", "😀.ics", "con.ics", ".ics"]


def upload_strategy(valid: bytes) -> st.SearchStrategy[tuple[bytes, str]]:
    contents = st.one_of(st.just(valid), st.sampled_from(ICS_FILES), st.binary(max_size=300),
                         st.text(max_size=200).map(lambda t: (ICS_HEAD + t + "\r\nEND:VCALENDAR\r\n").encode()))
    return st.tuples(contents, st.one_of(st.just("work.ics"), st.sampled_from(FILENAMES), st.text(max_size=30)))
