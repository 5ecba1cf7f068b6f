"""Demo baselines are measurements, never ticks (issue 19, point 7): a PHQ-9, a GAD-7, a C-SSRS
screener and a WSAS (a PCL-5 too when the indication is trauma) recorded at intake, before the first
dose. One course's screener answers yes to question 1: its safety alert is acknowledged by the
prescriber with what was done, and stays in that patient's safety history. Some preparation courses
have no baseline PHQ-9 yet, and show it."""
from __future__ import annotations

import random
from datetime import date, datetime, time

from sqlalchemy import select

from ..accounts.models import User
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_zone
from ..domain.measures import CSSRS, GAD7, PCL5, PHQ9, WSAS, Measure
from ..extensions import db
from ..notes import services as notes
from ..notes.models import SafetyAlert

#: the C-SSRS screener answered no throughout (questions 3-5 not asked), or yes to question 1 only
CSSRS_NO = [0, 0, None, None, None, 0]
CSSRS_WISH_TO_BE_DEAD = [1, 0, None, None, None, 0]
ACKNOWLEDGEMENT = ("Screened with the prescriber at intake: passive wish to be dead in the past month, no "
                   "thoughts of killing herself, no method, intent or behaviour. Safety plan written and "
                   "crisis line given; reassessed before the first dose.")


def spread(measure: Measure, total: int, rng: random.Random, safety_answer: int = 0) -> list[int]:
    """Item scores adding up to `total` (capped at what the items hold), the safety item fixed."""
    values, free = [0] * len(measure.items), list(range(len(measure.items)))
    if measure.safety is not None and measure.safety.item is not None:
        values[measure.safety.item - 1] = safety_answer
        free.remove(measure.safety.item - 1)
    remaining = min(total, sum(max(measure.items[i].values) for i in free)) - sum(values)
    while remaining > 0:
        i = free[rng.randrange(len(free))]
        if values[i] < max(measure.items[i].values):
            values[i] += 1
            remaining -= 1
    return values


def record_baselines(course: TreatmentCourse, therapist: User, on: date, *, prescriber: User | None = None,
                     screen_positive: bool = False, phq9_only: bool = False) -> None:
    """The intake measures of a course, dated `on` (before its first dose). With `screen_positive`
    the screener's yes raises an alert, which `prescriber` acknowledges that afternoon."""
    rng = random.Random(course.patient_id)  # its own: the rest of the demo's draws stay as they were
    total = rng.randint(14, 22)
    notes.record_measure(course, measure=PHQ9.key, answers=spread(PHQ9, total, rng), difficulty="somewhat",
                         administered_on=on, by=therapist, today=on)
    if phq9_only:
        return
    notes.record_measure(course, measure=GAD7.key, answers=spread(GAD7, total - 3, rng), difficulty=None,
                         administered_on=on, by=therapist, today=on)
    screener = notes.record_measure(course, measure=CSSRS.key, answers=CSSRS_WISH_TO_BE_DEAD if screen_positive
                                    else CSSRS_NO, difficulty=None, administered_on=on, by=therapist, today=on)
    # functioning on every course, and trauma symptoms where trauma is the indication (issue 24 point 5)
    notes.record_measure(course, measure=WSAS.key, answers=spread(WSAS, total + 8, rng), difficulty=None,
                         administered_on=on, by=therapist, today=on)
    if "trauma" in course.indication.lower():
        notes.record_measure(course, measure=PCL5.key, answers=spread(PCL5, total * 3 - 6, rng), difficulty=None,
                             administered_on=on, by=therapist, today=on)
    if screen_positive and prescriber is not None:
        alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.measure_response_id == screener.id))
        notes.acknowledge_alert(alert, note=ACKNOWLEDGEMENT, by=prescriber,
                                now=datetime.combine(on, time(16), clinic_zone()))

