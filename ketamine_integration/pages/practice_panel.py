"""The course page's practices section: the assignments and their adherence for the care team, and
the assign form for a therapist who may assign (issue 23, point 5)."""
from __future__ import annotations

from datetime import timedelta

from flask import request
from flask_login import current_user

from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..practices.forms import AssignPracticeForm, EndAssignmentForm
from ..practices.services import course_practice_summaries
from ..practices.vocabulary import practice_choices
from ..web.fields import options
from ..web.forms import parse_id

#: the assign form's field prefix (ids stay unique beside the page's other forms)
PREFIX = "assign"
#: a new assignment's days, until the therapist says otherwise
FOUR_WEEKS = 28


def assign_form(form: AssignPracticeForm | None = None) -> AssignPracticeForm:
    """The submitted form, else a fresh one (from today, for four weeks; from the note named in the
    URL, when the therapist came from one), with the vocabulary's practices to choose from."""
    if form is None:
        today = clinic_today()
        form = AssignPracticeForm(prefix=PREFIX, formdata=None, times=3, per="week", starts_on=today,
                                  ends_on=today + timedelta(days=FOUR_WEEKS - 1),
                                  from_note=parse_id(request.args.get("from_note")) or "")
    form.practice.choices = options([("", "—"), *practice_choices()])
    return form


def practice_parts(course: TreatmentCourse, clinical: bool, form: AssignPracticeForm | None = None) -> dict:
    """The section's data: nothing for a user who may not read the course's clinical record."""
    if not clinical:
        return {"practice_summaries": [], "practice_form": None, "practice_end_form": None}
    may_assign = current_user.can("practices.assign") and not course.current_phase.ended
    return {"practice_summaries": course_practice_summaries(course.id, clinic_today()),
            "practice_form": assign_form(form) if may_assign else None,
            "practice_end_form": EndAssignmentForm() if current_user.can("practices.assign") else None}
