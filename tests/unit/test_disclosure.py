"""Small-cell disclosure control (domain/disclosure.py, issue 25 review): which lines a page of aggregates
hides, and the calendar quarters it offers."""
from datetime import date

import pytest

from ketamine_integration.domain.disclosure import (
    COMPLEMENT, SHARED, SMALL, Line, Quarter, Table, hidden_lines, quarters_between,
)


def _world(sizes: dict[str, int]):
    """One table: groups of the given numbers of courses (one patient each) under an overall line."""
    units, n = {}, 0
    for group, size in sizes.items():
        units[group] = frozenset(range(n, n + size))
        n += size
    lines = {g: Line(g, {"courses": u}) for g, u in units.items()}
    lines["all"] = Line("all", {"courses": frozenset(range(n))})
    return lines, [Table("all", tuple(sizes))], {u: u for u in range(n)}


@pytest.mark.parametrize("sizes, hidden", [
    # every group large enough: nothing hidden
    ({"a": 5, "b": 6}, {}),
    # one small group: the next-smallest goes too, or the total minus the other gives it away
    ({"a": 1, "b": 6, "c": 7}, {"a": SMALL, "b": COMPLEMENT}),
    # two small groups covering 5 patients together: enough, nothing more hidden
    ({"a": 1, "b": 4, "c": 6}, {"a": SMALL, "b": SMALL}),
    # two small groups covering 2 together: another goes, then 8 are hidden
    ({"a": 1, "b": 1, "c": 6, "d": 9}, {"a": SMALL, "b": SMALL, "c": COMPLEMENT}),
    # a group of 4 and one of 5: both hidden, the total stays (9 patients)
    ({"a": 4, "b": 5}, {"a": SMALL, "b": COMPLEMENT}),
    # a single group under the minimum: the total is the same patients, too few, hidden as small
    ({"a": 4}, {"a": SMALL, "all": SMALL}),
])
def test_complementary_suppression_within_a_table(sizes, hidden):
    lines, tables, person = _world(sizes)
    assert hidden_lines(lines, tables, person, 5) == hidden


def test_a_group_nested_in_another_with_a_few_patients_between_is_hidden():
    # therapist T's 5 courses are all protocol A's 6: A minus T would be one patient
    a, t = frozenset(range(6)), frozenset(range(5))
    everyone = frozenset(range(12))
    lines = {"all": Line("all", {"courses": everyone}), "A": Line("A", {"courses": a}),
             "B": Line("B", {"courses": everyone - a}), "T": Line("T", {"courses": t}),
             "U": Line("U", {"courses": everyone - t})}
    tables = [Table("all", ("A", "B")), Table("all", ("T", "U"))]
    hidden = hidden_lines(lines, tables, {u: u for u in everyone}, 5)
    # T goes for A; then the therapists' table has one hidden group, so U goes too
    assert hidden == {"T": COMPLEMENT, "U": COMPLEMENT}


def test_patients_not_courses_are_counted():
    # five courses of four patients are fewer than five patients
    lines, tables, _ = _world({"a": 5, "b": 9})
    person = {u: (0 if u == 1 else u) for u in range(14)}
    assert hidden_lines(lines, tables, person, 5) == {"a": SMALL, "b": COMPLEMENT}


def test_a_figure_shown_on_two_lines_is_hidden_from_both():
    units = frozenset(range(3))
    lines = {"phq": Line("phq", {"courses": frozenset(range(10)), "measured": units}),
             "sessions": Line("sessions", {"courses": frozenset(range(10))})}
    hidden = hidden_lines(lines, [], {u: u for u in range(10)}, 5)
    assert hidden == {"phq": SMALL}


def _tree(protocols: dict[str, dict[str, list[int]]]):
    """The total, its protocols, each protocol's therapists: {protocol: {therapist: [patient per course]}}.
    A course is a unit; the patients given say whose (one patient may appear under two groups)."""
    lines, person, tables, every = {}, {}, [], []
    for p, therapists in protocols.items():
        of_protocol = []
        for t, patients in therapists.items():
            units = [len(person) + i for i in range(len(patients))]
            person.update(zip(units, patients))
            lines[t] = Line(t, {"courses": frozenset(units)})
            of_protocol += units
        lines[p] = Line(p, {"courses": frozenset(of_protocol)})
        tables.append(Table(p, tuple(therapists)))
        every += of_protocol
    lines["all"] = Line("all", {"courses": frozenset(every)})
    return lines, [Table("all", tuple(protocols)), *tables], person


@pytest.mark.parametrize("protocols, hidden", [
    # the three-figure case: P is T1's 5, T2's 5 and x under T3; T3 is hidden, then the smaller of T1
    # and T2 (a tie: the first), so P less the shown therapist is 6 patients
    ({"P": {"T1": [1, 2, 3, 4, 5], "T2": [6, 7, 8, 9, 10], "T3": [11]}, "Q": {"T4": list(range(20, 26))}},
     {"T3": SMALL, "T1": COMPLEMENT}),
    # a patient (1) under two therapists of one protocol: both therapists hidden, the protocol shown
    ({"P": {"T1": [1, 2, 3, 4, 5, 6], "T2": [1, 7, 8, 9, 10, 11]}, "Q": {"T3": list(range(20, 26))}},
     {"T1": SHARED, "T2": SHARED}),
    # a patient (1) in two protocols: both protocols hidden and their therapists with them; 12 patients
    # hidden together, so the third protocol stays
    ({"P": {"T1": [1, 2, 3, 4, 5, 6]}, "Q": {"T2": [1, 7, 8, 9, 10, 11]}, "R": {"T3": list(range(20, 26))}},
     {"P": SHARED, "Q": SHARED, "T1": COMPLEMENT, "T2": COMPLEMENT}),
    # a protocol hidden as the complement of a small one hides its therapists, however many patients each
    ({"P": {"T1": [1, 2, 3, 4, 5], "T2": [6, 7, 8, 9, 10]}, "Q": {"T3": [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]},
      "R": {"T4": [40]}}, {"R": SMALL, "T4": SMALL, "P": COMPLEMENT, "T1": COMPLEMENT, "T2": COMPLEMENT}),
    # a protocol of one therapist: the therapist's figures are the protocol's, nothing to work out
    ({"P": {"T1": [1, 2, 3, 4, 5]}, "Q": {"T2": [6, 7, 8, 9, 10]}}, {}),
])
def test_suppression_runs_down_the_tree(protocols, hidden):
    lines, tables, person = _tree(protocols)
    assert hidden_lines(lines, tables, person, 5) == hidden


@pytest.mark.parametrize("day, key, first, last", [
    (date(2026, 1, 1), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),      # the year's first day
    (date(2026, 3, 31), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),     # a quarter's last day
    (date(2026, 11, 1), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),   # the autumn change of clock
    (date(2028, 2, 29), "2028-Q1", date(2028, 1, 1), date(2028, 3, 31)),     # a leap day
])
def test_a_day_s_quarter_and_its_first_and_last_days(day, key, first, last):
    quarter = Quarter.of(day)
    assert (quarter.key, quarter.first_day, quarter.last_day) == (key, first, last)
    assert Quarter.parse(key) == quarter


@pytest.mark.parametrize("text", ["2026-Q5", "2026-Q0", "26-Q1", "2026Q1", "2026-Q1 ", "", "２０２６-Q1"])
def test_anything_but_a_quarter_key_is_no_quarter(text):
    assert Quarter.parse(text) is None


def test_the_quarters_offered_run_newest_first_and_never_overlap():
    quarters = quarters_between(date(2025, 11, 20), date(2026, 5, 2))
    assert [q.key for q in quarters] == ["2026-Q2", "2026-Q1", "2025-Q4"]
    spans = sorted((q.first_day, q.last_day) for q in quarters)
    assert all(earlier[1] < later[0] for earlier, later in zip(spans, spans[1:]))
    assert quarters_between(date(2026, 5, 2), date(2026, 1, 1)) == []
