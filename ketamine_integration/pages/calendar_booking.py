"""Booking from the calendar (issue 21, point 2): a free slot chosen on the time grid opens a
course's booking form with the slot's time, therapist and room filled in, once the patient (their
course) is picked. The form is the course page's, posting to its booking (pages/course.py
book_session), which comes back to the calendar when it books, and here when it refuses."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import case, select
from sqlalchemy.orm import contains_eager
from wtforms.validators import InputRequired

from ..accounts.models import User
from ..audit import services as audit
from ..bookings.models import Room
from ..courses.models import TreatmentCourse
from ..extensions import db
from ..patients.access import load_patient_record, visible_patients
from ..patients.care_team import may_add_members
from ..patients.models import Patient
from ..patients.services import search_patients_stmt
from ..db.clinic_time import to_clinic
from ..scheduling.calendar import Filters
from ..scheduling.forms import BookForm
from ..scheduling.services import BOOKABLE_IN
from ..web import access
from ..web.fields import ClinicDateTimeField
from ..web.forms import parse_id
from .booking_forms import book_form_choices

#: courses the patient picker lists at once (a search narrows them)
PICK_LIMIT = 20
#: the phases a course books any session in
BOOKING_PHASES = sorted({phase.value for phases in BOOKABLE_IN.values() for phase in phases})
#: what a free slot's link says, carried from the picker to the form; "calendar": the calendar's own
#: filters (its query string), so that the booking comes back to the view it was made from
SLOT_ARGS = ("starts_at", "clinician", "room", "kind", "modality", "calendar")


class SlotForm(FlaskForm):
    """The slot a free slot's link names (its address, not a post: no CSRF token)."""

    class Meta:
        csrf = False

    starts_at = ClinicDateTimeField("Time of the slot", validators=[InputRequired()])


def slot_args() -> dict[str, str]:
    return {k: request.args[k] for k in SLOT_ARGS if request.args.get(k)}


def calendar_back(day=None) -> dict[str, str]:
    """The calendar address's arguments to come back to: the view and filters the free slot was
    chosen in (read again through Filters: anything else in it is dropped), on `day` (the day booked)
    when given; without them (a form opened otherwise), the slot's own day."""
    filters = Filters.from_query(request.values.get("calendar", ""))
    if filters is None:
        return {"date": day.isoformat()} if day else {}
    return filters.args(**({"date": day.isoformat()} if day else {}))


@access.permission("schedule.book")
def calendar_book():
    """Pick the patient (a course that books sessions), then the course's booking form, filled in."""
    slot = SlotForm(formdata=request.args)
    if not slot.validate():
        return render_template("scheduling/calendar_book.html", problem=" ".join(slot.starts_at.errors),
                               slot=None), 400
    course_id = parse_id(request.args.get("course"))
    if course_id is None:
        return _pick_patient(slot)
    course = load_patient_record(TreatmentCourse, course_id, clinical=False)
    audit.record("course.view", obj=course, patient_id=course.patient_id, detail="booking form, from the calendar")
    return booking_page(course, _prefilled(course, slot))


def _slot_words(slot: SlotForm) -> dict:
    """The therapist and room the slot names, to say who and where."""
    clinician = db.session.get(User, parse_id(request.args.get("clinician")) or 0)
    room = db.session.get(Room, parse_id(request.args.get("room")) or 0)
    return {"starts_at": slot.starts_at.data, "clinician": clinician.display_name if clinician else None,
            "room": room.name if room else None, "args": slot_args(),
            "back": calendar_back(to_clinic(slot.starts_at.data).date())}


def _pick_patient(slot: SlotForm):
    query = request.args.get("q", "").strip()[:100]
    words = _slot_words(slot)
    courses = _bookable_courses(query, parse_id(request.args.get("clinician")))
    audit.record("patient.list", detail=f"booking from the calendar; {len(courses[:PICK_LIMIT])} courses shown")
    return render_template("scheduling/calendar_book.html", slot=words, query=query, courses=courses[:PICK_LIMIT],
                           more=len(courses) > PICK_LIMIT, problem=None)


def _bookable_courses(query: str, clinician_id: int | None) -> list[TreatmentCourse]:
    """Courses of patients the user may see, matching the search, in a phase that books sessions:
    the slot's therapist's own courses first, then by name (one query)."""
    matching = visible_patients(current_user, search_patients_stmt(query)).with_only_columns(Patient.id).order_by(None)
    own_first = case((TreatmentCourse.therapist_id == (clinician_id or 0), 0), else_=1)
    return db.session.scalars(
        select(TreatmentCourse).join(TreatmentCourse.patient)
        .where(TreatmentCourse.phase.in_(BOOKING_PHASES), TreatmentCourse.patient_id.in_(matching))
        .options(contains_eager(TreatmentCourse.patient))
        .order_by(own_first, Patient.family_name, Patient.given_name, TreatmentCourse.id)
        .limit(PICK_LIMIT + 1)).all()


def _prefilled(course: TreatmentCourse, slot: SlotForm) -> BookForm:
    """The course's booking form with the slot's time, therapist and room; a session type the
    course books in its phase (the one the calendar showed, when it may)."""
    allowed = [kind for kind, phases in BOOKABLE_IN.items() if course.current_phase in phases]
    asked = request.args.get("kind")
    return BookForm(kind=asked if asked in allowed else (allowed[0] if allowed else "integration"),
                    starts_at=slot.starts_at.data, clinician=parse_id(request.args.get("clinician")),
                    room=parse_id(request.args.get("room")) or 0,
                    modality="telehealth" if request.args.get("modality") == "telehealth" else "in_person")


def booking_page(course: TreatmentCourse, form: BookForm, *, status: int = 200):
    """The booking form of one course, as the calendar opens it (again, with a refused form's errors)."""
    may_add = may_add_members(current_user, course.patient)
    book_form_choices(course, form, may_add)
    books = [kind for kind, phases in BOOKABLE_IN.items() if course.current_phase in phases]
    day = to_clinic(form.starts_at.data).date() if form.starts_at.data else None
    return render_template("scheduling/calendar_book.html", course=course, form=form, may_add_to_team=may_add,
                           books=books, problem=None, slot=None, back=calendar_back(day),
                           calendar=urlencode(calendar_back()) if request.values.get("calendar") else None), status


#: (endpoint, URL, view, methods), as pages/course.py's
ROUTES = (("scheduling.calendar_book", "/calendar/book", calendar_book, ["GET"]),)
