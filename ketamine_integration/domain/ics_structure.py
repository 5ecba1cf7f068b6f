"""The shape of an uploaded iCalendar text, checked in one pass before any parser builds objects from it,
and the text icalendar is then given: without its VTIMEZONEs, each TZID parameter replaced by an index
into the file's own list of TZIDs (ics_zones resolves them for this file alone; icalendar would build
zones from the VTIMEZONEs at an unbounded cost and keep them process-wide).

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
    #: parts and values in all RRULEs together (a weekly meeting's rule has three; icalendar takes
    #: about 10 µs for each, and a file of 2,000 rules of 70 values each took it 1.5 s)
    max_rule_values: int = 10_000
    #: characters in one TZID (the longest IANA name has 32; a Windows name about 40)
    max_tzid_chars: int = 100
    #: VTIMEZONE components, and distinct TZIDs used (an export carries one or two)
    max_zones: int = 50


#: the parameter a TZID becomes: its value is the TZID's index in Prepared.tzids
ZONE_PARAM = "X-KI-ZONE"


@dataclass(frozen=True)
class Prepared:
    """The text for icalendar, the zones the file defines and the TZIDs its properties use."""

    text: str
    #: TZID -> its observances, each a mapping of property name to raw values
    definitions: dict
    #: the TZIDs properties name, in the order of their indexes
    tzids: list


class StructureRefused(Exception):
    """The text is not read; the message says where and which limit."""


#: a property's name and parameters: everything before the first colon outside double quotes
_NAME_AND_PARAMS = re.compile(r'(?:[^:"]|"[^"]*")*')
_QUOTED = re.compile(r'"[^"]*"')
#: the name, then each parameter: the pieces between semicolons outside double quotes
_PARAMS = re.compile(r'(?:[^;"]|"[^"]*")+')
_NEWLINE = re.compile(r"\r\n|\r|\n")
#: components whose parent must be the calendar itself
_TOP_LEVEL = {"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"}


def prepare(text: str, limits: StructureLimits = StructureLimits()) -> Prepared:
    """The text to parse (see the module's docstring), or StructureRefused if `text` is larger or
    deeper than a calendar export is."""
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
    return Prepared("\r\n".join(walker.out) + "\r\n", walker.definitions, list(walker.tzids))


class _Walker:
    """Follows BEGIN/END and counts what the limits count, one unfolded property at a time."""

    def __init__(self, limits: StructureLimits):
        self.limits, self.stack = limits, []
        self.events = self.components = self.date_values = self.rule_values = 0
        self.out: list[str] = []
        self.definitions: dict[str, list[dict]] = {}
        self.tzids: dict[str, int] = {}
        self.zone: tuple[str | None, list[dict]] | None = None  # the VTIMEZONE being read

    def property(self, number: int, line: str) -> None:
        head = _NAME_AND_PARAMS.match(line).group(0)
        name = head.split(";", 1)[0].strip().upper()
        if _QUOTED.sub("", head).count(";") > self.limits.max_params:
            raise StructureRefused(f"line {number}: {name[:20]} has more than {self.limits.max_params} "
                                   "parameters (the limit).")
        value = line[len(head) + 1:]
        in_zone = "VTIMEZONE" in self.stack
        if name == "BEGIN":
            self._begin(number, value.strip().upper())
            in_zone = "VTIMEZONE" in self.stack
        elif name == "END":
            if self.stack and self.stack[-1] == value.strip().upper():
                self.stack.pop()
                if self.stack[-1:] == ["VCALENDAR"] and value.strip().upper() == "VTIMEZONE":
                    self._end_zone(number)
        self._count_values(name, value)
        if in_zone:
            self._zone_property(number, name, value)
        else:
            self.out.append(self._without_tzid(number, head) + line[len(head):])

    def _count_values(self, name: str, value: str) -> None:
        if name in ("RRULE", "EXRULE"):
            self.rule_values += value.count(",") + value.count(";") + 1
            if self.rule_values > self.limits.max_rule_values:
                raise StructureRefused(f"has more than {self.limits.max_rule_values:,} parts and values in its "
                                       "repeating rules (the limit).")
        if name in ("RDATE", "EXDATE"):
            self.date_values += value.count(",") + 1
            if self.date_values > self.limits.max_date_values:
                raise StructureRefused(f"has more than {self.limits.max_date_values:,} RDATE and EXDATE dates "
                                       "(the limit).")

    def _without_tzid(self, number: int, head: str) -> str:
        """The name and parameters with TZID=... replaced by the TZID's index."""
        if "TZID" not in head.upper() and ZONE_PARAM not in head.upper():
            return head
        kept = []
        for n, param in enumerate(_PARAMS.findall(head)):
            key, _, value = param.partition("=")
            key = key.strip().upper()
            if n and key == "TZID":
                param = f"{ZONE_PARAM}={self._tzid_index(number, value.strip().strip(chr(34)))}"
            elif n and key == ZONE_PARAM:
                continue  # only this pass writes it
            kept.append(param)
        return ";".join(kept)

    def _tzid_index(self, number: int, tzid: str) -> int:
        if len(tzid) > self.limits.max_tzid_chars:
            raise StructureRefused(f"line {number}: a TZID longer than {self.limits.max_tzid_chars} characters "
                                   "(the limit).")
        if tzid not in self.tzids:
            if len(self.tzids) >= self.limits.max_zones:
                raise StructureRefused(f"uses more than {self.limits.max_zones} time zones (the limit).")
            self.tzids[tzid] = len(self.tzids)
        return self.tzids[tzid]

    def _zone_property(self, number: int, name: str, value: str) -> None:
        """Collect a VTIMEZONE's TZID and its observances' properties, as raw text."""
        if self.zone is None:  # its END line
            return
        tzid, observances = self.zone
        if len(self.stack) == 2 and name == "TZID":
            if len(value.strip()) > self.limits.max_tzid_chars:
                raise StructureRefused(f"line {number}: a TZID longer than {self.limits.max_tzid_chars} "
                                       "characters (the limit).")
            self.zone = (value.strip(), observances)
        elif len(self.stack) == 3 and name == "BEGIN":
            observances.append({})
        elif len(self.stack) == 3 and observances and name != "END":
            observances[-1].setdefault(name, []).append(value)

    def _end_zone(self, number: int) -> None:
        tzid, observances = self.zone
        self.zone = None
        if tzid is not None and tzid not in self.definitions:  # a second definition is ignored
            if len(self.definitions) >= self.limits.max_zones:
                raise StructureRefused(f"defines more than {self.limits.max_zones} time zones (the limit).")
            self.definitions[tzid] = observances

    def _begin(self, number: int, component: str) -> None:
        parent = self.stack[-1] if self.stack else None
        if component in _TOP_LEVEL and parent != "VCALENDAR":
            raise StructureRefused(f"line {number}: BEGIN:{component[:20]} inside {parent or 'nothing'}; "
                                   f"a {component[:20]} belongs directly in the VCALENDAR.")
        if len(self.stack) >= self.limits.max_depth:
            raise StructureRefused(f"line {number}: components nested deeper than {self.limits.max_depth} "
                                   "levels (the limit).")
        self.stack.append(component)
        if component == "VTIMEZONE":
            self.zone = (None, [])
        self.components += 1
        self.events += component == "VEVENT"
        if self.events > self.limits.max_events:
            raise StructureRefused(f"has more than {self.limits.max_events:,} events (the limit); export a "
                                   "shorter period.")
        if self.components > self.limits.max_components:
            raise StructureRefused(f"has more than {self.limits.max_components:,} components (the limit).")
