"""Baselines are measurements: a course's baseline of a measure is the last live response of that
measure dated before the first dose; response and remission are computed against it, and the
preparation checklist's baseline items are met by it (issue 19, point 7)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from ..courses.models import TreatmentCourse
from ..courses.services import MeasuredItem
from ..db.clinic_time import to_clinic
from ..domain import measures as scoring
from ..experience.models import CANCELLED, DosingSession
from ..extensions import db
from .models import MeasureResponse

#: what a row of a measure's table is, next to the baseline
BASELINE, BEFORE_BASELINE, AFTER_FIRST_DOSE = "baseline", "before", "after"


@dataclass(frozen=True)
class TrendRow:
    response: MeasureResponse
    #: BASELINE, BEFORE_BASELINE (an earlier pre-dose response) or AFTER_FIRST_DOSE
    role: str
    #: change from the baseline (None: no baseline, a row before the first dose, or a measure without totals)
    change: scoring.Change | None


def first_dose_on(course_id: int) -> date | None:
    """The clinic date of the course's first dose (the earliest recorded start of a dosing
    session not cancelled), or None before any dose."""
    started = db.session.scalar(select(func.min(DosingSession.started_at)).where(
        DosingSession.course_id == course_id, DosingSession.status != CANCELLED,
        DosingSession.started_at.is_not(None)))
    return None if started is None else to_clinic(started).date()


def before_first_dose(response: MeasureResponse, first_dose: date | None) -> bool:
    """Dated before the first dose: the day before it or earlier (a response carries a date only,
    so one dated the day of the first dose may have followed it and is not a baseline)."""
    return first_dose is None or response.administered_on < first_dose


def baseline_of(responses: list[MeasureResponse], measure: str, first_dose: date | None) -> MeasureResponse | None:
    """The last live response of `measure` before the first dose (responses in date order)."""
    earlier = [r for r in responses if r.measure == measure and r.voided_at is None
               and before_first_dose(r, first_dose)]
    return earlier[-1] if earlier else None


def trend(responses: list[MeasureResponse], measure: str, first_dose: date | None) -> list[TrendRow]:
    """Each live response of a measure, with its change from the baseline (never from a response
    recorded after dosing started)."""
    baseline, entry = baseline_of(responses, measure, first_dose), scoring.MEASURES[measure]
    rows = []
    for r in (r for r in responses if r.measure == measure and r.voided_at is None):
        if baseline is not None and r.id == baseline.id:
            rows.append(TrendRow(r, BASELINE, None))
        elif before_first_dose(r, first_dose):
            rows.append(TrendRow(r, BEFORE_BASELINE, None))
        else:
            change = None if baseline is None or not entry.charted else scoring.change(measure, baseline.total,
                                                                                        r.total)
            rows.append(TrendRow(r, AFTER_FIRST_DOSE, change))
    return rows


def course_measures(course_id: int) -> list[MeasureResponse]:
    return db.session.scalars(select(MeasureResponse).where(MeasureResponse.course_id == course_id)
                              .order_by(MeasureResponse.administered_on, MeasureResponse.id)).all()


def measured_baselines(course: TreatmentCourse) -> dict[str, MeasuredItem]:
    """The checklist's baseline items the course's measures meet (courses asks, through create_app)."""
    responses, first_dose = course_measures(course.id), first_dose_on(course.id)
    met = {}
    for key, entry in scoring.MEASURES.items():
        baseline = baseline_of(responses, key, first_dose)
        if baseline is not None:
            what = baseline.band if not entry.charted else f"{baseline.total} ({baseline.band})"
            met[entry.baseline_item] = MeasuredItem(item=entry.baseline_item, on=baseline.administered_on,
                                                    summary=f"{entry.name} of {baseline.administered_on}: {what}")
    return met
