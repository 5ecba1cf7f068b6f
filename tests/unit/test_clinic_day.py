"""tests/clinic_day.py: a run that crosses midnight makes the modules' dates of today again, in the
module that made them and in every test module that imported them by name, and nothing else."""
from datetime import date, timedelta
from types import ModuleType

from tests import clinic_day

DAY = date(2026, 12, 6)


def _module(name: str, **values) -> ModuleType:
    module = ModuleType(name)
    vars(module).update(values)
    return module


def test_after_midnight_the_values_are_made_again_where_made_and_where_imported(monkeypatch):
    monkeypatch.setattr(clinic_day, "_KEPT", [])
    monkeypatch.setattr(clinic_day, "_day", DAY)
    clock = {"today": DAY}
    origin = _module("tests.integration.origin")
    origin.TODAY = clinic_day.follows_the_day(vars(origin), "TODAY", lambda: clock["today"])
    origin.START = clinic_day.follows_the_day(vars(origin), "START", lambda: clock["today"] - timedelta(days=3))
    importer = _module("tests.integration.importer", TODAY=origin.TODAY, START=origin.START)
    fixed = _module("tests.integration.fixed", TODAY=date(2026, 12, 6))    # equal, but its own fixed date
    elsewhere = _module("ketamine_integration.somewhere", TODAY=origin.TODAY)  # not a test module
    modules = {m.__name__: m for m in (origin, importer, fixed, elsewhere)}

    assert clinic_day.catch_up(today=lambda: DAY, modules=modules) is False   # the same day: nothing to do

    clock["today"] = DAY + timedelta(days=1)
    assert clinic_day.catch_up(today=lambda: clock["today"], modules=modules) is True
    assert (origin.TODAY, origin.START) == (date(2026, 12, 7), date(2026, 12, 4))
    assert (importer.TODAY, importer.START) == (date(2026, 12, 7), date(2026, 12, 4))
    assert fixed.TODAY == date(2026, 12, 6) and elsewhere.TODAY == date(2026, 12, 6)
    # and once caught up, the next test of the same day changes nothing
    assert clinic_day.catch_up(today=lambda: clock["today"], modules=modules) is False
