"""The notifications pages: the admin's on-call address for urgent safety alerts, and each user's
own settings (daily summary time; a clinician's video room). The user's own page takes no id: it
is always the signed-in user's."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..db.types import utcnow
from ..web import access
from ..web.forms import form_fields_in_error, render_form, submit
from . import account, oncall
from .forms import AccountNotificationsForm, OnCallForm

bp = Blueprint("notifications", __name__)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@access.permission("clinic.configure")
def notification_settings():
    form = OnCallForm(oncall_email=oncall.oncall_address() or "") if request.method == "GET" else OnCallForm()
    done, _ = submit(form, lambda: oncall.save_oncall_address(form.oncall_email.data, by_id=current_user.id))
    if done:
        # the address is a staff mailbox, not patient data; the trail says whether one is set
        audit.record("settings.notifications", object_type="clinic_setting", object_id=oncall.KEY,
                     detail=f"on-call address {'set' if oncall.oncall_address() else 'none'}")
        flash("Saved: urgent safety alerts are emailed to this address from now on." if oncall.oncall_address()
              else "Saved: urgent safety alerts now go to the patients' clinicians only.", "success")
        return redirect(url_for("notifications.notification_settings"))
    if form.is_submitted():
        audit.record("settings.notifications", outcome=audit.FAILURE, detail="refused")
    return render_form("notifications/settings.html", form)


@bp.route("/account/notifications", methods=["GET", "POST"])
@access.permission("account.own")
def account_notifications():
    user = current_user._get_current_object()
    keeps_room = account.keeps_a_room(user)
    if request.method == "GET":
        form = AccountNotificationsForm(digest="on" if user.digest_at else "off",
                                        digest_at=user.digest_at.strftime("%H:%M") if user.digest_at else "",
                                        video_room_url=user.video_room_url or "")
    else:
        form = AccountNotificationsForm()
    if not keeps_room:
        del form.video_room_url
    done, detail = submit(form, lambda: account.save_own_settings(
        user, digest_on=form.digest.data == "on", digest_at=form.digest_at.data,
        video_room_url=form.video_room_url.data if keeps_room else None, now=utcnow()))
    if done:
        audit.record("account.notifications", obj=user, detail=detail)
        flash("Saved your notification settings.", "success")
        return redirect(url_for("notifications.account_notifications"))
    if form.is_submitted():
        audit.record("account.notifications", obj=user, outcome=audit.FAILURE,
                     detail=f"refused: {', '.join(form_fields_in_error(form))}"[:200])
    return render_form("notifications/account.html", form, user=user, keeps_room=keeps_room,
                       timezone=current_app.config["CLINIC_TIMEZONE"])
