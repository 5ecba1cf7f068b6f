"""The dosing plan of a protocol file: stages with their count, spacing and usual doses, and dose limits.

Part of the protocol format (domain.protocols builds on it); pure pydantic models, no rules
about a real course here (those are domain.dosing).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .protocol_fields import Name

SERIES, MAINTENANCE = "series", "maintenance"
#: where a dosing session may happen: in the clinic, or at home under telehealth supervision
IN_CLINIC, AT_HOME = "in_clinic", "supervised_at_home"
SETTINGS = (IN_CLINIC, AT_HOME)
#: routes where the dose is given per kilogram and the weight used must be recorded
WEIGHT_BASED_ROUTES = frozenset({"iv", "im"})
#: the unit a protocol's doses are stated in: per kilogram (weight-based routes) or absolute
DOSE_UNITS = ("mg/kg", "mg")

Dose = Annotated[float, Field(gt=0, le=10_000)]


class StrictModel(BaseModel):
    # Unknown keys are mistakes (a typo would otherwise silently drop a rule).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, arbitrary_types_allowed=True)


class Bounds(StrictModel):
    """A whole-number range; `max` omitted means open-ended."""

    min: Annotated[int, Field(ge=0, le=3650)]
    max: Annotated[int, Field(ge=0, le=3650)] | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def label(self, unit: str) -> str:
        if self.max is None:
            return f"at least {self.min} {unit}"
        return f"{self.min} {unit}" if self.min == self.max else f"{self.min}–{self.max} {unit}"


class DoseRange(StrictModel):
    """Usual doses: a list of the doses given (esketamine: 56 or 84 mg), or a min–max range."""

    choices: tuple[Dose, ...] = ()
    min: Dose | None = None
    max: Dose | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if bool(self.choices) == (self.min is not None or self.max is not None):
            raise ValueError("give either choices (a list of doses) or min and max, not both")
        if not self.choices and (self.min is None or self.max is None):
            raise ValueError("a range needs both min and max")
        if self.min is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self

    @property
    def highest(self) -> float:
        return max(self.choices) if self.choices else self.max

    def contains(self, value: float) -> bool:
        if self.choices:
            return any(abs(value - choice) < 1e-9 for choice in self.choices)
        return self.min <= value <= self.max

    def label(self, unit: str) -> str:
        if self.choices:
            listed = [f"{c:g}" for c in self.choices]
            return (" or ".join(listed) if len(listed) < 3 else ", ".join(listed[:-1]) + " or " + listed[-1]) \
                + f" {unit}"
        return f"{self.min:g}–{self.max:g} {unit}"


class DoseRule(StrictModel):
    """What doses the protocol expects: outside `usual` a dose needs a stated reason; above
    `limit` it is refused as a typing error."""

    unit: Literal[DOSE_UNITS]
    usual: DoseRange
    limit: Dose

    def describe(self) -> str:
        return (f"Usual doses {self.usual.label(self.unit)} (outside them, a prescriber confirms with a reason); "
                f"above {self.limit:g} {self.unit} a dose is refused as a typing error.")

    @model_validator(mode="after")
    def _limit_above_usual(self):
        if self.limit < self.usual.highest:
            raise ValueError(f"limit ({self.limit:g}) is below the usual doses (up to {self.usual.highest:g})")
        return self


class Stage(StrictModel):
    """One stage of the dosing plan: the series is its `series` stages in order, then at most
    one `maintenance` stage whose cadence applies once the course is in maintenance."""

    name: Name
    phase: Literal[SERIES, MAINTENANCE] = SERIES
    #: dosing sessions in this stage (a maintenance stage: usually open-ended)
    sessions: Bounds
    #: days from the previous dosing session to each one of this stage
    days_between: Bounds
    #: first to last dosing session of this stage, in days
    within_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    #: usual doses in this stage (default: the protocol's `dose.usual`)
    doses: DoseRange | None = None
    #: usual dose of the stage's first session (esketamine: 56 mg on day 1)
    first_dose: DoseRange | None = None

    @model_validator(mode="after")
    def _fits(self):
        if self.phase == SERIES and self.sessions.max is None:
            raise ValueError("a series stage needs a maximum number of sessions (sessions.max)")
        if self.sessions.max == 0:
            raise ValueError("sessions.max must be at least 1")
        if self.days_between.min < 1:
            raise ValueError("days_between.min must be at least 1: two doses on one day are never planned")
        if self.within_days is not None and self.sessions.max is not None:
            shortest = (self.sessions.min - 1) * self.days_between.min if self.sessions.min else 0
            if self.within_days < shortest:
                raise ValueError(f"within_days ({self.within_days}) cannot hold {self.sessions.min} sessions "
                                 f"at least {self.days_between.min} days apart (needs {shortest})")
        return self

    def describe(self, unit: str | None) -> str:
        """One line for staff: count, spacing, span and usual doses of the stage."""
        count = "sessions open-ended" if self.sessions.max is None and not self.sessions.min else \
            self.sessions.label("sessions")
        parts = [count, self.days_between.label("days") + " after the previous dose"]
        if self.within_days is not None:
            parts.append(f"within {self.within_days} days")
        if unit and self.first_dose:
            parts.append(f"first dose {self.first_dose.label(unit)}")
        if unit and self.doses:
            parts.append(f"usual doses {self.doses.label(unit)}")
        return f"{self.name[:1].upper()}{self.name[1:]}: " + ", ".join(parts) + "."

    def usual_for(self, first_of_stage: bool, rule: DoseRule | None) -> DoseRange | None:
        if first_of_stage and self.first_dose is not None:
            return self.first_dose
        return self.doses or (rule.usual if rule else None)
