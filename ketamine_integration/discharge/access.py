"""Who writes a course's discharge summary: the views' check, and the course page's next step."""
from __future__ import annotations

from ..accounts.models import THERAPIST, User
from ..courses.models import TreatmentCourse
from ..patients.access import team_roles


def may_write(user: User, course: TreatmentCourse) -> bool:
    """The care team's therapists write a course's summary (the admin reads no clinical record: a course
    whose therapist has left gets another therapist on its care team, who writes it)."""
    return user.can("discharge.write") and THERAPIST in team_roles(user, course.patient)
