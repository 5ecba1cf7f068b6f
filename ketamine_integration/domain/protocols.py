"""Protocol definitions: the typed model of a protocol file and its strict validation.

A protocol is clinic data, not code: files in protocols/ (YAML) that a clinic edits.
Everything here is pure: parsing a mapping into a frozen Protocol, or a list of errors that
name the file, the field path and the problem.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import (AfterValidator, Field, PlainValidator,
                      ValidationError, model_validator)

from .dosing_plan import (AT_HOME, IN_CLINIC, MAINTENANCE, SERIES, SETTINGS, WEIGHT_BASED_ROUTES, Bounds,
                          DoseRule, Stage, StrictModel)
from .measures import MEASURES
from .protocol_fields import Name, Span, Text, parse_duration
from .vitals import DEFAULT_RULES, VitalSignRules

ROUTES = ("iv", "im", "sublingual", "intranasal", "oral")
#: SPRAVATO REMS: monitored for at least two hours, blood pressure before and about 40 minutes after dosing
REMS_MIN_MONITORING_MINUTES = 120
REMS_BLOOD_PRESSURE = {"baseline": "before dosing", "post_40": "about 40 minutes after dosing"}
MEDICATIONS = ("ketamine", "esketamine")


class PreparationItems(Mapping[str, str]):
    """Preparation items a protocol may require, by key; labels are what the checklist shows.
    Each registered measure adds its baseline (domain.measures), read at each use so that a
    measure registered later is a checklist item too."""

    BEFORE = {"intake_assessment": "Intake assessment",
              "medical_clearance": "Medical clearance (by a prescriber)",
              "informed_consent": "Informed consent"}
    AFTER = {"intention_setting": "Intention setting",
             "set_and_setting_plan": "Set-and-setting plan",
             "support_person": "Support person identified"}

    def _items(self) -> dict[str, str]:
        baselines = {m.baseline_item: f"Baseline {m.name}" for m in MEASURES.values() if m.has_baseline}
        return {**self.BEFORE, **baselines, **self.AFTER}

    def __getitem__(self, key: str) -> str:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


PREPARATION_ITEMS = PreparationItems()
#: the preparation items a signed preparation note proves, each with the note's section that must
#: say it and how the checklist names that section: read from the signed notes, never ticked
#: (issue 20, point 10). Intake, medical clearance and consent stay recorded entries: no note or
#: form of the app documents them (consent and intake forms as documents: issue 26).
DOCUMENTED_ITEMS = {"intention_setting": ("intentions", "with the patient's intentions"),
                    "set_and_setting_plan": ("set_setting_plan", "with a set and setting plan"),
                    "support_person": ("support_person", "naming the support person")}
MEASURE_POINTS = ("baseline", "before_each_dosing", "each_integration", "end_of_series", "follow_up")

def _unique(values: tuple) -> tuple:
    duplicates = sorted({str(v) for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return values


def _one_of(known) -> str:
    """Pydantic's wording for a choice ("must be 'a', 'b' or 'c'"), for choices read at validation time."""
    quoted = [repr(k) for k in known]
    return "must be " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1])


def _preparation_item(value: str) -> str:
    if value not in PREPARATION_ITEMS:
        raise ValueError(_one_of(PREPARATION_ITEMS))
    return value


def _measure_key(value: str) -> str:
    if value not in MEASURES:
        raise ValueError(_one_of(MEASURES))
    return value


Duration = Annotated[Span, PlainValidator(parse_duration)]


_Strict = StrictModel


class Evidence(_Strict):
    claim: Text
    source: Text


class Preparation(_Strict):
    required_items: Annotated[tuple[Annotated[str, AfterValidator(_preparation_item)], ...], AfterValidator(_unique)]
    #: signed preparation sessions needed before the first dosing session
    min_signed_sessions: Annotated[int, Field(ge=0, le=20)]
    #: the intake and consent forms (ids of forms/) the patient signs before the first dose: enrolment asks
    #: for them, the gate wants each signed in its current version (issue 26). A snapshot without them (an
    #: older version) keeps its hand-recorded consent and intake items. Checked against the form library
    #: by the protocol library (domain.protocol_library.form_problems): a snapshot outlives the files.
    forms: Annotated[tuple[Annotated[str, Field(min_length=1, max_length=60)], ...], AfterValidator(_unique)] = ()


class Experience(_Strict):
    # Version 1 files state one spacing rule for the whole series (these four fields); later
    # files give `stages` instead. Snapshots of version 1 stay readable: they become one stage.
    dosing_sessions: Annotated[int, Field(ge=1, le=100)] | None = None
    min_days_between: Annotated[int, Field(ge=0, le=365)] | None = None
    max_days_between: Annotated[int, Field(ge=0, le=365)] | None = None
    #: from the first to the last dosing session of the series
    max_series_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    stages: tuple[Stage, ...] = ()
    #: usual doses and the typing-error limit (omitted in version 1 files: only the clinic ceilings apply)
    dose: DoseRule | None = None
    #: where dosing may happen
    settings: Annotated[tuple[Literal[SETTINGS], ...], Field(min_length=1), AfterValidator(_unique)] = (IN_CLINIC,)
    dose_guidance: Text
    min_monitoring_minutes: Annotated[int, Field(ge=0, le=1440)]
    rems_monitoring_form: bool
    #: may a therapist be recorded as monitoring a dose (present as monitor only: never
    #: administering, recording or signing it); by default monitoring is a prescriber's or nurse's
    therapist_may_monitor: bool = False
    #: is a therapist present through each dosing session (ketamine-assisted psychotherapy: IM and
    #: sublingual KAP)? Then a therapist writes a dosing-session note for it (issue 20, point 9)
    therapist_present: bool = False

    @model_validator(mode="after")
    def _plan_given_once(self):
        old = (self.dosing_sessions, self.min_days_between, self.max_days_between)
        if self.stages and any(v is not None for v in old):
            raise ValueError("give either stages or dosing_sessions/min_days_between/max_days_between "
                             "(the version 1 format), not both")
        if not self.stages and None in old + (self.max_series_days,):
            raise ValueError("stages is missing (or, in the version 1 format, dosing_sessions, "
                             "min_days_between, max_days_between and max_series_days)")
        if not self.stages and self.max_days_between < self.min_days_between:
            raise ValueError(f"max_days_between ({self.max_days_between}) is below "
                             f"min_days_between ({self.min_days_between})")
        return self

    @model_validator(mode="after")
    def _stages_ordered(self):
        phases = [s.phase for s in self.stages]
        if self.stages and phases[0] != SERIES:
            raise ValueError("stages: the first stage must be part of the series (phase: series)")
        if phases.count(MAINTENANCE) > 1 or MAINTENANCE in phases[:-1]:
            raise ValueError("stages: at most one maintenance stage, and it comes last")
        series = [s for s in self.stages if s.phase == SERIES]
        ranged = [s.name for s in series[:-1] if s.sessions.min != s.sessions.max]
        if ranged:
            raise ValueError(f"stages: only the last stage of the series may have a range of sessions "
                             f"({', '.join(ranged)} has one): the next stage would not know where it starts")
        shortest = self._shortest_series_days()
        if self.max_series_days is not None and self.max_series_days < shortest:
            raise ValueError(f"max_series_days ({self.max_series_days}) cannot hold "
                             f"{self.min_series_sessions} sessions at the stages' minimum spacing (needs {shortest})")
        return self

    @model_validator(mode="after")
    def _usual_doses_within_the_limit(self):
        """A stage's usual doses are doses the protocol accepts: within `dose.limit`, in its unit."""
        for number, stage in enumerate(self.stages):
            for name in ("first_dose", "doses"):
                usual = getattr(stage, name)
                if usual is None:
                    continue
                if self.dose is None:
                    raise ValueError(f"stages[{number}].{name}: usual doses of a stage need the protocol's dose "
                                     "rule (dose: unit, usual and limit)")
                if usual.highest > self.dose.limit:
                    raise ValueError(f"stages[{number}].{name}: {usual.highest:g} {self.dose.unit} is above "
                                     f"dose.limit ({self.dose.limit:g} {self.dose.unit}): a usual dose would be "
                                     "refused as a typing error")
        return self

    @model_validator(mode="after")
    def _rems_monitoring(self):
        if self.rems_monitoring_form and self.min_monitoring_minutes < REMS_MIN_MONITORING_MINUTES:
            raise ValueError(f"min_monitoring_minutes: REMS monitoring lasts at least {REMS_MIN_MONITORING_MINUTES} "
                             f"minutes (rems_monitoring_form is true), not {self.min_monitoring_minutes}")
        return self

    def _shortest_series_days(self) -> int:
        """Days the series needs at the least: each stage's minimum sessions at its minimum spacing."""
        if not self.stages:
            return (self.dosing_sessions - 1) * self.min_days_between
        series = [s for s in self.stages if s.phase == SERIES]
        return sum(max(s.sessions.min - (i == 0), 0) * s.days_between.min for i, s in enumerate(series))

    @property
    def plan(self) -> tuple[Stage, ...]:
        """The dosing plan's stages; a version 1 definition is one series stage, and its minimum
        spacing applies to maintenance doses (every dose is spaced, in any phase)."""
        if self.stages:
            return self.stages
        return (Stage(name="Series", sessions=Bounds(min=self.dosing_sessions, max=self.dosing_sessions),
                      days_between=Bounds(min=max(self.min_days_between, 1), max=max(self.max_days_between, 1))),
                Stage(name="Maintenance", phase=MAINTENANCE, sessions=Bounds(min=0),
                      days_between=Bounds(min=max(self.min_days_between, 1))))

    @property
    def series_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.plan if s.phase == SERIES)

    @property
    def maintenance_stage(self) -> Stage | None:
        return next((s for s in self.plan if s.phase == MAINTENANCE), None)

    @property
    def min_series_sessions(self) -> int:
        """Dosing sessions the series needs before integration (the phase gate)."""
        return sum(s.sessions.min for s in self.series_stages)

    @property
    def max_series_sessions(self) -> int:
        return sum(s.sessions.max for s in self.series_stages)

    @property
    def at_home_allowed(self) -> bool:
        return AT_HOME in self.settings


class Window(_Strict):
    """Clinic protocol window after each dosing session, counted from the session's end."""

    opens_after: Duration
    optimal_until: Duration
    closes_after: Duration

    @model_validator(mode="after")
    def _ordered(self):
        opens, optimal, closes = (self.opens_after.approximate, self.optimal_until.approximate,
                                  self.closes_after.approximate)
        if closes <= opens:
            raise ValueError("the window closes before (or when) it opens: closes_after must be "
                             "later than opens_after")
        if not opens <= optimal <= closes:
            raise ValueError("optimal_until must lie between opens_after and closes_after")
        return self


class AfterSeries(_Strict):
    sessions: Annotated[int, Field(ge=0, le=52)]
    every_days: Annotated[int, Field(ge=1, le=365)]


class Integration(_Strict):
    window: Window
    min_sessions_per_dosing: Annotated[int, Field(ge=0, le=10)]
    #: may one integration session inside two overlapping windows count for both?
    one_session_covers_overlapping_windows: bool
    after_series: AfterSeries
    #: dosing and integration alternate (IM KAP): a dose whose previous dose's window has no
    #: integration session held or booked is recorded with a warning (domain/alternation.py)
    alternates_with_dosing: bool = False

    @model_validator(mode="after")
    def _alternation_needs_sessions(self):
        if self.alternates_with_dosing and self.min_sessions_per_dosing < 1:
            raise ValueError("alternates_with_dosing: dosing and integration alternate only when each dose has "
                             "an integration session (min_sessions_per_dosing is 0)")
        return self


class MeasureSchedule(_Strict):
    #: a key of the measure registry (domain.measures)
    measure: Annotated[str, AfterValidator(_measure_key)]
    at: Annotated[tuple[Literal[MEASURE_POINTS], ...], Field(min_length=1), AfterValidator(_unique)]
    follow_up_days: Annotated[tuple[Annotated[int, Field(ge=1, le=3650)], ...],
                              AfterValidator(_unique)] = ()

    @model_validator(mode="after")
    def _follow_ups_declared(self):
        if ("follow_up" in self.at) != bool(self.follow_up_days):
            raise ValueError("follow_up_days must be given exactly when 'follow_up' is in at")
        return self


class PlanReview(_Strict):
    """When a course's treatment plan is due for review besides its own review date (optional; when a
    protocol says nothing: domain.plans.DEFAULT_REVIEW_RULE, after the series and 28 days after the first dose)."""
    after_series: bool = True
    days_after_first_dose: Annotated[tuple[Annotated[int, Field(ge=1, le=3650)], ...],
                                     AfterValidator(_unique)] = (28,)


class Coordination(_Strict):
    #: a prescriber report is due after these dosing sessions (1 = the first)
    report_after_dosing: Annotated[tuple[Annotated[int, Field(ge=1)], ...], AfterValidator(_unique)] = ()
    report_at_end_of_series: bool
    report_every_days: Annotated[int, Field(ge=1, le=365)] | None = None


class Protocol(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    name: Name
    route: Literal[ROUTES]
    medication: Literal[MEDICATIONS]
    summary: Text
    evidence: Annotated[tuple[Evidence, ...], Field(min_length=1)]
    preparation: Preparation
    experience: Experience
    integration: Integration
    measures: tuple[MeasureSchedule, ...]
    coordination: Coordination
    #: optional: a version-1 snapshot without it keeps the readings it required (domain.vitals)
    vital_signs: VitalSignRules = DEFAULT_RULES
    #: optional: the treatment plan's re-evaluation points (issue 24); None: the default rule
    plan_review: PlanReview | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.medication == "esketamine" and self.route != "intranasal":
            raise ValueError("esketamine is given intranasally: route must be 'intranasal'")
        series = self.experience.max_series_sessions
        late = [n for n in self.coordination.report_after_dosing if n > series]
        if late:
            raise ValueError(f"coordination.report_after_dosing names session(s) {late} but the "
                             f"series has at most {series}")
        self._doses_fit_route()
        self._rems_readings()
        names = [m.measure for m in self.measures]
        _unique(tuple(names))
        return self

    def _doses_fit_route(self) -> None:
        from_weight = self.route in WEIGHT_BASED_ROUTES
        dose = self.experience.dose
        if dose is not None and (dose.unit == "mg/kg") != from_weight:
            raise ValueError(f"experience.dose.unit: a {self.route} dose is stated in "
                             f"{'mg/kg' if from_weight else 'mg'}")
        if self.experience.at_home_allowed and (self.experience.rems_monitoring_form or from_weight):
            raise ValueError("experience.settings: supervised_at_home is only for sublingual or oral "
                             "dosing outside REMS (injections and esketamine are given in the clinic)")

    def _rems_readings(self) -> None:
        """Under REMS the record needs blood pressure before and about 40 minutes after dosing, and
        pulse oximetry (SpO2) at a timepoint the protocol chooses."""
        if not self.experience.rems_monitoring_form:
            return
        for timepoint, words in REMS_BLOOD_PRESSURE.items():
            if "blood_pressure" not in self.vital_signs.at(timepoint).required:
                raise ValueError(f"vital_signs.{timepoint}.required: REMS needs blood pressure {words} "
                                 "(rems_monitoring_form is true)")
        if not any("spo2" in rules.required for rules in self.vital_signs.at_each()):
            raise ValueError("vital_signs: REMS monitoring includes pulse oximetry: require spo2 at one "
                             "timepoint at least (rems_monitoring_form is true)")

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)


class ProtocolError(Exception):
    """A protocol definition is invalid; `problems` are (field path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source, self.problems = source, problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {path}: {message}" for path, message in self.problems]


def _path(loc: tuple) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not str(part).startswith(("function-", "literal[", "tuple[")):
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown key (not part of the protocol format; check the spelling)",
    "missing": "required key is missing",
    "string_pattern_mismatch": "use lower-case letters, digits and single dashes, e.g. iv-ketamine-induction",
}


def _message(error: dict) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    message = error["msg"].removeprefix("Value error, ")
    return message.replace("Input should be", "must be").replace("String should have", "must have")


def validate_definition(data, source: str) -> Protocol:
    """A parsed mapping as a Protocol, or ProtocolError naming every problem found."""
    if not isinstance(data, dict):
        raise ProtocolError(source, [("(top level)", "must be a mapping of keys to values")])
    try:
        # JSON mode: YAML lists fill tuple fields, yet "3" is still not a number.
        return Protocol.model_validate_json(canonical_json(data))
    except ValidationError as err:
        problems = [(_path(e["loc"]), _message(e)) for e in err.errors()]
        raise ProtocolError(source, problems) from None


def canonical_json(data: dict) -> str:
    """The definition as it is hashed and snapshotted: key order and layout do not matter."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(data: dict) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
