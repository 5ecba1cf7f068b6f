"""Clinic-wide auto-scheduling: integration sessions for uncovered windows, assigned optimally.

The assignment maximises, in this order: (a) windows covered, (b) windows covered inside
their optimal span, (c) sessions with the patient's own therapist. It is a maximum-weight
bipartite matching (windows x free therapist slots) solved exactly with the Hungarian
method (scipy's linear_sum_assignment); the weights are chosen so that no amount of a later
criterion can outweigh one unit of an earlier one. Pure: demands and slots come in.

Slots of one therapist must not overlap each other (the caller lays them on a grid at
least one session long), so any matching is a bookable schedule. One window per patient
per run keeps a patient from being booked twice at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import linear_sum_assignment


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
    ends = slot.ends_at or slot.starts_at
    return not any(start < ends and slot.starts_at < end for start, end in demand.patient_busy)


def score(assignments: list[Assignment]) -> tuple[int, int, int]:
    """(windows covered, covered in the optimal span, with the own therapist): compare as tuples."""
    return (len(assignments), sum(a.optimal for a in assignments), sum(a.own_therapist for a in assignments))


def assign(demands: list[Demand], slots: list[Slot]) -> list[Assignment]:
    """An assignment with the best score() there is (one slot per window, one window per slot)."""
    if not demands or not slots:
        return []
    n = len(demands)
    own, optimal = 1, n + 1                 # n own-therapist matches < one more optimal one
    cover = (n + 1) * (n + 1)               # every optimal + own bonus together < one more window
    value = np.zeros((n, len(slots)))
    for i, demand in enumerate(demands):
        for j, slot in enumerate(slots):
            if feasible(demand, slot):
                value[i, j] = (cover + optimal * (slot.starts_at < demand.optimal_until)
                               + own * (slot.therapist_id == demand.own_therapist_id))
    rows, cols = linear_sum_assignment(value, maximize=True)
    return [Assignment(demands[i], slots[j]) for i, j in zip(rows, cols) if value[i, j] > 0]


def greedy_earliest_first(demands: list[Demand], slots: list[Slot]) -> list[Assignment]:
    """What a scheduler without the optimiser does: each window, in turn, takes the earliest
    free slot that fits. Kept to show (in tests) what the optimal assignment wins."""
    taken, result = set(), []
    for demand in demands:
        for slot in sorted(slots, key=lambda s: (s.starts_at, s.key)):
            if slot.key not in taken and feasible(demand, slot):
                taken.add(slot.key)
                result.append(Assignment(demand, slot))
                break
    return result
