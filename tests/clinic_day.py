"""Dates a test module takes relative to today when it is imported (`TODAY`, a dose three days ago...),
kept true when a run crosses midnight in the clinic's zone (the tests' process keeps that zone).

A module-level `TODAY = date.today()` was taken at collection: a run that went on past midnight
(05:00 UTC in winter) compared it with the app's new day, and five tests failed that way one night.
A module now makes such a value through `follows_the_day`; before each test's fixtures are set up,
`catch_up` (tests/conftest.py's pytest_runtest_setup) makes again every value made on another day than today, in its own
module and in every test module that imported it by name.

Only names bound to the value are followed: a value copied into a container, a default argument, a
closure or a `parametrize` list at collection is not, so those take their dates when they run (a
lambda in the parameters, a default of None)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

Value = TypeVar("Value")


@dataclass
class _Kept:
    namespace: dict              #: the module's globals()
    name: str
    make: Callable[[], object]
    day: date                    #: the day it was made on, in the process's zone then


_KEPT: list[_Kept] = []


def follows_the_day(namespace: dict, name: str, make: Callable[[], Value],
                    today: Callable[[], date] = date.today) -> Value:
    """make(), to be bound to `name` in `namespace` (a module's globals()), made again after midnight.
    Each value keeps the day it was made on (the process already in the clinic's zone: test modules
    are imported after tests/conftest.py sets it), so no day is taken before the zone is."""
    value = make()
    _KEPT.append(_Kept(namespace, name, make, today()))
    return value


def _is_test_module(name: str) -> bool:
    return name == "tests" or name.startswith("tests.")


def catch_up(today: Callable[[], date] = date.today, modules: dict | None = None) -> int:
    """Every kept value made on another day than today made again, bound in its own module and put
    wherever a test module holds the old one (the object itself, not an equal one: a module's fixed
    date that happens to fall on the same day is left alone). Returns how many were made again."""
    now = today()
    stale = [kept for kept in _KEPT if kept.day != now]
    if not stale:
        return 0
    fresh = {}
    for kept in stale:
        old, new = kept.namespace.get(kept.name), kept.make()
        fresh[id(old)] = (old, new)       # the old object held here, so its id is not reused meanwhile
        kept.namespace[kept.name], kept.day = new, now
    for module_name, module in list((sys.modules if modules is None else modules).items()):
        if module is None or not _is_test_module(module_name):
            continue
        holder = vars(module)
        for key, value in list(holder.items()):
            found = fresh.get(id(value))
            if found is not None and found[0] is value:
                holder[key] = found[1]
    return len(stale)


def at_run(value):
    """A `parametrize` value given as a lambda, so that it is taken when the test runs rather than at
    collection (a date relative to today): its value; any other value as it is."""
    return value() if callable(value) else value


def at_run_all(values: dict) -> dict:
    """A dict of such values with each taken now."""
    return {key: at_run(value) for key, value in values.items()}
