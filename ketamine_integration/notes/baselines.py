"""Baselines are measurements: a course's baseline of a measure is the last live response of that
measure dated before the first dose and entered before that dose started; response and remission
are computed against it, and the preparation checklist's baseline items are met by it (issue 19,
point 7). A response entered after dosing began, dated before it, never becomes the baseline
silently: it is shown as such and left out (a backdated score must not decide "response")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from ..courses.models import TreatmentCourse
from ..courses.services import DerivedItem, Evidence
from ..db.clinic_time import to_clinic
from ..domain import measures as scoring
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from .models import MeasureResponse

#: what a row of a measure's table is, next to the baseline
BASELINE, BEFORE_BASELINE, ENTERED_LATE, AFTER_FIRST_DOSE = "baseline", "before", "entered_late", "after"
#: how a page and the report show an ENTERED_LATE row
LATE_ENTRY = "entered after dosing began (not used as the baseline)"


@dataclass(frozen=True)
class FirstDose:
    #: when the course's first dose started (UTC)
    started_at: datetime
    #: its date in the clinic's time zone
    on: date


@dataclass(frozen=True)
class TrendRow:
    response: MeasureResponse
    #: BASELINE, BEFORE_BASELINE (an earlier pre-dose response), ENTERED_LATE (dated before the
    #: first dose, entered after it started: not a baseline) or AFTER_FIRST_DOSE
    role: str
    #: change from the baseline (None: no baseline, a row before the first dose, or a measure without totals)
    change: scoring.Change | None


def first_dose_of(course_id: int) -> FirstDose | None:
    """The course's first dose (the earliest recorded start of a dosing session not cancelled),
    or None before any dose."""
    started = db.session.scalar(select(func.min(DosingSession.started_at)).where(
        DosingSession.course_id == course_id, DosingSession.status != CANCELLED,
        DosingSession.started_at.is_not(None)))
    return None if started is None else FirstDose(started_at=started, on=to_clinic(started).date())


def dated_before_first_dose(response: MeasureResponse, first_dose: FirstDose | None) -> bool:
    """Dated before the first dose: the day before it or earlier (a response carries a date only,
    so one dated the day of the first dose may have followed it and is not a baseline)."""
    return first_dose is None or response.administered_on < first_dose.on


def entered_before_first_dose(response: MeasureResponse, first_dose: FirstDose | None) -> bool:
    """Entered in the record before the first dose started: what was known when dosing began."""
    return first_dose is None or response.created_at < first_dose.started_at


def baseline_of(responses: list[MeasureResponse], measure: str, first_dose: FirstDose | None) -> MeasureResponse | None:
    """The last live response of `measure` dated and entered before the first dose (responses in
    date order)."""
    earlier = [r for r in responses if r.measure == measure and r.voided_at is None
               and dated_before_first_dose(r, first_dose) and entered_before_first_dose(r, first_dose)]
    return earlier[-1] if earlier else None


def trend(responses: list[MeasureResponse], measure: str, first_dose: FirstDose | None) -> list[TrendRow]:
    """Each live response of a measure, with its change from the baseline (never from a response
    recorded after dosing started, nor from one entered after it started)."""
    entry = scoring.MEASURES[measure]
    baseline = baseline_of(responses, measure, first_dose) if entry.has_baseline else None
    rows = []
    for r in (r for r in responses if r.measure == measure and r.voided_at is None):
        if baseline is not None and r.id == baseline.id:
            rows.append(TrendRow(r, BASELINE, None))
        elif not dated_before_first_dose(r, first_dose):
            change = None if baseline is None or not entry.charted else scoring.change(measure, baseline.total,
                                                                                        r.total)
            rows.append(TrendRow(r, AFTER_FIRST_DOSE, change))
        elif entered_before_first_dose(r, first_dose):
            rows.append(TrendRow(r, BEFORE_BASELINE, None))
        else:
            rows.append(TrendRow(r, ENTERED_LATE, None))
    return rows


def course_measures(course_id: int) -> list[MeasureResponse]:
    return db.session.scalars(select(MeasureResponse).where(MeasureResponse.course_id == course_id)
                              .order_by(MeasureResponse.administered_on, MeasureResponse.id)).all()


def measured_baselines(course: TreatmentCourse) -> Evidence:
    """The checklist's baseline items the course's measures meet (courses asks, through create_app)."""
    responses, first_dose = course_measures(course.id), first_dose_of(course.id)
    met = {}
    for key, entry in scoring.MEASURES.items():
        baseline = baseline_of(responses, key, first_dose) if entry.has_baseline else None
        if baseline is not None:
            what = entry.reading(baseline.total, baseline.band)
            met[entry.baseline_item] = DerivedItem(item=entry.baseline_item, on=baseline.administered_on,
                                                   summary=f"{entry.name} of {baseline.administered_on}: {what}")
    return Evidence(met)
