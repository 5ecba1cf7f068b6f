"""The auto-scheduler is optimal: checked against brute force, and against greedy."""
import itertools
import random
from datetime import datetime, timedelta, timezone

import pytest

from ketamine_integration.domain.autoschedule import (Assignment, Demand, Slot, assign, feasible,
                                                      greedy_earliest_first, overlap, rooms_for, score)

T0 = datetime(2026, 6, 1, 9, tzinfo=timezone.utc)


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


def demand(key, opens, closes, optimal=None, own=1, therapists=(1, 2), patient=None):
    return Demand(key=key, patient_id=patient or key, own_therapist_id=own, therapist_ids=frozenset(therapists),
                  opens=day(opens), optimal_until=day(optimal if optimal is not None else opens + 1),
                  closes=day(closes))


def valid(assignments) -> bool:
    """Each slot once, each window once, every pair feasible, no patient in two overlapping slots."""
    return (len({a.slot.key for a in assignments}) == len(assignments) == len({a.demand.key for a in assignments})
            and all(feasible(a.demand, a.slot) for a in assignments)
            and not any(a.demand.patient_id == b.demand.patient_id and overlap(a.slot, b.slot)
                        for a, b in itertools.combinations(assignments, 2)))


def brute_force(demands, slots):
    """Try every way of giving each window a slot or none; keep the best score of the valid ones."""
    best = (0, 0, 0)
    options = [[None] + [s for s in slots if feasible(d, s)] for d in demands]
    for choice in itertools.product(*options):
        assignments = [Assignment(d, s) for d, s in zip(demands, choice) if s is not None]
        if valid(assignments):
            best = max(best, score(assignments))
    return best


def random_instance(rng):
    """Up to 5 windows of up to 3 patients (so a patient often has overlapping windows), and up
    to 6 slots of 3 therapists, one therapist's slots never overlapping each other."""
    demands = []
    for key in range(rng.randint(1, 5)):
        opens = rng.uniform(0, 4)
        closes = opens + rng.uniform(0.5, 5)
        demands.append(demand(key, opens, closes, optimal=opens + rng.uniform(0, closes - opens),
                              own=rng.choice((1, 2, 3)), therapists=rng.sample((1, 2, 3), rng.randint(1, 3)),
                              patient=rng.choice((10, 11, 12))))
    slots = []
    for k in range(rng.randint(0, 6)):
        therapist, start = rng.choice((1, 2, 3)), day(rng.randint(0, 32) / 4)  # quarter-day grid
        slot = Slot(key=k, therapist_id=therapist, starts_at=start, ends_at=start + timedelta(hours=rng.choice((1, 5))))
        if not any(s.therapist_id == therapist and overlap(s, slot) for s in slots):
            slots.append(slot)
    return demands, slots


@pytest.mark.parametrize("seed", range(300))
def test_assignment_matches_brute_force_on_random_small_instances(seed):
    demands, slots = random_instance(random.Random(seed))
    result = assign(demands, slots)
    assert valid(result)
    assert score(result) == brute_force(demands, slots)


def test_random_instances_exercise_patients_with_several_windows():
    # The optimality test above means something only if the side condition binds sometimes.
    binding = 0
    for seed in range(300):
        demands, slots = random_instance(random.Random(seed))
        result = assign(demands, slots)
        patients = [d.patient_id for d in demands]
        binding += len(set(patients)) < len(patients) and len(result) > 1
    assert binding > 30


def test_a_patient_with_two_windows_gets_two_sessions_never_at_once():
    # Two windows of one patient; two therapists free at the same hour, one more slot later.
    w1, w2 = demand(1, 0, 2, patient=7), demand(2, 0, 4, patient=7)
    same_hour = [Slot(1, 1, day(1), day(1) + timedelta(hours=1)), Slot(2, 2, day(1), day(1) + timedelta(hours=1))]
    later = Slot(3, 1, day(3), day(3) + timedelta(hours=1))
    result = assign([w1, w2], same_hour + [later])
    assert len(result) == 2 and valid(result)
    assert {a.slot.starts_at for a in result} == {day(1), day(3)}
    assert len(assign([w1, w2], same_hour)) == 1  # without the later slot only one can be held


def test_greedy_earliest_first_loses_a_window_the_optimum_covers():
    # W1 is open for days; W2 closes tomorrow. Greedy gives W1 the only slot inside W2.
    w1, w2 = demand(1, 0, 5), demand(2, 0, 1)
    early, later = Slot(1, 1, day(0.5)), Slot(2, 1, day(3))
    greedy = greedy_earliest_first([w1, w2], [early, later])
    optimal = assign([w1, w2], [early, later])
    assert score(greedy)[0] == 1
    assert score(optimal)[0] == 2


@pytest.mark.parametrize("slots, expected_therapist, why", [
    # the optimal span outranks the own therapist
    ([Slot(1, 2, day(0.2)), Slot(2, 1, day(2))], 2, "optimal slot with another therapist wins"),
    # with both in the optimal span, the own therapist wins
    ([Slot(1, 2, day(0.2)), Slot(2, 1, day(0.5))], 1, "own therapist inside the optimal span"),
])
def test_tie_breaks(slots, expected_therapist, why):
    [a] = assign([demand(1, 0, 5, optimal=1, own=1)], slots)
    assert a.slot.therapist_id == expected_therapist, why


def test_no_slot_for_a_therapist_off_the_care_team():
    assert assign([demand(1, 0, 5, therapists=(1,))], [Slot(1, 9, day(1))]) == []


def test_empty_inputs():
    assert assign([], [Slot(1, 1, day(1))]) == [] and assign([demand(1, 0, 1)], []) == []


def test_a_slot_without_an_end_is_the_instant_it_starts():
    busy = (day(1), day(1) + timedelta(hours=1))
    window = Demand(1, 7, 1, frozenset({1}), day(0), day(2), day(3), patient_busy=(busy,))
    assert overlap(Slot(1, 1, day(1)), Slot(2, 2, *busy))
    assert not feasible(window, Slot(1, 1, day(1)))                  # at the start of an appointment: busy
    assert feasible(window, Slot(1, 1, day(1) + timedelta(hours=1)))  # at its end: free


def _at(key, start_hours, therapist=1, hours=1):
    """An assignment of window `key` to a session `start_hours` after T0, `hours` long."""
    start = T0 + timedelta(hours=start_hours)
    return Assignment(demand(key, 0, 14), Slot(key=key, therapist_id=therapist, starts_at=start,
                                               ends_at=start + timedelta(hours=hours)))


def _span(start_hours, hours=1):
    return (T0 + timedelta(hours=start_hours), T0 + timedelta(hours=start_hours + hours))


@pytest.mark.parametrize("assignments, rooms, taken, expected", [
    ([_at(1, 0)], [10, 20], {}, {1: 10}),                                   # the clinic's first room
    ([_at(1, 0)], [], {}, {1: None}),                                       # no rooms at all: telehealth
    ([_at(1, 0)], [10, 20], {10: [_span(0)]}, {1: 20}),                     # first room booked then
    ([_at(1, 0)], [10], {10: [_span(-1)]}, {1: 10}),                        # booked right before: free
    ([_at(1, 0)], [10], {10: [_span(0.5)]}, {1: None}),                     # overlapping booking: telehealth
    ([_at(1, 0), _at(2, 0, therapist=2)], [10, 20], {}, {1: 10, 2: 20}),    # same hour: one room each
    ([_at(1, 0), _at(2, 0, therapist=2)], [10], {}, {1: 10, 2: None}),      # one room: the second by telehealth
    ([_at(2, 1), _at(1, 0)], [10], {}, {1: 10, 2: 10}),                     # one after the other: the same room
])
def test_each_proposed_session_gets_the_first_room_free_all_through_it(assignments, rooms, taken, expected):
    assert rooms_for(assignments, rooms, taken) == expected
