"""Scheduling pages: changes to bookings, the worklist, the calendar and the auto-schedule (booking from the course page: pages/course.py)."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..db.clinic_time import to_clinic
from ..web import access
from ..audit import services as audit
from ..db.types import utcnow
from ..domain.coverage import OUTCOMES
from ..web.fields import YEARS
from ..patients.access import load_patient_record
from ..web.forms import parse_id, submit, whole_number
from ..extensions import db
from . import attendance, auto, availability_views, calendar_views, services, worklist
from .forms import CancelAppointmentForm, MoveAppointmentForm, OutcomeForm
from ..bookings.models import Appointment

bp = Blueprint("scheduling", __name__)
# the availability pages (hours, time off, rooms, session types) and the calendar's are declared in
# their own modules
availability_views.routes.add_to(bp)
calendar_views.routes.add_to(bp)


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
    """Book the chosen rows of the reviewed proposal, each that still can be; then say what was
    booked, what was refused and why, and what was left out."""
    rows, chosen = _proposed_rows(request.form)
    days = min(max(request.form.get("days", default=14, type=int) or 14, 1), 31)
    if not chosen:
        audit.record("schedule.confirm", outcome=audit.FAILURE, detail=f"{len(rows)} proposed; none chosen")
        flash("Choose at least one proposed session to book (tick its box); nothing was booked.", "error")
        return _proposal_page(days, status=422)
    outcomes = auto.confirm(rows, chosen, by=current_user, now=utcnow())
    booked = [o for o in outcomes if o.status == auto.BOOKED]
    refused = [o for o in outcomes if o.status == auto.REFUSED]
    skipped = [o for o in outcomes if o.status == auto.SKIPPED]
    audit.record("schedule.confirm", outcome=audit.SUCCESS if booked else audit.FAILURE,
                 detail=(f"{len(booked)} booked, {len(refused)} refused, {len(skipped)} not chosen"
                         + ("; appointments " + ", ".join(str(o.appointment.id) for o in booked) if booked else ""))[:200])
    return render_template("scheduling/auto_result.html", booked=booked, refused=refused, skipped=skipped,
                           days=days)


def _proposed_rows(form) -> tuple[list[auto.ProposedRow], set[int]]:
    """The proposal's rows and the indexes of those chosen, as the confirm form posts them; 400 for
    anything the form could not have sent."""
    columns = [form.getlist(name) for name in ("course", "window", "therapist", "starts_at", "room")]
    if len({len(column) for column in columns}) != 1 or not columns[0] or len(columns[0]) > 2000:
        abort(400)
    try:
        rows = [auto.ProposedRow(course_id=parse_id(c), window_key=parse_id(w), therapist_id=parse_id(t),
                                 starts_at=datetime.fromisoformat(s), room_id=parse_id(r) if r else None)
                for c, w, t, s, r in zip(*columns)]
    except ValueError:
        abort(400)
    chosen = {whole_number(i) for i in form.getlist("pick")}
    if not all(_well_formed(row, room) for row, room in zip(rows, columns[4])) \
            or not chosen <= set(range(len(rows))):
        abort(400)  # a None among the chosen is not in the range either
    return rows, chosen


def _well_formed(row: auto.ProposedRow, room: str) -> bool:
    """Ids the columns can hold, an aware time in the years a booking may take, a room id or none."""
    return None not in (row.course_id, row.window_key, row.therapist_id) and row.starts_at.tzinfo is not None \
        and YEARS[0] <= row.starts_at.year <= YEARS[1] and (row.room_id is not None or not room)


@bp.route("/worklist")
@access.permission("schedule.manage")
def staff_worklist():
    now = utcnow()
    items, unconfirmed = worklist.worklist(now), attendance.unconfirmed(now)
    plans = worklist.plan_reviews(now, to_clinic(now).date())
    audit.record("patient.list", detail=f"staff worklist; {len(items)} items, "
                                        f"{len(unconfirmed.appointments)} unconfirmed sessions, "
                                        f"{len(plans)} treatment plans missing or due for review")
    return render_template("scheduling/worklist.html", items=items, reasons=worklist.REASONS,
                           unconfirmed=unconfirmed, plans=plans)


def _appointment(appointment_id: int) -> Appointment:
    return load_patient_record(Appointment, appointment_id, clinical=False)


#: the pages an outcome may be recorded from, and so sent back to (nothing else: no open redirect)
RETURN_TO = {"worklist": "scheduling.staff_worklist", "home": "home.home"}


def _back(appointment: Appointment, anchor: str = "#unconfirmed"):
    """Back to the list the change was made from (`anchor`: the part of it), or to the appointment's
    own page (the calendar opens it), else to the course."""
    if request.form.get("return_to") == "appointment":
        return redirect(url_for("scheduling.appointment_detail", appointment_id=appointment.id))
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
