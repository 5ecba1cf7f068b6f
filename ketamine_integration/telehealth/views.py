"""The admin's telehealth settings page: the clinic's video address template, links in feeds."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..domain.video_links import PLACEHOLDERS, clinician_slug, fill_template
from ..web import access
from ..web.forms import render_form, submit
from . import services
from .forms import TelehealthSettingsForm

bp = Blueprint("telehealth", __name__)

#: the made-up session the page's example link is of (the code: as random as a real one looks)
EXAMPLE = {"token": "q3Vb7xKp0tRmZ2aLcW9yNe", "clinician": clinician_slug("Hazel Quint", 7)}


@bp.route("/settings/telehealth", methods=["GET", "POST"])
@access.permission("clinic.configure")
def telehealth_settings():
    if request.method == "GET":
        form = TelehealthSettingsForm(template=services.clinic_template() or "", in_feeds=services.links_in_feeds())
    else:
        form = TelehealthSettingsForm()
    done, _ = submit(form, lambda: services.save_settings(template=form.template.data or "",
                                                          in_feeds=form.in_feeds.data, by_id=current_user.id))
    if done:
        audit.record("settings.telehealth", object_type="clinic_setting", object_id=services.TEMPLATE_KEY,
                     detail=f"template {'set' if services.clinic_template() else 'none'}; "
                            f"links in feeds {'on' if form.in_feeds.data else 'off'}")
        flash("Saved: telehealth sessions' links follow these settings from now on.", "success")
        return redirect(url_for("telehealth.telehealth_settings"))
    if form.is_submitted():
        audit.record("settings.telehealth", outcome=audit.FAILURE, detail="refused")
    template = services.clinic_template()
    example = fill_template(template, token=EXAMPLE["token"], clinician_slug=EXAMPLE["clinician"]) if template else None
    return render_form("telehealth/settings.html", form, placeholders=PLACEHOLDERS, example=example)
