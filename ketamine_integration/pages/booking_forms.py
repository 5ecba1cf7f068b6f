"""The booking form's choices (who may be booked for a course's session, and where), shared by the
course page and the calendar's booking page, which show the same form."""
from __future__ import annotations

from ..accounts.models import THERAPIST
from ..accounts.services import user_choices
from ..bookings.availability import room_choices
from ..courses.models import TreatmentCourse
from ..scheduling.forms import BookForm
from ..web.fields import options


def only_team_choices(course: TreatmentCourse, *forms) -> None:
    """Offer only the care team to a user who may not ask for a membership: anyone else would be
    refused (patients.care_team.admit_clinician still refuses an id sent from outside the list)."""
    members = {m.user_id for m in course.patient.care_team}
    for form in forms:
        form.clinician.choices = [c for c in form.clinician.choices if c.value in members]


def book_form_choices(course: TreatmentCourse, form: BookForm, may_add_to_team: bool, *, clinicians=None,
                      rooms=None) -> BookForm:
    """The therapists and rooms a booking form offers (`clinicians`, `rooms`: what the page read
    already, as accounts.services.user_choices and bookings.availability.active_rooms give them)."""
    clinicians = user_choices(THERAPIST) if clinicians is None else clinicians
    form.clinician.choices = options((user_id, name) for user_id, name, roles in clinicians if THERAPIST in roles)
    form.room.choices = room_choices(rooms=rooms)
    if not may_add_to_team:
        only_team_choices(course, form)
    return form
