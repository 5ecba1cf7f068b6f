"""Calendar pages: your feeds, the secret feed address itself, invitations, busy-time upload."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..web import lifecycle
from ..audit import services as audit
from ..db.types import utcnow
from ..documents import ical
from ..domain.text import upload_name
from ..extensions import db
from ..patients.access import load_patient_record
from ..scheduling.availability_views import availability_page, clinician_for_availability
from ..bookings.models import Appointment
from ..db.clinic_time import clinic_zone
from ..web.forms import submit
from . import services
from ..busy_times.forms import CalendarImportForm
from .forms import FeedForm, FeedIdentityForm
from .models import FEED_EVENT_SAYS, FEED_IDENTITY, CalendarFeed

bp = Blueprint("calendars", __name__)
ICS = "text/calendar; charset=utf-8"


def _page(*, form=None, identity_form=None, new_feed=None, status=200):
    feeds = db.session.scalars(select(CalendarFeed).where(CalendarFeed.user_id == current_user.id)
                               .order_by(CalendarFeed.revoked_at.is_not(None), CalendarFeed.created_at.desc())).all()
    identity = services.feed_identity()
    identity_form = identity_form or FeedIdentityForm(
        identity=identity, initials_understood=identity == "initials", calendar_name=services.calendar_name())
    return render_template("calendars/feeds.html", feeds=feeds, form=form or FeedForm(), new_feed=new_feed,
                           identity_form=identity_form, identity=identity, event_says=FEED_EVENT_SAYS[identity],
                           clinic_wide=services.clinic_wide(current_user)), status


@bp.route("/calendars/")
@access.permission("account.own")
def feeds():
    return _page()


@bp.route("/calendars/feeds", methods=["POST"])
@access.permission("account.own")
def feed_create():
    form = FeedForm()
    done, made = submit(form, lambda: services.create_feed(current_user, form.label.data))
    if not done:
        return _page(form=form, status=422)
    feed, token = made
    audit.record("calendar.feed_create", obj=feed)
    url = url_for("calendars.feed_ics", token=token, _external=True)
    # shown once: only a hash of the secret is kept; webcal: is the same address, which calendar
    # apps registered for the scheme (Apple Calendar, Outlook) open as a subscription
    return _page(new_feed=(feed, url, "webcal://" + url.split("://", 1)[1]))


@bp.route("/calendars/feeds/<id:feed_id>/revoke", methods=["POST"])
@access.permission("account.own")
def feed_revoke(feed_id: int):
    feed = db.session.get(CalendarFeed, feed_id)
    if feed is None or feed.user_id != current_user.id:
        abort(404)  # someone else's feed is not there for you
    done, _ = submit(FeedForm(), lambda: services.revoke_feed(feed, utcnow()))
    if done:
        audit.record("calendar.feed_revoke", obj=feed)
        flash("Feed revoked: calendar apps polling that address now get nothing.", "success")
    else:
        flash("This feed was revoked already.", "error")
    return redirect(url_for("calendars.feeds"))


@bp.route("/calendars/settings", methods=["POST"])
@access.permission("clinic.configure")
def feed_settings():
    form = FeedIdentityForm()
    done, renamed = submit(form, lambda: services.save_feed_settings(
        form.identity.data, initials_understood=form.initials_understood.data, name=form.calendar_name.data,
        by=current_user))
    if not done:
        return _page(identity_form=form, status=422)
    # the detail is the fixed choice, never the typed name (audit details hold no user text)
    audit.record("settings.calendar", object_type="clinic_setting", object_id="feed_identity",
                 detail=form.identity.data + (", calendar name changed" if renamed else ""))
    flash(f"Feeds now show: {FEED_IDENTITY[form.identity.data].lower()}.", "success")
    return redirect(url_for("calendars.feeds"))


@bp.route("/feeds/<token>.ics")
@access.public
def feed_ics(token: str):
    """The feed a calendar app polls: no login, the secret address is the credential."""
    feed = services.feed_for_token(token)
    if feed is None:
        audit.record("calendar.feed_read", outcome=audit.DENIED, detail="unknown or revoked feed address")
        abort(404)
    now = utcnow()
    wait = services.admit_request(feed, now)
    if wait is not None:
        audit.record("calendar.feed_read", obj=feed, user_id=feed.user_id, outcome=audit.DENIED,
                     detail="rate limit")
        response = Response("Too many requests for this feed; try again later.\n", status=429,
                            mimetype="text/plain")
        response.headers["Retry-After"] = str(max(int(wait.total_seconds()), 1))
        return response
    user = feed.user
    events = services.feed_events(user, now, identity=services.feed_identity())
    # the admin's neutral name, never the clinic's (it may name the treatment): on lock screens and in
    # the subscriber's calendar service alike
    name = services.calendar_name() + (" (whole clinic)" if services.clinic_wide(user) else "")
    audit.record("calendar.feed_read", obj=feed, user_id=feed.user_id, detail=f"{len(events)} events")
    response = Response(ical.feed(events, name=name, zone=clinic_zone()), mimetype="text/calendar")
    response.headers["Content-Type"] = ICS
    return response


@bp.route("/appointments/<id:appointment_id>/invite.ics")
@access.permission("schedule.book")
def appointment_invite(appointment_id: int):
    appointment = load_patient_record(Appointment, appointment_id, clinical=False)
    people = services.attendees(appointment)
    if not people:  # RFC 5546: a REQUEST or CANCEL names at least one attendee
        audit.record("appointment.invite", obj=appointment, patient_id=appointment.patient_id,
                     outcome=audit.FAILURE, detail="clinician has no email address")
        flash(f"{appointment.clinician.full_name} has no email address, so there is no one to invite; "
              "an admin can add it on the user's page.", "error")
        return redirect(url_for("courses.course_detail", course_id=appointment.course_id) + "#windows"
                        if appointment.course_id else url_for("scheduling.calendar_view"))
    identity = services.feed_identity()
    event = services.appointment_event(appointment, identity=identity)
    body = ical.invitation(event, organizer=services.organizer(), attendees=people,
                           zone=clinic_zone(), now=utcnow())
    audit.record("appointment.invite", obj=appointment, patient_id=appointment.patient_id,
                 detail="cancel" if event.status == "CANCELLED" else "request")
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = ICS + ("; method=CANCEL" if event.status == "CANCELLED" else "; method=REQUEST")
    response.headers["Content-Disposition"] = f'attachment; filename="session-{appointment.id}.ics"'
    return response


def _may_import() -> None:
    """Whose calendar: asked before the upload is read, so a user who may not import for this
    clinician (403, audited) or names no clinician (404) costs no reading."""
    clinician = clinician_for_availability(request.view_args["user_id"])
    g.uploader_id = current_user.id  # read now: after the commit, reading it would query again
    g.import_addresses = services.own_addresses(clinician)  # whose declined invitations do not block


def _read_calendar_upload() -> services.ReadUpload | None:
    """The upload, read holding no database transaction (see lifecycle.before_transaction)."""
    upload = request.files.get("calendar_file")
    if upload is None or not upload.filename:
        return None
    return services.read_upload_once(g.uploader_id, upload_name(upload.filename),
                                     upload.read(services.MAX_IMPORT_BYTES + 1), now=utcnow(),
                                     addresses=g.import_addresses)


def _audit_refused_import() -> None:
    """An upload over the server's limit (413) never reaches the view: recorded here instead."""
    if current_user.is_authenticated:
        audit.record("calendar.import", object_type="user", object_id=(request.view_args or {}).get("user_id"),
                     outcome=audit.FAILURE, detail=f"refused: upload of {request.content_length or '?'} bytes "
                                                   "exceeds the server limit")


@bp.route("/availability/<id:user_id>/calendar-import", methods=["POST"])
@access.permission("availability.keep")
@lifecycle.upload_limit(services.UPLOAD_HINT, on_refused=_audit_refused_import)
@lifecycle.before_transaction(_read_calendar_upload, check=_may_import)
def calendar_import(user_id: int):
    clinician = clinician_for_availability(user_id)
    form = CalendarImportForm()
    upload = lifecycle.prepared()
    done, record = submit(form, lambda: services.import_busy(clinician, upload, by=current_user))
    if done:
        audit.record("calendar.import", obj=record, detail=f"{record.busy_blocks} busy times")
        times = "busy time" if record.busy_blocks == 1 else "busy times"
        flash(f"Imported {record.busy_blocks} {times} from {record.filename}; they replace any earlier "
              "upload and block booking from now on.", "success")
        return redirect(url_for("scheduling.availability", user_id=clinician.id))
    # cut to the audit detail column's 200 characters: PostgreSQL refuses a longer value
    audit.record("calendar.import", object_type="user", object_id=clinician.id, outcome=audit.FAILURE,
                 detail=("refused: " + " ".join(str(e) for e in form.calendar_file.errors))[:200])
    # 429: this user's previous upload is still being read; the message says to wait for it
    return availability_page(clinician, import_form=form, status=429 if upload and upload.concurrent else 422)
