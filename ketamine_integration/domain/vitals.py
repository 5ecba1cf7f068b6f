"""Vital-sign rules of a protocol: the readings each timepoint needs, the ranges that flag a
reading, the limits above which a dose should not start, the discharge criteria and the
monitoring time.

Pure: readings and rules come in, flags and plain-language problems go out. The protocol file
states the numbers (its `vital_signs` section, with the sources it takes them from); a
protocol snapshot without that section (format version 1) gets DEFAULT_RULES.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .protocol_fields import Text
from .text import written_length

#: when readings are taken; the keys are those stored with each reading
TIMEPOINTS = {"baseline": "Before dosing", "post_40": "About 40 minutes after dosing",
              "discharge": "Before discharge"}
#: one number of a reading: (name in plain words, unit, the plausible range of a monitored adult)
READINGS = {
    "systolic": ("systolic pressure", "mmHg", (50, 260)),
    "diastolic": ("diastolic pressure", "mmHg", (25, 160)),
    "heart_rate": ("heart rate", "beats/min", (25, 250)),
    "spo2": ("SpO2", "%", (50, 100)),
    "respiratory_rate": ("respiratory rate", "breaths/min", (4, 60)),
}
#: what a protocol can require at a timepoint, and the numbers each needs
MEASUREMENTS = {"blood_pressure": ("systolic", "diastolic"), "heart_rate": ("heart_rate",), "spo2": ("spo2",),
                "respiratory_rate": ("respiratory_rate",)}
MEASUREMENT_LABELS = {"blood_pressure": "blood pressure", "heart_rate": "heart rate", "spo2": "SpO2",
                      "respiratory_rate": "respiratory rate"}
#: what the clinician observes before discharge; "vital signs within the discharge range" is
#: the fifth criterion, derived from the readings, never ticked
DISCHARGE_CRITERIA = {
    "alert_oriented": "Alert and oriented",
    "walks_steadily": "Walks steadily without help",
    "nausea_controlled": "Nausea and vomiting controlled",
    "accompanied": "Leaves with a responsible adult and will not drive today",
}
VITALS_IN_RANGE = "Vital signs within the protocol's discharge range"

Measurement = Literal[tuple(MEASUREMENTS)]


class _Strict(BaseModel):
    # As in domain.protocols: unknown keys are mistakes, "3" is not a number.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Citation(_Strict):
    claim: Text
    source: Text


class Limit(_Strict):
    """A reading is outside this limit when it is below `below` or at or above `at_or_above`."""

    below: int | None = None
    at_or_above: int | None = None

    @model_validator(mode="after")
    def _sensible(self):
        if self.below is None and self.at_or_above is None:
            raise ValueError("give below, at_or_above or both")
        if self.below is not None and self.at_or_above is not None and self.below >= self.at_or_above:
            raise ValueError(f"below ({self.below}) must be lower than at_or_above ({self.at_or_above}): "
                             "no reading would be in range")
        return self

    def breached_by(self, value: int) -> bool:
        return (self.below is not None and value < self.below) or \
            (self.at_or_above is not None and value >= self.at_or_above)

    def words(self, unit: str) -> str:
        parts = [f"below {self.below} {unit}" if self.below is not None else None,
                 f"at or above {self.at_or_above} {unit}" if self.at_or_above is not None else None]
        return " or ".join(p for p in parts if p)

    def breach_words(self, value: int, unit: str) -> str:
        """The side of the limit a reading is past, e.g. "at or above 141 mmHg" (not both sides)."""
        if self.below is not None and value < self.below:
            return f"below {self.below} {unit}"
        return f"at or above {self.at_or_above} {unit}"


class Limits(_Strict):
    """A limit per reading; a reading without one is never flagged."""

    systolic: Limit | None = None
    diastolic: Limit | None = None
    heart_rate: Limit | None = None
    spo2: Limit | None = None
    respiratory_rate: Limit | None = None

    @model_validator(mode="after")
    def _plausible(self):
        for name, limit in self.items():
            low, high = READINGS[name][2]
            for bound in (limit.below, limit.at_or_above):
                if bound is not None and not low <= bound <= high:
                    raise ValueError(f"{name}: {bound} {READINGS[name][1]} is outside what a monitored adult "
                                     f"can show ({low}–{high}); check the number")
        return self

    def items(self) -> list[tuple[str, Limit]]:
        return [(name, limit) for name in READINGS if (limit := getattr(self, name)) is not None]


class TimepointRules(_Strict):
    #: measurements that must be recorded at this timepoint before the record is signed
    required: Annotated[tuple[Measurement, ...], Field(max_length=len(MEASUREMENTS))] = ()
    #: a reading outside these limits is flagged and needs a documented clinical response
    flag: Limits = Limits()
    #: before dosing only: a reading outside these limits means the dose should not start
    do_not_start: Limits = Limits()

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.required)) != len(self.required):
            raise ValueError("required lists a measurement more than once")
        for name, stop in self.do_not_start.items():
            flag = getattr(self.flag, name)
            if flag is None:
                continue
            # a reading that stops a dose must be flagged at least as early
            if stop.at_or_above is not None and flag.at_or_above is not None and stop.at_or_above < flag.at_or_above:
                raise ValueError(f"do_not_start.{name}.at_or_above ({stop.at_or_above}) is below "
                                 f"flag.{name}.at_or_above ({flag.at_or_above})")
            if stop.below is not None and flag.below is not None and stop.below > flag.below:
                raise ValueError(f"do_not_start.{name}.below ({stop.below}) is above flag.{name}.below ({flag.below})")
        return self


class VitalSignRules(_Strict):
    """The protocol's `vital_signs` section."""

    #: where the numbers come from; required as soon as the section names any limit
    sources: tuple[Citation, ...] = ()
    baseline: TimepointRules = TimepointRules()
    post_40: TimepointRules = TimepointRules()
    discharge: TimepointRules = TimepointRules()

    @model_validator(mode="after")
    def _cited(self):
        for timepoint in ("post_40", "discharge"):
            if getattr(self, timepoint).do_not_start.items():
                raise ValueError(f"do_not_start applies before dosing only; remove it from {timepoint}")
        limited = any(rules.flag.items() or rules.do_not_start.items() for rules in self.at_each())
        if limited and not self.sources:
            raise ValueError("sources: cite where the limits come from (at least one claim and source)")
        return self

    def at_each(self) -> list[TimepointRules]:
        return [getattr(self, timepoint) for timepoint in TIMEPOINTS]

    def at(self, timepoint: str) -> TimepointRules:
        return getattr(self, timepoint)


def _limit(**bounds) -> Limit:
    return Limit(**bounds)


_DEFAULT_FLAGS = Limits(systolic=_limit(below=90, at_or_above=160), diastolic=_limit(below=50, at_or_above=100),
                        heart_rate=_limit(below=50, at_or_above=120), spo2=_limit(below=94),
                        respiratory_rate=_limit(below=10, at_or_above=24))
#: For a protocol snapshot written before the `vital_signs` section existed (version 1): the
#: readings version 1 required (blood pressure and heart rate at each timepoint, SpO2 before
#: dosing) and, conservatively, the limits the shipped ketamine protocols cite, so that an older
#: course still needs a documented response to a reading such as 182/112 before it is signed.
DEFAULT_RULES = VitalSignRules(
    sources=(Citation(claim="Clinic default limits for a protocol file without a vital_signs section",
                      source="ketamine_integration/domain/vitals.py (see protocols/README.md)"),),
    baseline=TimepointRules(required=("blood_pressure", "heart_rate", "spo2"), flag=_DEFAULT_FLAGS,
                            do_not_start=Limits(systolic=_limit(at_or_above=180), diastolic=_limit(at_or_above=110),
                                                spo2=_limit(below=92))),
    post_40=TimepointRules(required=("blood_pressure", "heart_rate"), flag=_DEFAULT_FLAGS),
    discharge=TimepointRules(required=("blood_pressure", "heart_rate"), flag=_DEFAULT_FLAGS),
)


@dataclass(frozen=True)
class Flag:
    """One reading outside the protocol's limits."""

    timepoint: str
    reading: str
    value: int
    limit: str
    do_not_start: bool
    #: what the record calls the timepoint, where its setting names it otherwise (at home: no discharge)
    label: str | None = field(default=None, compare=False)

    @property
    def words(self) -> str:
        name, unit, _ = READINGS[self.reading]
        rule = ("the protocol's limit for starting a dose" if self.do_not_start
                else "outside the protocol's range")
        return f"{self.label or TIMEPOINTS[self.timepoint]}: {name} {self.value} {unit} is {self.limit} ({rule})."


Readings = Mapping[str, Mapping[str, int | None]]


def form_limits(timepoint: str, rules: VitalSignRules) -> dict[str, dict]:
    """A timepoint's limits as plain data for the record form, which flags a reading as it is typed
    (static/vitals.js applies them as flags_at does; the saved flags are still the server's)."""
    at = rules.at(timepoint)

    def plain(limit: Limit | None) -> dict | None:
        return None if limit is None else {"below": limit.below, "at_or_above": limit.at_or_above}
    return {name: {"name": words, "unit": unit, "stop": plain(getattr(at.do_not_start, name)),
                   "flag": plain(getattr(at.flag, name))}
            for name, (words, unit, _) in READINGS.items()
            if getattr(at.do_not_start, name) is not None or getattr(at.flag, name) is not None}


def flags_at(timepoint: str, reading: Mapping[str, int | None], rules: VitalSignRules) -> list[Flag]:
    """The flags of one timepoint's reading; a reading past a do-not-start limit is flagged once, as that."""
    at = rules.at(timepoint)
    found = []
    for name in READINGS:
        value = reading.get(name)
        if value is None:
            continue
        stop, flag = getattr(at.do_not_start, name), getattr(at.flag, name)
        if stop is not None and stop.breached_by(value):
            found.append(Flag(timepoint, name, value, stop.breach_words(value, READINGS[name][1]), True))
        elif flag is not None and flag.breached_by(value):
            found.append(Flag(timepoint, name, value, flag.breach_words(value, READINGS[name][1]), False))
    return found


def flags(readings: Readings, rules: VitalSignRules) -> list[Flag]:
    """Every flagged reading, timepoint by timepoint."""
    return [flag for timepoint in TIMEPOINTS for flag in flags_at(timepoint, readings.get(timepoint) or {}, rules)]


def missing_measurements(readings: Readings, rules: VitalSignRules) -> list[tuple[str, str]]:
    """(timepoint, measurement) of each of the protocol's required measurements not recorded."""
    return [(timepoint, measurement) for timepoint in TIMEPOINTS for measurement in rules.at(timepoint).required
            if any((readings.get(timepoint) or {}).get(name) is None for name in MEASUREMENTS[measurement])]


def missing_readings(readings: Readings, rules: VitalSignRules) -> list[str]:
    """The protocol's required measurements not recorded, in plain words ("SpO2 before dosing")."""
    return [f"{MEASUREMENT_LABELS[measurement]} {TIMEPOINTS[timepoint].lower()}"
            for timepoint, measurement in missing_measurements(readings, rules)]


#: "what was done" in at least this many characters, whitespace aside: "." or "x" documents nothing
MIN_ACTION_CHARACTERS = 10
#: a re-check of the reading before dosing answers its flag only if taken at most this long before dosing started
PRE_DOSE_RECHECK = timedelta(hours=3)


def substantive(text: str | None) -> bool:
    """Whether a clinician's words say something: at least MIN_ACTION_CHARACTERS characters that
    show (domain.text.written_length: no spaces, control or zero-width characters, not punctuation alone)."""
    return written_length(text) >= MIN_ACTION_CHARACTERS


@dataclass(frozen=True)
class Response:
    """A documented clinical response to the flags of one timepoint."""

    timepoint: str
    action: str | None
    decided_by: int | None
    later_at: datetime | None
    later: Mapping[str, int | None]


def later_time_problem(timepoint: str, later_at: datetime | None, started_at: datetime | None,
                       discharged_at: datetime | None) -> str | None:
    """Why a later reading taken at `later_at` cannot answer a flag at `timepoint`, or None. A later
    reading comes after what it answers: the re-check of a reading before dosing is taken before
    dosing starts (and at most PRE_DOSE_RECHECK before it); that of a reading during dosing or at
    discharge after the start of dosing and not after discharge. Unknown times are not judged."""
    if later_at is None or started_at is None:
        return None
    if timepoint == "baseline":
        if later_at > started_at:
            return "A re-check of the reading before dosing is taken before dosing starts."
        if later_at < started_at - PRE_DOSE_RECHECK:
            hours = int(PRE_DOSE_RECHECK.total_seconds() // 3600)
            return f"This is more than {hours} hours before dosing started: it does not re-check the reading."
        return None
    if later_at <= started_at:
        return "A later reading after a reading during dosing or at discharge comes after the start of dosing."
    if discharged_at is not None and later_at > discharged_at:
        return "This is after discharge: the later reading is taken before the patient leaves."
    return None


def qualifying_later(timepoint: str, response: Response | None, started_at: datetime | None,
                     discharged_at: datetime | None) -> Mapping[str, int | None] | None:
    """The later reading of a response, if its time lets it stand for the timepoint's reading."""
    if response is None or response.later_at is None or started_at is None:
        return None
    if later_time_problem(timepoint, response.later_at, started_at, discharged_at):
        return None
    return response.later


def rechecked(reading: Mapping[str, int | None], later: Mapping[str, int | None] | None) -> dict[str, int | None]:
    """The reading as re-checked: the later reading replaces what it re-measured; the rest stays as read."""
    later = later or {}
    return {name: later.get(name) if later.get(name) is not None else reading.get(name) for name in READINGS}


def later_flags(timepoint: str, later: Mapping[str, int | None], rules: VitalSignRules) -> list[str]:
    """The later reading checked against the same timepoint's limits, in plain words; a re-check
    before dosing still past a do-not-start limit says the dose was given above it."""
    words = []
    for flag in flags_at(timepoint, later, rules):
        name, unit, _ = READINGS[flag.reading]
        verdict = ("dosed above the do-not-start limit" if flag.do_not_start
                   else "still outside the protocol's range")
        words.append(f"Later reading {TIMEPOINTS[timepoint].lower()}: {name} {flag.value} {unit} is "
                     f"{flag.limit} ({verdict}).")
    return words


def breaks_do_not_start(baseline: Mapping[str, int | None], later: Mapping[str, int | None] | None,
                        rules: VitalSignRules) -> bool:
    """The reading before dosing (as re-checked, when a re-check qualifies) is past a do-not-start limit."""
    return any(flag.do_not_start for flag in flags_at("baseline", rechecked(baseline, later), rules))


def discharge_vitals_in_range(discharge: Mapping[str, int | None], later: Mapping[str, int | None] | None,
                              rules: VitalSignRules) -> bool:
    """The discharge reading is within range, or the later reading taken after a flag is (`later`:
    a qualifying one only, see qualifying_later)."""
    if not flags_at("discharge", discharge, rules):
        return True
    if not later:
        return False
    return not flags_at("discharge", rechecked(discharge, later), rules)


def unmet_discharge_criteria(checks: Mapping[str, bool | None] | None, vitals_in_range: bool) -> list[str]:
    """The discharge criteria not met (a criterion not answered is not met)."""
    checks = checks or {}
    unmet = [label for key, label in DISCHARGE_CRITERIA.items() if checks.get(key) is not True]
    return unmet + ([] if vitals_in_range else [VITALS_IN_RANGE])


def unanswered_discharge_criteria(checks: Mapping[str, bool | None] | None) -> list[str]:
    checks = checks or {}
    return [label for key, label in DISCHARGE_CRITERIA.items() if checks.get(key) is None]


def monitoring_minutes(started_at: datetime | None, discharged_at: datetime | None) -> int | None:
    """Whole minutes from the start of dosing to discharge, from the recorded instants.

    Both are aware datetimes. They are compared in UTC: Python subtracts two datetimes that
    share a tzinfo by their wall clocks, which across a daylight-saving change would count the
    hour that repeats (or is skipped) wrongly. None when a time is missing or discharge comes
    before the start (refused when saved; never a negative monitoring time).
    """
    if started_at is None or discharged_at is None:
        return None
    if started_at.tzinfo is None or discharged_at.tzinfo is None:
        raise ValueError("monitoring is computed from time-zone-aware instants")
    elapsed = discharged_at.astimezone(timezone.utc) - started_at.astimezone(timezone.utc)
    # a discharge before the start is a typing error, never a negative monitoring time
    return int(elapsed.total_seconds() // 60) if elapsed >= timedelta(0) else None
