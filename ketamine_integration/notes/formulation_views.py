"""The case formulation page: a living document per course, each save a new revision; its approach
(host theory, assimilated techniques, self-guided practices) is what each new integration note
starts from (issue 20, point 10)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..extensions import db
from ..patients.access import load_patient_record
from ..practices.vocabulary import practice_choices, practice_words
from ..web.fields import options
from ..web import access
from ..web.forms import render_form, submit, whole_number
from ..web.routes import Routes
from . import recovery, services
from .forms import CARRIED, FORMULATION_SECTIONS, HOST_THEORIES, FormulationForm
from .models import CaseFormulation

routes = Routes()


@routes.route("/courses/<id:course_id>/formulation", methods=["GET", "POST"])
@access.permission("notes.read")
def formulation(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    history = db.session.scalars(select(CaseFormulation).where(
        CaseFormulation.course_id == course.id).order_by(CaseFormulation.revision.desc())).all()
    current = history[0] if history else None
    if request.method == "POST":
        form = _with_practices(FormulationForm(), current)
        if not current_user.can("notes.write"):
            audit.denial("the case formulation is written by therapists", obj=course, patient_id=course.patient_id)
            abort(403)
        done, saved = submit(form, lambda: services.save_formulation(
            course, content={k: getattr(form, k).data for k in FORMULATION_SECTIONS}, by=current_user,
            approach={"host_theory": form.host_theory.data, "techniques": form.techniques.data,
                      "practices": form.practices.data},
            expected_revision=whole_number(form.revision.data) if whole_number(form.revision.data) is not None
            else -1))
        audit.record("formulation.update", obj=course, patient_id=course.patient_id,
                     outcome=audit.SUCCESS if done else audit.FAILURE)
        if done:
            recovery.mark_recovered(current_user.id, request.path)
            flash(f"Formulation saved (revision {saved.revision}).", "success")
            return redirect(url_for("notes.formulation", course_id=course.id))
    recovered = None
    if request.method == "GET":
        recovered = recovery.pending(current_user.id, request.path)
        form = FormulationForm(formdata=recovery.as_formdata(recovered)) if recovered else FormulationForm(
            data={**(current.content if current else {}), "revision": current.revision if current else 0})
        form = _with_practices(form, current)
        audit.record("formulation.view", obj=course, patient_id=course.patient_id)
    return render_form("notes/formulation.html", form, course=course, history=history,
                       sections=FORMULATION_SECTIONS, carried=CARRIED, host_theories=HOST_THEORIES,
                       practices=practice_words(), recovered=recovered)


def _with_practices(form: FormulationForm, current: CaseFormulation | None) -> FormulationForm:
    """The clinic's practices to tick; one archived since the current revision ticked it stays offered."""
    form.practices.choices = options(practice_choices(keep=(current.content.get("practices") or []) if current else []))
    return form
