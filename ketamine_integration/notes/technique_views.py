"""The course's techniques page: every technique used at its signed integration notes, when and by
whom, why, and how the patient responded as later notes recorded it (issue 24, point 2)."""
from __future__ import annotations

from flask import render_template

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..patients.access import load_patient_record
from ..web import access
from ..web.routes import Routes
from .technique_uses import course_technique_history

routes = Routes()


@routes.route("/courses/<id:course_id>/techniques")
@access.permission("notes.read")
def course_techniques(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    audit.record("note.techniques", obj=course, patient_id=course.patient_id)
    return render_template("notes/techniques.html", course=course, history=course_technique_history(course.id))
