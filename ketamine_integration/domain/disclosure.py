"""Small-cell disclosure control for a page of aggregate figures (issue 25 review): the calendar quarters a
page may be asked for, and which of its lines are hidden so that no figure about fewer than a minimum of
patients is shown, nor left to be worked out by subtracting one shown figure from another.

A line (a table's row) carries figures of one or more kinds ("courses": counted over the group's courses;
"measured": over those with a baseline and a later score); each kind is counted over a set of units
(courses), and a unit belongs to a patient. Two figures of one kind over nested sets subtract into that
figure for the difference, and a table's overall figure minus its shown groups gives the hidden groups'
sum. The rule is complementary suppression, as statistical offices apply it to frequency tables
(Hundepool et al., Statistical Disclosure Control, 2012, ch. 4): a line about fewer patients than the
minimum is hidden; while a table's hidden groups are exactly one, or together cover fewer patients than
the minimum, its next-smallest shown group is hidden too (and, when none is left, its overall line); a
figure nested in another with fewer patients between them than the minimum is hidden.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

#: why a line is hidden: its own patients are too few; or it would let a hidden line be worked out
SMALL = "small"
COMPLEMENT = "complement"


@dataclass(frozen=True)
class Line:
    key: str
    #: kind of figure -> the units (courses) the line's figures of that kind are counted over
    figures: Mapping[str, frozenset]


@dataclass(frozen=True)
class Table:
    """Lines that add up: the groups (one grouping: protocols, therapists) partition the overall line."""
    overall: str
    groups: tuple[str, ...]


Figure = tuple[str, frozenset]
Size = Callable[[frozenset], int]


def hidden_lines(lines: Mapping[str, Line], tables: Sequence[Table], person_of: Mapping[Hashable, Hashable],
                 min_group: int) -> dict[str, str]:
    """Every line to hide, with why (SMALL or COMPLEMENT). A figure shown on two lines (a protocol's
    courses in two tables) is hidden from both or neither. Sizes count patients, not courses: a patient
    with two courses in a group is one of its patients."""
    def size(units: frozenset) -> int:
        return len({person_of[u] for u in units})
    hidden = {k: SMALL for k, line in lines.items() if any(size(s) < min_group for s in line.figures.values())}
    while True:
        shown = {(kind, units) for k, line in lines.items() if k not in hidden for kind, units in line.figures.items()}
        figure = _complement_of_a_table(lines, tables, shown, size, min_group) or _nested(shown, size, min_group)
        if figure is None:
            return hidden
        kind, units = figure
        hidden.update({k: COMPLEMENT for k, line in lines.items()
                       if k not in hidden and line.figures.get(kind) == units})


def _complement_of_a_table(lines, tables, shown: set[Figure], size: Size, min_group: int) -> Figure | None:
    """The next figure a table must hide so its hidden groups cannot be recovered from the rest."""
    for table in tables:
        for kind, overall in lines[table.overall].figures.items():
            if (kind, overall) not in shown:
                continue
            groups = [lines[g].figures[kind] for g in table.groups if lines[g].figures.get(kind)]
            showing = sorted((units for units in groups if (kind, units) in shown), key=lambda u: (size(u), sorted(u)))
            hidden_count = len(groups) - len(showing)
            rest = overall.difference(*showing)
            if hidden_count == 1 or 0 < size(rest) < min_group:
                return (kind, showing[0]) if showing else (kind, overall)
    return None


def _nested(shown: set[Figure], size: Size, min_group: int) -> Figure | None:
    """A shown figure inside another of its kind with between 1 and min_group - 1 patients between them."""
    for kind, inner in sorted(shown, key=lambda f: (f[0], len(f[1]), sorted(f[1]))):
        for other_kind, outer in shown:
            if other_kind == kind and inner < outer and 0 < size(outer - inner) < min_group:
                return kind, inner
    return None


# -- periods: fixed calendar quarters, so that two periods never overlap --------------------------------

#: ASCII digits only: str.isdigit and int() take full-width ones too
_QUARTER_KEY = re.compile(r"([0-9]{4})-Q([1-4])", re.ASCII)


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1-4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter | None:
        """"2026-Q3" -> Quarter(2026, 3); None for anything else."""
        found = _QUARTER_KEY.fullmatch(text)
        return cls(int(found[1]), int(found[2])) if found else None

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        following = Quarter(self.year + self.number // 4, self.number % 4 + 1)
        return date.fromordinal(following.first_day.toordinal() - 1)

    @property
    def label(self) -> str:
        return f"{self.first_day:%B} to {self.last_day:%B} {self.year} (Q{self.number})"


def quarters_between(first: date, last: date) -> list[Quarter]:
    """The quarters from `first`'s to `last`'s, newest first (none when `first` is after `last`)."""
    quarter, end, found = Quarter.of(first), Quarter.of(last), []
    while quarter <= end:
        found.append(quarter)
        quarter = Quarter(quarter.year + quarter.number // 4, quarter.number % 4 + 1)
    return found[::-1]
