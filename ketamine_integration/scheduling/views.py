"""Scheduling pages: changes to bookings, the worklist, the calendar and the auto-schedule (booking from the course page: pages/course.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..accounts.models import THERAPIST
from ..audit import services as audit
from ..db.types import utcnow
from ..db.errors import DomainError
from ..domain.coverage import OUTCOMES
from ..web.fields import YEARS
from ..patients.access import caseload, load_patient_record
from ..patients.models import Patient
from ..patients.services import clinician_choices
from ..web.forms import parse_id, submit
from ..extensions import db
from ..db.clinic_time import clinic_today
from . import attendance, auto, availability_views, calendar, services, worklist
from .forms import CancelAppointmentForm, MoveAppointmentForm, OutcomeForm
from ..bookings.models import Appointment, Room

bp = Blueprint("scheduling", __name__)
# the availability pages (hours, time off, rooms, session types) are declared in their own module
availability_views.routes.add_to(bp)


@bp.route("/schedule/auto")
@access.permission("schedule.manage")
def auto_schedule():
    """Propose integration sessions for every uncovered window in the next N days."""
    return _proposal_page(min(max(request.args.get("days", default=14, type=int) or 14, 1), 31))


def _proposal_page(days: int, status: int = 200):
    proposal = auto.propose(utcnow(), days)
    audit.record("schedule.propose", detail=f"{len(proposal.assignments)} proposed, "
                                            f"{len(proposal.unmatched)} unmatched", durable=status >= 400)
    return render_template("scheduling/auto.html", proposal=proposal, days=days), status


@bp.route("/schedule/auto/confirm", methods=["POST"])
@access.permission("schedule.manage")
def auto_schedule_confirm():
    """Book the reviewed proposal in one transaction: all of it, or nothing."""
    form = request.form
    try:
        rows = [(parse_id(c), parse_id(w), parse_id(t), datetime.fromisoformat(s)) for c, w, t, s in zip(
            form.getlist("course"), form.getlist("window"), form.getlist("therapist"), form.getlist("starts_at"))]
    except ValueError:
        abort(400)
    if not rows or len(rows) > 2000 or any(None in row[:3] or row[3].tzinfo is None
                                           or not YEARS[0] <= row[3].year <= YEARS[1] for row in rows):
        abort(400)
    days = min(max(form.get("days", default=14, type=int) or 14, 1), 31)
    try:
        booked = auto.confirm(rows, by=current_user, now=utcnow())
    except DomainError as err:
        # Undo the bookings made before the refusal, then propose again from what is really booked.
        db.session.rollback()
        audit.record("schedule.confirm", outcome=audit.FAILURE, detail=f"{len(rows)} proposed; refused")
        flash(str(err), "error")
        return _proposal_page(days, status=409)
    audit.record("schedule.confirm", detail=f"{booked} booked")
    flash(f"Booked {booked} integration session(s).", "success")
    return redirect(url_for("scheduling.auto_schedule"))


@bp.route("/worklist")
@access.permission("schedule.manage")
def staff_worklist():
    now = utcnow()
    items, unconfirmed = worklist.worklist(now), attendance.unconfirmed(now)
    audit.record("patient.list", detail=f"staff worklist; {len(items)} items, "
                                        f"{len(unconfirmed.appointments)} unconfirmed sessions")
    return render_template("scheduling/worklist.html", items=items, reasons=worklist.REASONS,
                           unconfirmed=unconfirmed)


def _appointment(appointment_id: int) -> Appointment:
    return load_patient_record(Appointment, appointment_id, clinical=False)


#: the pages an outcome may be recorded from, and so sent back to (nothing else: no open redirect)
RETURN_TO = {"worklist": "scheduling.staff_worklist", "home": "home.home"}


def _back(appointment: Appointment, anchor: str = "#unconfirmed"):
    """Back to the list the change was made from (`anchor`: the part of it), else to the course."""
    if request.form.get("return_to") in RETURN_TO:
        return redirect(url_for(RETURN_TO[request.form["return_to"]]) + anchor)
    if appointment.course_id:
        return redirect(url_for("courses.course_detail", course_id=appointment.course_id) + "#windows")
    return redirect(url_for("scheduling.staff_worklist"))


@bp.route("/appointments/<id:appointment_id>/cancel", methods=["POST"])
@access.permission("schedule.book")
def appointment_cancel(appointment_id: int):
    appointment = _appointment(appointment_id)
    form = CancelAppointmentForm()
    done, _ = submit(form, lambda: services.cancel_appointment(appointment, reason=form.reason.data,
                                                               by=current_user, now=utcnow()))
    _after_change(appointment, done, form, "cancel", "Appointment cancelled; it stays in the history.")
    return _back(appointment)


@bp.route("/appointments/<id:appointment_id>/outcome", methods=["POST"])
@access.permission("schedule.book")
def appointment_outcome(appointment_id: int):
    appointment = _appointment(appointment_id)
    form = OutcomeForm()
    earlier = appointment.outcome
    done, corrected = submit(form, lambda: attendance.record_outcome(
        appointment, outcome=form.outcome.data, by=current_user, now=utcnow(), reason=form.reason.data))
    detail = f"outcome {earlier} corrected to {form.outcome.data}" if corrected else f"outcome {form.outcome.data}"
    said = OUTCOMES.get(form.outcome.data, "").lower()
    _after_change(appointment, done, form, detail if done else "outcome",
                  f"Corrected to {said}; the earlier outcome stays in its history." if corrected
                  else f"Outcome recorded: {said}.")
    return _back(appointment)


@bp.route("/appointments/<id:appointment_id>/reschedule", methods=["POST"])
@access.permission("schedule.book")
def appointment_reschedule(appointment_id: int):
    appointment = _appointment(appointment_id)
    form = MoveAppointmentForm()
    done, _ = submit(form, lambda: services.reschedule_appointment(
        appointment, starts_at=form.starts_at.data, by=current_user, now=utcnow(), reason=form.reason.data))
    # the worklist's one-click move into the window of the dose the session was booked for
    what = "reschedule from the worklist" if request.form.get("return_to") == "worklist" else "reschedule"
    _after_change(appointment, done, form, what, "Appointment moved.")
    return _back(appointment, anchor="")  # a move from the worklist: its bookings to put right are at the top


def _after_change(appointment, done: bool, form, what: str, message: str) -> None:
    audit.report_submission(done, form, "appointment.update", obj=appointment, patient_id=appointment.patient_id,
                      message=message, detail=what)


@bp.route("/calendar")
@access.permission("schedule.read")
def calendar_view():
    """Staff see any therapist, room or the whole clinic; a clinician sees their own sessions."""
    view = "day" if request.args.get("view") == "day" else "week"
    try:
        day = date.fromisoformat(request.args.get("date", "")) if request.args.get("date") else clinic_today()
    except ValueError:
        day = clinic_today()
    day = min(max(day, date(2000, 1, 1)), date(2100, 1, 1))
    sees_all = current_user.can("schedule.manage")
    therapist_id = parse_id(request.args.get("therapist"))
    room_id = parse_id(request.args.get("room")) if sees_all else None
    patient_ids = None
    if not sees_all:
        therapist_id = current_user.id
        if not current_user.can("schedule.bookable"):
            # a nurse is booked for nothing: they see the sessions of their care-team patients
            therapist_id, patient_ids = None, caseload(current_user, select(Patient.id))
    first, last = calendar.period(day, view)
    items = calendar.entries(first, last, clinician_id=therapist_id, room_id=room_id, patient_ids=patient_ids,
                             now=utcnow())
    audit.record("patient.list", detail=f"calendar; {len(items)} sessions")
    step = timedelta(days=1 if view == "day" else 7)
    return render_template(
        "scheduling/calendar.html", days=calendar.by_day(items, first, last), view=view, day=day,
        previous=day - step, following=day + step, therapist_id=therapist_id, room_id=room_id, sees_all=sees_all,
        therapists=clinician_choices(THERAPIST) if sees_all else [],
        rooms=db.session.scalars(select(Room).order_by(Room.name)).all() if sees_all else [])
