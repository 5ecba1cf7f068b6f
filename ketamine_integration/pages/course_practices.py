"""The therapist assigns a self-guided practice to a course, or ends one (issue 23, point 5): the
course page's forms, re-shown with their errors on the course page."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select

from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..extensions import db
from ..notes.models import INTEGRATION, SessionNote
from ..patients.access import load_patient_record
from ..practices import services
from ..practices.forms import AssignPracticeForm, EndAssignmentForm
from ..practices.models import PracticeAssignment
from ..web import access
from ..web.forms import parse_id, submit
from .course import course_page
from .practice_panel import PREFIX, assign_form


def _from_note(course: TreatmentCourse, form: AssignPracticeForm) -> int | None:
    """The integration note of this course the form was opened from (anything else is ignored)."""
    note_id = parse_id(form.from_note.data)
    if note_id is None:
        return None
    return db.session.scalar(select(SessionNote.id).where(SessionNote.id == note_id, SessionNote.course_id == course.id,
                                                          SessionNote.kind == INTEGRATION,
                                                          SessionNote.discarded_at.is_(None)))


@access.permission("practices.assign")
def assign_practice(course_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    form = assign_form(AssignPracticeForm(prefix=PREFIX))
    note_id = _from_note(course, form)
    done, assignment = submit(form, lambda: services.assign_practice(
        course, practice_key=form.practice.data, times=form.times.data, per=form.per.data,
        starts_on=form.starts_on.data, ends_on=form.ends_on.data, instructions=form.instructions.data,
        by=current_user, today=clinic_today(), from_note_id=note_id))
    if done:
        audit.record("practice.assign", obj=assignment, patient_id=course.patient_id,
                     detail=f"{assignment.practice.key}; {assignment.times} a {assignment.per}"
                            + (f"; from note {note_id}" if note_id else ""))
        flash(f"Assigned: {assignment.practice.name}, {assignment.frequency.words()}, "
              f"{assignment.starts_on.isoformat()} to {assignment.ends_on.isoformat()}.", "success")
        if note_id is not None:
            return redirect(url_for("notes.note_edit", note_id=note_id) + "#note-approach")
        return redirect(url_for("courses.course_detail", course_id=course.id) + "#practices")
    audit.record("practice.assign", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE,
                 detail="refused")
    return course_page(course, practice_form=form, status=422)


@access.permission("practices.assign")
def assignment_end(assignment_id: int):
    assignment = load_patient_record(PracticeAssignment, assignment_id, clinical=True)
    form = EndAssignmentForm()
    done, _ = submit(form, lambda: services.end_assignment(assignment, by=current_user, today=clinic_today(),
                                                           now=utcnow()))
    audit.report_submission(done, form, "practice.end", obj=assignment, patient_id=assignment.patient_id,
                            message=f"Ended: {assignment.practice.name}. Its logs stay with the course.")
    return redirect(url_for("courses.course_detail", course_id=assignment.course_id) + "#practices")


ROUTES = (
    ("practices.assign_practice", "/courses/<id:course_id>/practices", assign_practice, ["POST"]),
    ("practices.assignment_end", "/practice-assignments/<id:assignment_id>/end", assignment_end, ["POST"]),
)
