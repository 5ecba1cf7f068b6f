"""The settings page of what the clinic keeps here: the file names of downloaded patient documents."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..domain.file_names import document_file_name
from ..web import access
from ..web.forms import render_form, submit
from . import file_names
from .forms import FileNamesForm

bp = Blueprint("clinic_settings", __name__)

#: the made-up patient the page's examples name
EXAMPLE = {"mrn": "KI-000123", "name": "Ada Stone", "day": date(2026, 12, 3)}


@bp.route("/settings/file-names", methods=["GET", "POST"])
@access.permission("clinic.configure")
def file_names_setting():
    form = FileNamesForm(file_names=file_names.file_names()) if request.method == "GET" else FileNamesForm()
    done, _ = submit(form, lambda: file_names.set_file_names(form.file_names.data, by_id=current_user.id))
    if done:
        audit.record("settings.file_names", object_type="clinic_setting", object_id=file_names.KEY,
                     detail=form.file_names.data)
        flash("Saved: downloads from now on are named so.", "success")
        return redirect(url_for("clinic_settings.file_names_setting"))
    if form.is_submitted():
        audit.record("settings.file_names", outcome=audit.FAILURE, detail="refused")
    examples = {choice: document_file_name("coordination-report", EXAMPLE["mrn"], EXAMPLE["day"],
                                           name=EXAMPLE["name"] if choice == "mrn_and_name" else None)
                for choice in file_names.CHOICES}
    return render_form("clinic_settings/file_names.html", form, examples=examples)
