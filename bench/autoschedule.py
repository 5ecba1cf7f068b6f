"""Clinic-wide auto-schedule at scale: the exact solver against greedy earliest-first, one run.

    python bench/autoschedule.py [windows] [therapists] [days] [slots_per_day]

Prints the time of each and their ratio, and the score each reaches (windows covered, inside
the optimal span, with the own therapist). Synthetic and fictional; no database.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone

from ketamine_integration.domain.autoschedule import Demand, Slot, assign, greedy_earliest_first, score


def instance(windows: int, therapists: int, days: int, per_day: int, seed: int = 1):
    rng, start = random.Random(seed), datetime(2026, 6, 1, 13, tzinfo=timezone.utc)
    demands = []
    for key in range(windows):
        patient = key // 2 if key < windows // 3 else key          # a third of patients have two windows
        own = rng.randrange(therapists)
        opens = start + timedelta(hours=rng.uniform(0, 24 * (days - 2)))
        demands.append(Demand(key, patient, own, frozenset({own, rng.randrange(therapists)}), opens,
                              opens + timedelta(hours=48), opens + timedelta(days=rng.uniform(2, 10))))
    slots = []
    for therapist in range(therapists):
        for day in range(days):
            for hour in range(per_day):
                begins = start + timedelta(days=day, hours=hour)
                slots.append(Slot(len(slots), therapist, begins, begins + timedelta(minutes=50)))
    return demands, slots


def main() -> None:
    defaults = [300, 40, 14, 8]
    windows, therapists, days, per_day = [int(a) for a in sys.argv[1:5]] + defaults[len(sys.argv[1:5]):]
    demands, slots = instance(windows, therapists, days, per_day)
    t0 = time.perf_counter()
    exact = assign(demands, slots)
    t1 = time.perf_counter()
    greedy = greedy_earliest_first(demands, slots)
    t2 = time.perf_counter()
    print(f"{windows} windows, {therapists} therapists, {days} days, {len(slots)} slots")
    print(f"exact : {t1 - t0:7.3f} s  score {score(exact)}")
    print(f"greedy: {t2 - t1:7.3f} s  score {score(greedy)}")
    print(f"exact / greedy time: {(t1 - t0) / max(t2 - t1, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
