"""Field types of a protocol file: durations that keep their unit, and free text (names,
summaries, claims, sources) that is present and never blank."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field


def not_blank(value: str) -> str:
    # a single space passes a length check, yet says nothing to a reader of the protocol
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: a sentence or a paragraph: a summary, a claim, its source
Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(not_blank)]
#: a name shown in lists and headings
Name = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(not_blank)]

#: longest span a protocol may name; more is a typing error (and would overflow date maths)
MAX_SPAN = timedelta(days=3650)
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h|(\d+)\s*d)\s*$")


@dataclass(frozen=True, order=False)
class Span:
    """A protocol duration that keeps its unit.

    Hours are elapsed time; days are calendar days in the clinic's time zone (the same
    wall-clock time N days later), which across a daylight-saving change is 23 or 25 hours
    per changed day. See domain/windows.py.
    """

    amount: float
    unit: str  # "h" or "d"

    @property
    def approximate(self) -> timedelta:
        """For ordering checks only; never for computing a time."""
        amount = min(self.amount, 10 * 3650 * 24)  # bounded so a typo cannot overflow timedelta
        return timedelta(hours=amount) if self.unit == "h" else timedelta(days=min(amount, 10 * 3650))

    @property
    def label(self) -> str:
        if self.unit == "d":
            return f"{self.amount:g} day" + ("" if self.amount == 1 else "s")
        return f"{self.amount:g} hour" + ("" if self.amount == 1 else "s")


def parse_duration(value) -> Span:
    """'36h' or '14d' (hours, or whole days); a bare number is refused as ambiguous."""
    if isinstance(value, Span):
        return value
    if not isinstance(value, str) or not (match := _DURATION.match(value)):
        raise ValueError(f"use a number of hours or whole days such as '24h' or '14d', got {value!r}")
    hours, days = match.groups()
    span = Span(float(hours), "h") if hours is not None else Span(int(days), "d")
    if span.approximate > MAX_SPAN:
        raise ValueError(f"{value!r} is longer than any clinic protocol needs (at most 10 years)")
    return span
