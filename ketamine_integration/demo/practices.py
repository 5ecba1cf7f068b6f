"""Demo practices (issue 23, points 5 and 6): self-guided practices assigned to several courses
under way, weeks of the patients' fictional logs with what got in the way, a practice ended early,
and the patients' check-ins on the action steps of their signed notes. Written through the
services, as a therapist and the patients (through the portal) would."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain.phases import Phase
from ..extensions import db
from ..notes.patient_check_ins import check_in_on_step
from ..notes.services import open_steps
from ..practices.patient import log_practice
from ..practices.services import assign_practice, end_assignment

#: the courses given practices: the first ones under way that have an action step
COURSES = 6
#: (practice, times, per, instructions) — two for each course, in turn
ASSIGNED = (("movement", 3, "week", "A walk counts; ten minutes is enough."),
            ("journaling", 1, "day", "Three lines before bed: what stood out today."),
            ("meditation", 1, "day", "The ten-minute breathing recording from the session."),
            ("nature", 2, "week", None),
            ("social", 1, "week", "Reach out to one person, even by text."),
            ("creative", 2, "week", "Drawing or music, whatever calls."))
#: what got in the way (invented, in a patient's words)
OBSTACLES = ("Rain all afternoon", "Worked late twice", "Felt flat and stayed in", "Forgot until bedtime",
             "Kids were sick", "Too tired after the night shift")
#: how far back the logs go
WEEKS_LOGGED = 3


def load_demo_practices(now: datetime, rng: random.Random) -> None:
    today = clinic_today(now)
    courses = db.session.scalars(select(TreatmentCourse).where(TreatmentCourse.phase.in_(
        [Phase.INTEGRATION.value, Phase.MAINTENANCE.value, Phase.EXPERIENCE.value])).order_by(TreatmentCourse.id)).all()
    chosen = [c for c in courses if open_steps(c.id)][:COURSES]
    for n, course in enumerate(chosen):
        for k in range(2):
            practice, times, per, instructions = ASSIGNED[(2 * n + k) % len(ASSIGNED)]
            starts = max(course.start_date, today - timedelta(days=7 * WEEKS_LOGGED))
            assignment = assign_practice(course, practice_key=practice, times=times, per=per, starts_on=starts,
                                         ends_on=today + timedelta(days=28), instructions=instructions,
                                         by=course.therapist, today=today)
            _logs(course, assignment, today, rng, keen=0.8 if n % 3 else 0.45)
            if n == 1 and k == 1:  # one practice the therapist ended early (kept, with its logs)
                end_assignment(assignment, by=course.therapist, today=today, now=now)
        _step_check_ins(course, today, rng)


def _logs(course, assignment, today, rng: random.Random, *, keen: float) -> None:
    """Logs for the days up to yesterday, as a patient who logs most occurrences would."""
    day = assignment.starts_on
    while day < today:
        wanted = assignment.times if assignment.per == "day" else (1 if rng.random() < assignment.times / 7 else 0)
        for _ in range(wanted):
            if rng.random() > keen + 0.1:
                continue  # not logged at all that time
            outcome = "done" if rng.random() < keen else rng.choice(("partly", "not"))
            note = rng.choice(OBSTACLES) if outcome != "done" and rng.random() < 0.7 else None
            try:
                with db.session.begin_nested():
                    log_practice(course.patient, assignment.id, outcome, day, note, utcnow())
            except DomainError:
                break  # the day's (or the week's) occurrences are all logged
        day += timedelta(days=1)


def _step_check_ins(course, today, rng: random.Random) -> None:
    """Two or three recent check-ins on each open step of the course's signed notes."""
    for step in open_steps(course.id):
        for back in sorted(rng.sample(range(1, 10), rng.choice((2, 3))), reverse=True):
            day = today - timedelta(days=back)
            if day < step.starts_on:
                continue
            outcome = rng.choice(("done", "done", "partly", "not"))
            check_in_on_step(course.patient, step.id, outcome, day,
                             rng.choice(OBSTACLES) if outcome != "done" else None, utcnow())
