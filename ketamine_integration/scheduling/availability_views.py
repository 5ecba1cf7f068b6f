"""Managing availability: each clinician's weekly hours and time off, the clinic's rooms and session types.

Its pages are on the scheduling blueprint: scheduling/views.py adds `routes` to it."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..accounts.models import User
from ..audit import services as audit
from ..bookings.availability import session_minutes
from ..bookings.models import DEFAULT_MINUTES, KINDS, ExtraHours, Room, SessionType, TimeOff, WorkingHours
from ..busy_times.forms import CalendarImportForm
from ..busy_times.models import current_import, fetch_upcoming_busy
from ..db.errors import DomainError
from ..db.types import utcnow
from ..domain.reminders import clinical_words_in
from ..extensions import db
from ..db.locking import locked_row
from ..web.forms import flash_form_problems, submit
from ..web.routes import Routes
from .forms import ExtraHoursForm, RoomForm, SessionTypeForm, TimeOffForm, WorkingHoursForm

#: the routes of these pages, added to the scheduling blueprint by scheduling/views.py
routes = Routes()

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def clinician_for_availability(user_id: int) -> User:
    """Staff and admin manage anyone's hours; a clinician manages their own."""
    user = db.get_or_404(User, user_id)
    if not (current_user.can("schedule.manage") or current_user.id == user.id):
        audit.denial("availability of another clinician")
        abort(403)
    if not user.can("schedule.bookable"):
        abort(404)
    return user


@routes.route("/availability/<id:user_id>")
@access.permission("availability.keep")
def availability(user_id: int):
    return availability_page(clinician_for_availability(user_id))


def availability_page(user: User, *, import_form=None, status: int = 200):
    """A clinician's week, extra hours, time off and imported calendar, with their forms."""
    hours = db.session.scalars(select(WorkingHours).where(WorkingHours.clinician_id == user.id)
                               .order_by(WorkingHours.weekday, WorkingHours.starts)).all()
    time_off = db.session.scalars(select(TimeOff).where(TimeOff.clinician_id == user.id)
                                  .order_by(TimeOff.starts_at.desc())).all()
    extra = db.session.scalars(select(ExtraHours).where(ExtraHours.clinician_id == user.id)
                               .order_by(ExtraHours.starts_at.desc())).all()
    imported = current_import(user.id)
    upcoming = fetch_upcoming_busy(user.id, now=utcnow()) if imported is not None else None
    return render_template("scheduling/availability.html", user=user, hours=hours, time_off=time_off, extra=extra,
                           hours_form=WorkingHoursForm(), off_form=TimeOffForm(), extra_form=ExtraHoursForm(),
                           import_form=import_form or CalendarImportForm(), imported=imported, upcoming=upcoming,
                           weekdays=WEEKDAYS), status


@routes.route("/availability/<id:user_id>/hours", methods=["POST"])
@access.permission("availability.keep")
def availability_add_hours(user_id: int):
    user = clinician_for_availability(user_id)
    form = WorkingHoursForm()
    done, _ = submit(form, lambda: _add_hours(user, form))
    flash("Working hours added.", "success") if done else flash_form_problems(form)
    return redirect(url_for("scheduling.availability", user_id=user.id))


def _add_hours(user: User, form: WorkingHoursForm) -> WorkingHours:
    if form.ends.data <= form.starts.data:
        raise DomainError({"ends": "The block must end after it starts."})
    existing = db.session.scalars(select(WorkingHours).where(
        WorkingHours.clinician_id == user.id, WorkingHours.weekday == form.weekday.data)).all()
    if any(form.starts.data < h.ends and h.starts < form.ends.data for h in existing):
        raise DomainError({"starts": "This overlaps another block on the same day."})
    block = WorkingHours(clinician_id=user.id, weekday=form.weekday.data, starts=form.starts.data,
                         ends=form.ends.data)
    db.session.add(block)
    db.session.flush()
    return block


def _remove_own(model, user_id: int, row_id: int, message: str):
    """Remove a clinician's hours or time off: their week's template, not a clinical record
    (bookings already made stay where they are)."""
    user = clinician_for_availability(user_id)
    row = db.get_or_404(model, row_id)
    if row.clinician_id != user.id:
        abort(404)
    db.session.delete(row)
    flash(message, "success")
    return redirect(url_for("scheduling.availability", user_id=user.id))


@routes.route("/availability/<id:user_id>/hours/<id:block_id>/remove", methods=["POST"])
@access.permission("availability.keep")
def availability_remove_hours(user_id: int, block_id: int):
    return _remove_own(WorkingHours, user_id, block_id, "Working hours removed. Sessions already booked are not moved.")


@routes.route("/availability/<id:user_id>/time-off", methods=["POST"])
@access.permission("availability.keep")
def availability_add_time_off(user_id: int):
    user = clinician_for_availability(user_id)
    form = TimeOffForm()
    done, _ = submit(form, lambda: _add_span(TimeOff, user, form, what="Time off"))
    if done:
        flash("Time off added. Sessions booked during it appear on the staff worklist.", "success")
    else:
        flash_form_problems(form)
    return redirect(url_for("scheduling.availability", user_id=user.id))


def _add_span(model, user: User, form, *, what: str, longest: timedelta | None = None):
    """A clinician's time off or extra hours from its form: [starts_at, ends_at) with a reason."""
    starts, ends = form.starts_at.data, form.ends_at.data
    if ends <= starts:
        raise DomainError({"ends_at": f"{what}: the end must come after the start."})
    if longest is not None and ends - starts > longest:
        raise DomainError({"ends_at": f"Enter {what.lower()} one day at a time (at most 16 hours)."})
    span = model(clinician_id=user.id, starts_at=starts, ends_at=ends, reason=(form.reason.data or "").strip() or None)
    db.session.add(span)
    db.session.flush()
    return span


@routes.route("/availability/<id:user_id>/time-off/<id:off_id>/remove", methods=["POST"])
@access.permission("availability.keep")
def availability_remove_time_off(user_id: int, off_id: int):
    return _remove_own(TimeOff, user_id, off_id, "Time off removed.")


@routes.route("/availability/<id:user_id>/extra-hours", methods=["POST"])
@access.permission("availability.keep")
def availability_add_extra_hours(user_id: int):
    user = clinician_for_availability(user_id)
    form = ExtraHoursForm()
    done, _ = submit(form, lambda: _add_span(ExtraHours, user, form, what="Extra hours",
                                             longest=timedelta(hours=16)))
    flash("Extra hours added: they can be booked and are offered in suggestions.", "success") if done \
        else flash_form_problems(form)
    return redirect(url_for("scheduling.availability", user_id=user.id))


@routes.route("/availability/<id:user_id>/extra-hours/<id:extra_id>/remove", methods=["POST"])
@access.permission("availability.keep")
def availability_remove_extra_hours(user_id: int, extra_id: int):
    return _remove_own(ExtraHours, user_id, extra_id, "Extra hours removed. Sessions already booked are not moved.")


@routes.route("/rooms/", methods=["GET", "POST"])
@access.permission("clinic.configure")
def rooms():
    form = RoomForm()
    done, room = submit(form, lambda: _add_room(form.name.data))
    if done:
        flash(f"Added {room.name}.", "success")
        return redirect(url_for("scheduling.rooms"))
    listing = db.session.scalars(select(Room).order_by(Room.active.desc(), Room.name)).all()
    return render_template("scheduling/rooms.html", rooms=listing, form=form), 422 if form.errors else 200


def _add_room(name: str) -> Room:
    name = name.strip()
    if db.session.scalar(select(Room.id).where(Room.name == name)):
        raise DomainError({"name": "A room with this name exists already."})
    if words := clinical_words_in(name):
        # a room's name is each in-person session's LOCATION in every calendar feed (Google's,
        # Apple's, Microsoft's servers keep it): it says where, never what is done there
        raise DomainError({"name": f"A room's name reaches subscribers' calendars: leave out \"{words[0]}\" "
                                   f"(name it by place or number, such as \"Suite 1\")."})
    room = Room(name=name)
    db.session.add(room)
    db.session.flush()
    return room


@routes.route("/rooms/<id:room_id>/toggle", methods=["POST"])
@access.permission("clinic.configure")
def room_toggle(room_id: int):
    room = db.get_or_404(Room, room_id)
    room.active = not room.active  # never deleted: past appointments name it
    flash(f"{room.name} is now {'in use' if room.active else 'retired'}.", "success")
    return redirect(url_for("scheduling.rooms"))


@routes.route("/session-types/", methods=["GET", "POST"])
@access.permission("clinic.configure")
def session_types():
    """Each kind of session's default length: what booking, suggestions and auto-scheduling use."""
    form = SessionTypeForm()
    done, changed = submit(form, lambda: _set_session_minutes(form.kind.data, form.default_minutes.data))
    if done:
        audit.record("settings.session_type", object_type="session_type", object_id=changed.kind,
                     detail=f"{changed.kind}: {changed.default_minutes} min")
        flash(f"{KINDS[changed.kind]}s now last {changed.default_minutes} minutes by default.", "success")
        return redirect(url_for("scheduling.session_types"))
    return render_template("scheduling/session_types.html", form=form, kinds=KINDS, minutes=session_minutes(),
                           built_in=DEFAULT_MINUTES), 422 if form.errors else 200


def _set_session_minutes(kind: str, minutes: int) -> SessionType:
    row = locked_row(SessionType, kind, lambda: SessionType(kind=kind, default_minutes=minutes,
                                                             updated_by_id=current_user.id))
    row.default_minutes, row.updated_by_id = minutes, current_user.id
    db.session.flush()
    return row
