"""tests/clinic_day.py: a run that crosses midnight makes the modules' dates of today again, in the
module that made them and in every test module that imported them by name, and nothing else."""
from datetime import date, timedelta
from types import ModuleType

from tests import clinic_day

DAY = date(2026, 12, 6)
NEXT = DAY + timedelta(days=1)


def _module(name: str, **values) -> ModuleType:
    module = ModuleType(name)
    vars(module).update(values)
    return module


def test_after_midnight_the_values_are_made_again_where_made_and_where_imported(monkeypatch):
    monkeypatch.setattr(clinic_day, "_KEPT", [])
    clock = {"today": DAY}
    origin = _module("tests.integration.origin")
    origin.TODAY = clinic_day.follows_the_day(vars(origin), "TODAY", lambda: clock["today"], today=lambda: DAY)
    origin.START = clinic_day.follows_the_day(vars(origin), "START", lambda: clock["today"] - timedelta(days=3),
                                              today=lambda: DAY)
    importer = _module("tests.integration.importer", TODAY=origin.TODAY, START=origin.START)
    fixed = _module("tests.integration.fixed", TODAY=date(2026, 12, 6))          # equal, but its own fixed date
    elsewhere = _module("ketamine_integration.somewhere", TODAY=origin.TODAY)    # not a test module
    near_miss = _module("testsuite.other", TODAY=origin.TODAY)                   # nor this one
    # the module that made them is not among those scanned: its own names are set all the same
    modules = {m.__name__: m for m in (importer, fixed, elsewhere, near_miss)}

    assert clinic_day.catch_up(today=lambda: DAY, modules=modules) == 0   # the same day: nothing to do

    clock["today"] = NEXT
    assert clinic_day.catch_up(today=lambda: NEXT, modules=modules) == 2
    assert (origin.TODAY, origin.START) == (date(2026, 12, 7), date(2026, 12, 4))
    assert (importer.TODAY, importer.START) == (date(2026, 12, 7), date(2026, 12, 4))
    assert fixed.TODAY == elsewhere.TODAY == near_miss.TODAY == date(2026, 12, 6)
    # and once caught up, the next test of the same day changes nothing
    assert clinic_day.catch_up(today=lambda: NEXT, modules=modules) == 0


def test_each_value_keeps_the_day_it_was_made_so_a_first_check_after_midnight_still_catches_up(monkeypatch):
    """A review found the day taken once, when tests/conftest.py imported this module, before it set the
    clinic's zone: between 00:00 and 05:00 UTC that was already the next day in New York, so a run whose
    collection ended before New York's midnight and whose first test began after it never caught up.
    Each value now keeps its own day; the first check on another day makes it again."""
    monkeypatch.setattr(clinic_day, "_KEPT", [])
    clock = {"today": DAY}
    origin = _module("tests.integration.origin")
    origin.TODAY = clinic_day.follows_the_day(vars(origin), "TODAY", lambda: clock["today"], today=lambda: DAY)
    clock["today"] = NEXT
    assert clinic_day.catch_up(today=lambda: NEXT, modules={}) == 1      # no check made before midnight
    assert origin.TODAY == NEXT


def test_the_suite_catches_up_before_each_tests_fixtures(monkeypatch, request):
    """tests/conftest.py's setup hook is what calls catch_up, ahead of the other setup hooks (fixtures)."""
    from tests import conftest

    calls = []
    monkeypatch.setattr(clinic_day, "catch_up", lambda: calls.append(1))
    conftest.pytest_runtest_setup(request.node)
    assert calls == [1]
    assert conftest.pytest_runtest_setup.pytest_impl["tryfirst"] is True
