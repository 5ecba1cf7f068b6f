"""What a dosing record needs before it is signed, each need on the form field it belongs to.

Pure: the record comes in as plain data (RecordFacts: as saved, or as just submitted with
"Sign and lock"; experience.signing builds both) with its protocol, and the needs go out in
plain words. One list for both, so that a refused signature names every need at once, each on
its field: the review of issue 19 met them one layer at a time (the missing timepoints, then,
once fixed, the response to a flagged reading, then the REMS answers).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .dosing_plan import WEIGHT_BASED_ROUTES
from .protocols import Protocol
from .vitals import (DISCHARGE_CRITERIA, MEASUREMENT_LABELS, MEASUREMENTS, MIN_ACTION_CHARACTERS, READINGS,
                     TIMEPOINTS, Flag, Response, breaks_do_not_start, discharge_vitals_in_range, flags,
                     later_time_problem, missing_measurements, monitoring_minutes, qualifying_later, substantive)

#: what every signature needs, by record column: (its form field, the need in words)
REQUIRED_TO_SIGN = {"started_at": ("started_at", "start time"), "ended_at": ("ended_at", "end time"),
                    "route": ("route", "route"), "medication": ("medication", "medication"),
                    "dose_mg": ("dose_mg", "dose"), "administered_by_id": ("administered_by", "who administered"),
                    "monitored_by_id": ("monitored_by", "who monitored"),
                    "discharged_at": ("discharged_at", "discharge time"), "sedation": ("sedation", "sedation"),
                    "dissociation": ("dissociation", "dissociation")}
#: what a protocol with the REMS Patient Monitoring Form adds
REQUIRED_FOR_REMS = {
    "ready_to_leave_at": ("ready_to_leave_at", "REMS: when the patient would have been ready to leave"),
    "lot_number": ("lot_number", "lot number"),
    "vitals_acceptable_before_dosing": ("vitals_acceptable_before_dosing",
                                        "REMS: vital signs acceptable before dosing (yes or no)"),
    "vitals_acceptable_before_discharge": ("vitals_acceptable_before_discharge",
                                           "REMS: vital signs acceptable before discharge (yes or no)"),
    "concomitant_sedating_medications": ("concomitant_sedating_medications",
                                         "concomitant sedating medications (write 'none' if none)")}
#: how the needs of one kind are said together in the summary
UNANSWERED_CRITERIA = "discharge criteria answered yes or no"


@dataclass(frozen=True)
class Need:
    """One thing a signature still needs, and the form field where it is put right."""

    #: the form field, as DomainError paths name it ("baseline.systolic", "response_baseline.action")
    field: str
    #: the need in words, completing "Still needed: …"
    words: str
    #: needs of one group are said together in the summary ("discharge criteria answered yes or no: a, b")
    group: str = ""

    @property
    def message(self) -> str:
        """What the field says."""
        return "Needed to sign: " + (f"{self.group}: {self.words}" if self.group else self.words) + "."


@dataclass(frozen=True)
class RecordFacts:
    """What a dosing record says, as plain data."""

    #: the record's columns (experience.services.RECORD_FIELDS), None where nothing is recorded
    values: Mapping[str, Any]
    #: the readings by timepoint, each a mapping of reading name to number
    readings: Mapping[str, Mapping[str, int | None]]
    #: the documented responses to flagged readings by timepoint (one with no words is none)
    responses: Mapping[str, Response] = field(default_factory=dict)
    #: the deciders of the responses who may decide to dose past a do-not-start limit (prescribers)
    may_override: frozenset[int] = frozenset()
    #: the discharge criteria's answers by key (None: a record from before they were explicit)
    discharge_checks: Mapping[str, bool | None] | None = None


def signature_needs(record: RecordFacts, protocol: Protocol) -> list[Need]:
    """Everything the record still needs before it is signed under `protocol`, in the form's order."""
    return (_missing_values(record.values, protocol) + _reading_needs(record, protocol)
            + _rems_needs(record, protocol) + _discharge_needs(record, protocol))


def summary(needs: list[Need]) -> str:
    """The needs in one sentence ("start time; heart rate before dosing; …"), groups said together."""
    parts, grouped = [], {}
    for need in needs:
        if not need.group:
            parts.append(need.words)
        elif need.group not in grouped:
            grouped[need.group] = [need.words]
            parts.append(need.group)
        else:
            grouped[need.group].append(need.words)
    return "; ".join(f"{part}: {', '.join(grouped[part])}" if part in grouped else part for part in parts)


def _missing_values(values: Mapping[str, Any], protocol: Protocol) -> list[Need]:
    required = dict(REQUIRED_TO_SIGN, **(REQUIRED_FOR_REMS if protocol.experience.rems_monitoring_form else {}))
    needs = [Need(form_field, words) for column, (form_field, words) in required.items()
             if values.get(column) in (None, "")]
    if values.get("route") in WEIGHT_BASED_ROUTES and values.get("weight_kg") is None:
        needs.append(Need("weight_kg", "weight used (weight-based route)"))
    return needs


def _reading_needs(record: RecordFacts, protocol: Protocol) -> list[Need]:
    """The required readings, each on its first number, then the responses to flagged readings."""
    rules = protocol.vital_signs
    needs = [Need(f"{timepoint}.{MEASUREMENTS[measurement][0]}",
                  f"{MEASUREMENT_LABELS[measurement]} {TIMEPOINTS[timepoint].lower()}")
             for timepoint, measurement in missing_measurements(record.readings, rules)]
    found = flags(record.readings, rules)
    needs += [Need(f"response_{timepoint}.{form_field}", words) for timepoint, form_field, words in
              response_needs(found, record.responses, record.values.get("started_at"),
                             record.values.get("discharged_at"))]
    return needs + _dosed_above_limit_needs(record, protocol)


def _dosed_above_limit_needs(record: RecordFacts, protocol: Protocol) -> list[Need]:
    """A dose given while the reading before it (as re-checked) is past a do-not-start limit is a
    prescriber's decision (review of issue 19: a nurse was named as deciding it, and it signed)."""
    response = record.responses.get("baseline")
    if (not record.values.get("started_at") or response is None or response.decided_by is None
            or response.decided_by in record.may_override
            or not breaks_do_not_start(record.readings.get("baseline") or {}, _later(record, "baseline"),
                                       protocol.vital_signs)):
        return []
    return [Need("response_baseline.decided_by", "a prescriber named as deciding to dose past the protocol's "
                                                 "do-not-start limit")]


def _later(record: RecordFacts, timepoint: str):
    return qualifying_later(timepoint, record.responses.get(timepoint), record.values.get("started_at"),
                            record.values.get("discharged_at"))


def _rems_needs(record: RecordFacts, protocol: Protocol) -> list[Need]:
    """The REMS answers may not call acceptable what the protocol's limits say is not."""
    rules, values, needs = protocol.vital_signs, record.values, []
    if values.get("vitals_acceptable_before_dosing") and breaks_do_not_start(
            record.readings.get("baseline") or {}, _later(record, "baseline"), rules):
        needs.append(Need("vitals_acceptable_before_dosing",
                          "REMS: vital signs acceptable before dosing is answered yes while the reading before "
                          "dosing (or its re-check) is past the protocol's limit for starting a dose (answer no)"))
    if values.get("vitals_acceptable_before_discharge") and not discharge_vitals_in_range(
            record.readings.get("discharge") or {}, _later(record, "discharge"), rules):
        # the REMS form would otherwise report as acceptable what the protocol flags
        needs.append(Need("vitals_acceptable_before_discharge",
                          "REMS: vital signs acceptable before discharge is answered yes while the discharge "
                          "reading is outside the protocol's range (record a later reading within it, or answer no)"))
    return needs


def _discharge_needs(record: RecordFacts, protocol: Protocol) -> list[Need]:
    """Each discharge criterion answered, and the protocol's minimum monitoring from the recorded times."""
    checks = record.discharge_checks or {}
    needs = [Need(f"discharge_criteria.{key}", label.lower(), group=UNANSWERED_CRITERIA)
             for key, label in DISCHARGE_CRITERIA.items() if checks.get(key) is None]
    started, discharged = record.values.get("started_at"), record.values.get("discharged_at")
    minutes = monitoring_minutes(started, discharged)
    minimum = protocol.experience.min_monitoring_minutes
    if minutes is None and started and discharged:
        needs.append(Need("discharged_at", "a discharge time after the start of dosing"))
    elif minutes is not None and minutes < minimum:
        needs.append(Need("discharged_at", f"at least {minimum} minutes of monitoring from the start of dosing to "
                                           f"discharge (the protocol's minimum; the recorded times give {minutes})"))
    return needs


def response_problems(found: list[Flag], responses: Mapping[str, Response], started_at: datetime | None = None,
                      discharged_at: datetime | None = None) -> list[str]:
    """What a signature still needs for the flagged readings, in plain words (response_needs)."""
    return [words for _timepoint, _field, words in response_needs(found, responses, started_at, discharged_at)]


def response_needs(found: list[Flag], responses: Mapping[str, Response], started_at: datetime | None = None,
                   discharged_at: datetime | None = None) -> list[tuple[str, str, str]]:
    """(timepoint, field of its response, words) for what a signature still needs for the flagged
    readings: per flagged timepoint, what was done (in words), who decided and a later reading of
    each flagged measurement, taken when it can answer the flag."""
    needs = []
    for timepoint in TIMEPOINTS:
        flagged = [f for f in found if f.timepoint == timepoint]
        if flagged:
            needs += [(timepoint, form_field, words) for form_field, words in
                      _timepoint_response_needs(flagged, responses.get(timepoint), started_at, discharged_at)]
    return needs


def _timepoint_response_needs(flagged: list[Flag], response: Response | None, started_at: datetime | None,
                              discharged_at: datetime | None) -> list[tuple[str, str]]:
    label = TIMEPOINTS[flagged[0].timepoint].lower()
    if response is None or not (response.action or "").strip():
        return [("action", f"a documented clinical response to the flagged reading {label} (what was done)")]
    needs = []
    if not substantive(response.action):
        needs.append(("action", f"what was done about the flagged reading {label}, in words (at least "
                                f"{MIN_ACTION_CHARACTERS} characters)"))
    if response.decided_by is None:
        needs.append(("decided_by", f"who decided the response to the flagged reading {label}"))
    unmeasured = sorted({f.reading for f in flagged if response.later.get(f.reading) is None},
                        key=list(READINGS).index)
    if response.later_at is None or unmeasured:
        names = ", ".join(READINGS[name][0] for name in unmeasured) or "the flagged readings"
        form_field = "later_at" if response.later_at is None else f"later_{unmeasured[0]}"
        needs.append((form_field, f"a later reading ({names}, with its time) after the flagged reading {label}"))
    elif (problem := later_time_problem(flagged[0].timepoint, response.later_at, started_at, discharged_at)):
        needs.append(("later_at", f"a later reading taken when it can answer the flagged reading {label} "
                                  f"({problem})"))
    return needs
