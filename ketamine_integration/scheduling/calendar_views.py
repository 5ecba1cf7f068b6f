"""The calendar (issue 21, point 2): the time grid with its filters, and one appointment with its
move, cancel and attendance actions (their forms post to scheduling/views.py's endpoints).

Its pages are on the scheduling blueprint: scheduling/views.py adds `routes` to it. Booking a free
slot is pages/calendar_booking.py (it composes a course's booking form)."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from flask import render_template, request
from flask_login import current_user

from ..accounts.models import THERAPIST
from ..audit import services as audit
from ..bookings.availability import active_rooms, session_minutes
from ..bookings.models import KINDS, Appointment
from ..db.clinic_time import to_clinic
from ..db.types import utcnow
from ..patients.access import load_patient_record
from ..patients.services import clinician_choices
from ..telehealth.services import video_link
from ..web import access
from ..web.routes import Routes
from .calendar import GROUPS, VIEWS, Filters, calendar_scope
from .grid import time_grid
from .services import BOOKABLE_IN

#: the routes of these pages, added to the scheduling blueprint by scheduling/views.py
routes = Routes()


@routes.route("/calendar")
@access.permission("schedule.read")
def calendar_view():
    """A week (a column per day) or a day (a column per clinician or per room) of sessions."""
    filters = Filters.from_args(request.args)
    scope = calendar_scope(current_user, filters.therapist_id)
    filters = replace(filters, therapist_id=scope.clinician_id)
    first, last = filters.period
    # a free slot books the session type shown when it is one that is booked here, else an
    # integration session: it is offered only where that type's whole length is free
    slot_kind = filters.kind if filters.kind in BOOKABLE_IN else "integration"
    slot_minutes = session_minutes()[slot_kind]
    grid = time_grid(first, last, now=utcnow(), by="day" if filters.view == "week" else filters.by,
                     clinician_id=scope.clinician_id, room_id=filters.room_id, kind=filters.kind,
                     patient_ids=scope.patient_ids, offer_slots=current_user.can("schedule.book"),
                     slot_minutes=slot_minutes, viewer_id=current_user.id)
    audit.record("patient.list", detail=f"calendar; {grid.sessions} sessions")
    # the booking comes back to this view, these filters and the day booked (pages/course.py book_session)
    slot_args = {"kind": slot_kind, "calendar": urlencode(filters.args())}
    return render_template(
        "scheduling/calendar.html", grid=grid, filters=filters, views=VIEWS, groups=GROUPS, kinds=KINDS,
        previous=filters.day - filters.step, following=filters.day + filters.step, sees_all=scope.sees_all,
        scope_words=scope.words, clinicians=clinician_choices(THERAPIST) if scope.sees_all else [],
        rooms=active_rooms(), slot_args=slot_args, slot_kind=KINDS[slot_kind], slot_minutes=slot_minutes,
        view_args=filters.args(view=None, date=None))


@routes.route("/appointments/<id:appointment_id>")
@access.permission("schedule.read")
def appointment_detail(appointment_id: int):
    """One appointment: when, who, where, what became of it and its history, with the actions a
    user who books may take (schedule-level: the care team, and staff for every patient)."""
    appointment = load_patient_record(Appointment, appointment_id, clinical=False)
    audit.record("appointment.view", obj=appointment, patient_id=appointment.patient_id)
    day = to_clinic(appointment.starts_at).date()
    # the video link goes to the session's clinician (telehealth: README, Telehealth links)
    video_url = video_link(appointment) if appointment.clinician_id == current_user.id else None
    return render_template("scheduling/appointment.html", a=appointment, now=utcnow(), video_url=video_url,
                           calendar_args={"date": day.isoformat(), "view": "day", "by": "clinician"})
