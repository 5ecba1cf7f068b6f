"""Dosing-series rules: spacing of sessions under a protocol, and plausible clinical values.

Pure: dates and values come in, plain-language problems go out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .protocols import Experience
from .vitals import READINGS

#: routes where the dose is given per kilogram and the weight used must be recorded
WEIGHT_BASED_ROUTES = frozenset({"iv", "im"})


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str

    def problem(self, value, what: str) -> str | None:
        if value is None or self.low <= value <= self.high:
            return None
        return f"{what} of {value:g} {self.unit} is not plausible (expected {self.low:g}–{self.high:g})."


#: the widest values a monitored adult could show; anything outside is a typing error
VITAL_RANGES = {name: Range(low, high, unit) for name, (_words, unit, (low, high)) in READINGS.items()}
WEIGHT_RANGE = Range(25, 350, "kg")
MG_PER_KG_RANGE = Range(0.01, 5, "mg/kg")


def spacing_problems(dates: list[date], rule: Experience) -> list[str]:
    """Ways a dosing series (dates of its sessions, any order) breaks the protocol's spacing."""
    days = sorted(dates)
    problems = []
    if len(days) > rule.dosing_sessions:
        problems.append(f"{len(days)} dosing sessions; the protocol's series has {rule.dosing_sessions}.")
    for earlier, later in zip(days, days[1:]):
        gap = (later - earlier).days
        if gap < rule.min_days_between:
            problems.append(f"{earlier.isoformat()} to {later.isoformat()} is {gap} day(s); "
                            f"the protocol asks for at least {rule.min_days_between}.")
        elif gap > rule.max_days_between:
            problems.append(f"{earlier.isoformat()} to {later.isoformat()} is {gap} days; "
                            f"the protocol allows at most {rule.max_days_between}.")
    if len(days) > 1 and (days[-1] - days[0]).days > rule.max_series_days:
        problems.append(f"The series spans {(days[-1] - days[0]).days} days; the protocol allows "
                        f"{rule.max_series_days}.")
    return problems


def mg_per_kg(dose_mg: float, weight_kg: float) -> float:
    """mg/kg from the dose and the weight used, to three decimals."""
    return round(dose_mg / weight_kg, 3)
