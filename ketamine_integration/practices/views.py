"""The admin's practice vocabulary page (`/settings/practices`). Assigning and ending practices are
the course page's forms (pages/course_practices.py)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for

from ..audit import services as audit
from ..web import access
from ..web.forms import render_form, submit
from . import vocabulary
from .forms import PracticeForm, PracticeToggleForm

bp = Blueprint("practices", __name__)


@bp.route("/settings/practices", methods=["GET", "POST"])
@access.permission("clinic.configure")
def practice_vocabulary():
    form = PracticeForm()
    done, practice = submit(form, lambda: vocabulary.add_practice(form.name.data))
    if done:
        audit.record("settings.practices", obj=practice, detail="added")
        flash(f"Added “{practice.name}”: therapists can assign it now.", "success")
        return redirect(url_for("practices.practice_vocabulary"))
    if form.is_submitted():
        audit.record("settings.practices", outcome=audit.FAILURE, detail="add refused")
    return render_form("practices/vocabulary.html", form, entries=vocabulary.vocabulary(),
                       toggle_form=PracticeToggleForm())


@bp.route("/settings/practices/toggle", methods=["POST"])
@access.permission("clinic.configure")
def practice_toggle():
    """Archive an offered practice, or restore an archived one (never deleted)."""
    form = PracticeToggleForm()
    offered = {entry.key: entry.active for entry in vocabulary.vocabulary()}
    key = form.practice.data
    done, practice = submit(form, lambda: vocabulary.set_practice_active(key, not offered.get(key, True)))
    if done:
        audit.record("settings.practices", obj=practice, detail="restored" if practice.active else "archived")
        flash(f"“{practice.name}” is {'offered again' if practice.active else 'archived: no longer offered'}.",
              "success")
    else:
        audit.record("settings.practices", outcome=audit.FAILURE, detail="archive or restore refused")
        flash("Not changed: choose a practice from the list.", "error")
    return redirect(url_for("practices.practice_vocabulary"))
