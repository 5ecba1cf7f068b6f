"""The shape of an uploaded iCalendar text, checked in one pass before any parser builds objects from it.

icalendar's parser is linear but not cheap (a megabyte of tiny events, one property with a hundred
thousand parameters, or sixty thousand RDATE values each cost it seconds), and deep nesting makes its
walk recursive. Each limit below is far above what a calendar application writes, and far below what
those costs need.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class StructureLimits:
    #: physical lines, folds included (a year of a busy calendar is about 20,000)
    max_lines: int = 100_000
    #: characters in one property once unfolded (an invitation's HTML description is about 30,000)
    max_line_chars: int = 64 * 1024
    #: physical lines one property is folded over (64 KB at 75 octets a line is about 900)
    max_folds: int = 1_000
    #: parameters on one property (an ATTENDEE carries about eight)
    max_params: int = 50
    #: VCALENDAR > VEVENT > VALARM, VCALENDAR > VTIMEZONE > STANDARD
    max_depth: int = 3
    #: events in the file (1 MB of exported events is about 2,000)
    max_events: int = 2_000
    #: components of any kind (events, alarms, time zones and their rules)
    max_components: int = 6_000
    #: RDATE and EXDATE values in the file
    max_date_values: int = 5_000


class StructureRefused(Exception):
    """The text is not read; the message says where and which limit."""


#: a property's name and parameters: everything before the first colon outside double quotes
_NAME_AND_PARAMS = re.compile(r'(?:[^:"]|"[^"]*")*')
_QUOTED = re.compile(r'"[^"]*"')
_NEWLINE = re.compile(r"\r\n|\r|\n")
#: components whose parent must be the calendar itself
_TOP_LEVEL = {"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"}


def check_structure(text: str, limits: StructureLimits = StructureLimits()) -> None:
    """Raise StructureRefused if `text` is larger or deeper than a calendar export is."""
    lines = max(text.count("\n"), text.count("\r"))
    if lines > limits.max_lines:
        raise StructureRefused(f"has {lines:,} lines; the limit is {limits.max_lines:,}.")
    walker = _Walker(limits)
    start, pieces, folds, length = 0, [], 0, 0
    for number, line in enumerate(_NEWLINE.split(text), 1):
        if line[:1] in (" ", "\t") and pieces:
            folds, length = folds + 1, length + len(line) - 1
            if folds > limits.max_folds:
                raise StructureRefused(f"line {start}: a property folded over more than {limits.max_folds:,} "
                                       "lines (the limit).")
            if length > limits.max_line_chars:
                raise StructureRefused(f"line {start}: a property longer than {limits.max_line_chars:,} "
                                       "characters (the limit).")
            pieces.append(line[1:])
            continue
        if pieces:
            walker.property(start, "".join(pieces))
        if len(line) > limits.max_line_chars:
            raise StructureRefused(f"line {number}: a property longer than {limits.max_line_chars:,} "
                                   "characters (the limit).")
        start, pieces, folds, length = number, [line] if line else [], 0, len(line)
    if pieces:
        walker.property(start, "".join(pieces))


class _Walker:
    """Follows BEGIN/END and counts what the limits count, one unfolded property at a time."""

    def __init__(self, limits: StructureLimits):
        self.limits, self.stack = limits, []
        self.events = self.components = self.date_values = 0

    def property(self, number: int, line: str) -> None:
        head = _NAME_AND_PARAMS.match(line).group(0)
        name = head.split(";", 1)[0].strip().upper()
        if _QUOTED.sub("", head).count(";") > self.limits.max_params:
            raise StructureRefused(f"line {number}: {name[:20]} has more than {self.limits.max_params} "
                                   "parameters (the limit).")
        value = line[len(head) + 1:]
        if name == "BEGIN":
            self._begin(number, value.strip().upper())
        elif name == "END":
            if self.stack and self.stack[-1] == value.strip().upper():
                self.stack.pop()
        elif name in ("RDATE", "EXDATE"):
            self.date_values += value.count(",") + 1
            if self.date_values > self.limits.max_date_values:
                raise StructureRefused(f"has more than {self.limits.max_date_values:,} RDATE and EXDATE dates "
                                       "(the limit).")

    def _begin(self, number: int, component: str) -> None:
        parent = self.stack[-1] if self.stack else None
        if component in _TOP_LEVEL and parent != "VCALENDAR":
            raise StructureRefused(f"line {number}: BEGIN:{component[:20]} inside {parent or 'nothing'}; "
                                   f"a {component[:20]} belongs directly in the VCALENDAR.")
        if len(self.stack) >= self.limits.max_depth:
            raise StructureRefused(f"line {number}: components nested deeper than {self.limits.max_depth} "
                                   "levels (the limit).")
        self.stack.append(component)
        self.components += 1
        self.events += component == "VEVENT"
        if self.events > self.limits.max_events:
            raise StructureRefused(f"has more than {self.limits.max_events:,} events (the limit); export a "
                                   "shorter period.")
        if self.components > self.limits.max_components:
            raise StructureRefused(f"has more than {self.limits.max_components:,} components (the limit).")
