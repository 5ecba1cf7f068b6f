"""Dates a test module takes relative to today when it is imported (`TODAY`, a dose three days ago...),
kept true when a run crosses midnight in the clinic's zone (the tests' process keeps that zone).

A module-level `TODAY = date.today()` was taken at collection: a run that went on past midnight
(05:00 UTC in winter) compared it with the app's new day, and five tests failed that way one night.
A module now makes such a value through `follows_the_day`; before each test, `catch_up` (an autouse
fixture in tests/conftest.py) makes every one of them again once the day has changed, in its own module
and in every test module that imported it by name."""
from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TypeVar

Value = TypeVar("Value")

#: (the module's namespace, the name, how to make the value) for every value that follows the day
_KEPT: list[tuple[dict, str, Callable[[], object]]] = []
_day = date.today()


def follows_the_day(namespace: dict, name: str, make: Callable[[], Value]) -> Value:
    """make(), to be bound to `name` in `namespace` (a module's globals()), made again after midnight."""
    _KEPT.append((namespace, name, make))
    return make()


def catch_up(today: Callable[[], date] = date.today, modules: dict | None = None) -> bool:
    """When the day has changed since the last call: every value kept by follows_the_day made again and
    put wherever a test module holds the old one (the object itself, not an equal one: a module's fixed
    date that happens to fall on the same day is left alone). Returns whether it did."""
    global _day
    now = today()
    if now == _day:
        return False
    _day = now
    fresh = {}
    for namespace, name, make in _KEPT:
        old = namespace.get(name)
        fresh[id(old)] = (old, make())
    for module_name, module in list((sys.modules if modules is None else modules).items()):
        if module is None or not module_name.startswith("tests"):
            continue
        holder = vars(module)
        for key, value in list(holder.items()):
            found = fresh.get(id(value))
            if found is not None and found[0] is value:
                holder[key] = found[1]
    return True
