"""Small-cell disclosure control for a page of aggregate figures (issue 25 review): the calendar quarters a
page may be asked for, and which of its lines are hidden so that no linear combination of the figures
shown isolates fewer than a minimum of patients.

A line (a table's row) carries figures of one or more kinds ("courses": counted over the group's courses;
"measured": over those with a baseline and a later score); each kind is counted over a set of units
(courses), and a unit belongs to a patient. The page's groupings form a tree (the total, its protocols,
each protocol's therapists): a table is one node and its children, which partition it. Suppression is
complementary, as statistical offices apply it to frequency tables (Hundepool et al., Statistical
Disclosure Control, 2012, ch. 4), run top-down: a line about fewer patients than the minimum is hidden;
children sharing a patient are hidden (a patient in two blocks would be the difference of their sum and
the node); while a node's hidden children are exactly one, or together cover fewer patients than the
minimum, its next-smallest shown child is hidden too (and, when none is left, the node); a hidden node
hides its children. Every set of patients the shown figures can be combined into is then a union of
blocks of at least the minimum (tests/integration/test_outcomes_disclosure.py attacks it by rank). A
figure nested in another with fewer patients between them than the minimum is hidden as well.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

#: why a line is hidden: its own patients are too few; it would let a hidden line be worked out (or its
#: node is hidden); a patient of its is counted under another line of its table too
SMALL = "small"
COMPLEMENT = "complement"
SHARED = "shared"


@dataclass(frozen=True)
class Line:
    key: str
    #: kind of figure -> the units (courses) the line's figures of that kind are counted over
    figures: Mapping[str, frozenset]


@dataclass(frozen=True)
class Table:
    """A node of the tree and its children: the groups (a node's protocols, or one protocol's therapists)
    partition the overall line's courses."""
    overall: str
    groups: tuple[str, ...]


Figure = tuple[str, frozenset]
Size = Callable[[frozenset], int]


def hidden_lines(lines: Mapping[str, Line], tables: Sequence[Table], person_of: Mapping[Hashable, Hashable],
                 min_group: int) -> dict[str, str]:
    """Every line to hide, with why (SMALL, COMPLEMENT or SHARED). A figure shown on two lines (a protocol's
    courses in two tables) is hidden from both or neither. Sizes count patients, not courses: a patient
    with two courses in a group is one of its patients."""
    def size(units: frozenset) -> int:
        return len({person_of[u] for u in units})
    hidden = {k: SMALL for k, line in lines.items() if any(size(s) < min_group for s in line.figures.values())}
    for k in _sharing_a_patient(lines, tables, person_of):
        hidden.setdefault(k, SHARED)
    while True:
        orphan = _child_of_a_hidden_node(tables, hidden)
        if orphan is not None:  # a hidden node hides its children: one alone would be the node's figures
            hidden[orphan] = COMPLEMENT
            continue
        shown = _shown_figures(lines, hidden)
        figure = _complement_of_a_table(lines, tables, shown, size, min_group) or _nested(shown, size, min_group)
        if figure is None:
            return hidden
        kind, units = figure
        hidden.update({k: COMPLEMENT for k, line in lines.items()
                       if k not in hidden and line.figures.get(kind) == units})


def _child_of_a_hidden_node(tables: Sequence[Table], hidden: Mapping[str, str]) -> str | None:
    return next((g for t in tables if t.overall in hidden for g in t.groups if g not in hidden), None)


def _shown_figures(lines: Mapping[str, Line], hidden: Mapping[str, str]) -> set[Figure]:
    return {(kind, units) for k, line in lines.items() if k not in hidden for kind, units in line.figures.items()}


def _sharing_a_patient(lines, tables, person_of) -> set[str]:
    """The groups of a table that share a patient with another of its groups (a patient with courses under
    two therapists, or two protocols): both sets' sum less their node would be that patient."""
    sharing = set()
    for table in tables:
        patients = {g: {person_of[u] for units in lines[g].figures.values() for u in units} for g in table.groups}
        for g, mine in patients.items():
            if any(mine & theirs for other, theirs in patients.items() if other != g):
                sharing.add(g)
    return sharing


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
