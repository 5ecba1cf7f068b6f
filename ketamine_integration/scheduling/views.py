"""Booking an integration session inside a dosing session's window."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from .. import access
from ..accounts.models import ADMIN, PRESCRIBER, STAFF, THERAPIST
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..courses.page import course_page
from ..db_types import utcnow
from ..fields import options
from ..patients.access import load_patient_record
from ..patients.services import clinician_choices
from ..web import submit
from . import services
from .availability import first_free_room, room_choices
from .forms import BookForm

bp = Blueprint("scheduling", __name__)


def _room_for(form: BookForm) -> int | None:
    """The chosen room, or the first free one for an in-person session with none chosen."""
    if form.modality.data != "in_person":
        return None
    if form.room.data:
        return form.room.data
    ends = form.starts_at.data + timedelta(minutes=form.minutes.data)
    room = first_free_room(form.starts_at.data, ends)
    return room.id if room else None


@bp.route("/courses/<id:course_id>/integration-sessions", methods=["POST"])
@access.roles(ADMIN, STAFF, THERAPIST, PRESCRIBER)
def book_integration(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    form = BookForm()
    form.clinician.choices = options(clinician_choices(THERAPIST))
    form.room.choices = room_choices()
    done, appointment = submit(form, lambda: services.book_integration_session(
        course, clinician_id=form.clinician.data, starts_at=form.starts_at.data, minutes=form.minutes.data,
        modality=form.modality.data, by=current_user, now=utcnow(), room_id=_room_for(form)))
    if done:
        audit.record("appointment.create", obj=appointment, patient_id=course.patient_id, detail="integration")
        flash("Integration session booked.", "success")
        return redirect(url_for("courses.course_detail", course_id=course.id) + "#windows")
    audit.record("appointment.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return course_page(course, book_form=form, status=422)
