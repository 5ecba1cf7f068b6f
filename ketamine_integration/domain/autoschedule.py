"""Clinic-wide auto-scheduling: integration sessions for uncovered windows, assigned optimally.

The assignment maximises, in this order: (a) windows covered, (b) windows covered inside
their optimal span, (c) sessions with the patient's own therapist. The weights are chosen
so that no amount of a later criterion can outweigh one unit of an earlier one. Pure:
demands and slots come in.

Every uncovered window of every patient is a demand, so a patient with several open windows
may get several sessions in one run, but never two at overlapping times. That side
condition makes it more than a bipartite matching: it is solved exactly as a 0-1 integer
programme (scipy's milp, HiGHS branch and cut, with a zero optimality gap):

    maximise   sum weight(d, s) x[d, s]           over feasible (window d, slot s) pairs
    subject to each window takes at most one slot, each slot serves at most one window,
               and for each patient and each instant t, at most one of their chosen slots
               contains t (checking t at every slot start suffices: overlapping intervals
               always share the later one's start).

Slots of one therapist must not overlap each other (the caller lays them on a grid at
least one session long), so any solution is a bookable schedule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Demand:
    """An uncovered window that needs one integration session."""

    key: int
    patient_id: int
    own_therapist_id: int
    therapist_ids: frozenset[int]  # who may see this patient (care team)
    opens: datetime
    optimal_until: datetime
    closes: datetime
    #: (start, end) of the patient's other appointments: a slot overlapping one is not theirs
    patient_busy: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class Slot:
    key: int
    therapist_id: int
    starts_at: datetime
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    demand: Demand
    slot: Slot

    @property
    def optimal(self) -> bool:
        return self.slot.starts_at < self.demand.optimal_until

    @property
    def own_therapist(self) -> bool:
        return self.slot.therapist_id == self.demand.own_therapist_id


def feasible(demand: Demand, slot: Slot) -> bool:
    if slot.therapist_id not in demand.therapist_ids or not demand.opens <= slot.starts_at < demand.closes:
        return False
    if slot.ends_at is None:  # an instant: busy if it falls inside one of the patient's appointments
        return not any(start <= slot.starts_at < end for start, end in demand.patient_busy)
    return not any(start < slot.ends_at and slot.starts_at < end for start, end in demand.patient_busy)


def score(assignments: list[Assignment]) -> tuple[int, int, int]:
    """(windows covered, covered in the optimal span, with the own therapist): compare as tuples."""
    return (len(assignments), sum(a.optimal for a in assignments), sum(a.own_therapist for a in assignments))


def _contains(slot: Slot, instant: datetime) -> bool:
    """Is `instant` inside the slot? (A slot without an end is the instant it starts.)"""
    return instant == slot.starts_at or slot.starts_at <= instant < (slot.ends_at or slot.starts_at)


def overlap(a: Slot, b: Slot) -> bool:
    return _contains(a, b.starts_at) or _contains(b, a.starts_at)


def assign(demands: list[Demand], slots: list[Slot]) -> list[Assignment]:
    """An assignment with the best score() there is: each window at most one slot, each slot
    at most one window, no patient in two overlapping slots."""
    pairs = _candidate_pairs(demands, slots)
    if not pairs:
        return []
    chosen = _solve(_weights(demands, slots, pairs), _exclusive_rows(demands, slots, pairs), len(pairs))
    return [Assignment(demands[i], slots[j]) for i, j in (pairs[k] for k in chosen)]


def _candidate_pairs(demands: list[Demand], slots: list[Slot]) -> list[tuple[int, int]]:
    """(window index, slot index) for each slot of an eligible therapist that fits the window."""
    by_therapist: dict[int, list[int]] = {}
    for j, slot in enumerate(slots):
        by_therapist.setdefault(slot.therapist_id, []).append(j)
    return [(i, j) for i, demand in enumerate(demands) for t in sorted(demand.therapist_ids)
            for j in by_therapist.get(t, ()) if feasible(demand, slots[j])]


def _weights(demands: list[Demand], slots: list[Slot], pairs: list[tuple[int, int]]) -> np.ndarray:
    """Each pair's worth, scaled so that covering a window beats any number of optimal or
    own-therapist bonuses, and one optimal match beats any number of own-therapist ones."""
    n = len(demands)
    own, optimal = 1, n + 1                 # n own-therapist matches < one more optimal one
    cover = (n + 1) * (n + 1)               # every optimal + own bonus together < one more window
    return np.array([cover + optimal * (slots[j].starts_at < demands[i].optimal_until)
                     + own * (slots[j].therapist_id == demands[i].own_therapist_id) for i, j in pairs], float)


def _exclusive_rows(demands: list[Demand], slots: list[Slot], pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Sets of pairs of which at most one may be chosen: those of one window, of one slot, and
    of one patient's slots that overlap at some instant."""
    per_window: dict[int, list[int]] = {}
    per_slot: dict[int, list[int]] = {}
    by_patient: dict[int, list[int]] = {}
    for k, (i, j) in enumerate(pairs):
        per_window.setdefault(i, []).append(k)
        per_slot.setdefault(j, []).append(k)
        by_patient.setdefault(demands[i].patient_id, []).append(k)
    rows = list(per_window.values()) + list(per_slot.values())
    for ks in by_patient.values():
        if len({pairs[k][0] for k in ks}) < 2:
            continue  # one window: the slot-per-window row already allows a single session
        rows.extend(_overlap_cliques(slots, pairs, ks))
    return [r for r in rows if len(r) > 1]


def _overlap_cliques(slots: list[Slot], pairs: list[tuple[int, int]], ks: list[int]) -> list[list[int]]:
    """One patient's pairs whose slots all contain some instant (checking each slot start suffices)."""
    cliques = []
    for instant in sorted({slots[pairs[k][1]].starts_at for k in ks}):
        clique = [k for k in ks if _contains(slots[pairs[k][1]], instant)]
        if len(clique) > 1:
            cliques.append(clique)
    return cliques


def _solve(weight: np.ndarray, rows: list[list[int]], size: int) -> list[int]:
    """The pairs (indices) of a 0-1 choice with the largest total weight, at most one per row."""
    # imported on the first solve: scipy's optimiser costs every server process 0.7 s to import
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    constraints = []
    if rows:
        row_ids = [r for r, ks in enumerate(rows) for _ in ks]
        matrix = coo_array((np.ones(len(row_ids)), (row_ids, [k for ks in rows for k in ks])),
                           shape=(len(rows), size))
        constraints = [LinearConstraint(matrix.tocsr(), ub=np.ones(len(rows)))]
    result = milp(-weight, integrality=np.ones(size), bounds=Bounds(0, 1), constraints=constraints,
                  options={"mip_rel_gap": 0.0})
    if not result.success:  # a 0-1 programme with x = 0 feasible always has an optimum
        raise RuntimeError(f"auto-schedule solver failed: {result.message}")
    return list(np.flatnonzero(result.x > 0.5))


def greedy_earliest_first(demands: list[Demand], slots: list[Slot]) -> list[Assignment]:
    """What a scheduler without the optimiser does: each window, in turn, takes the earliest
    free slot that fits. Kept to show (in tests) what the optimal assignment wins."""
    taken, result = set(), []
    for demand in demands:
        for slot in sorted(slots, key=lambda s: (s.starts_at, s.key)):
            if slot.key not in taken and feasible(demand, slot) and not any(
                    a.demand.patient_id == demand.patient_id and overlap(a.slot, slot) for a in result):
                taken.add(slot.key)
                result.append(Assignment(demand, slot))
                break
    return result


def rooms_for(assignments: list[Assignment], rooms: list[int],
              taken: dict[int, list[tuple[datetime, datetime]]]) -> dict[int, int | None]:
    """The room each assignment's session is proposed in (by window key): the first of `rooms` (in
    the clinic's order) free all through it, neither booked (`taken`: each room's booked spans)
    nor proposed already for an overlapping session of this run; None: telehealth."""
    proposed = {room: list(spans) for room, spans in taken.items()}
    chosen: dict[int, int | None] = {}
    for a in sorted(assignments, key=lambda a: (a.slot.starts_at, a.demand.key)):
        span = (a.slot.starts_at, a.slot.ends_at or a.slot.starts_at)
        room = next((r for r in rooms if not any(start < span[1] and span[0] < end
                                                  for start, end in proposed.get(r, []))), None)
        if room is not None:
            proposed.setdefault(room, []).append(span)
        chosen[a.demand.key] = room
    return chosen
