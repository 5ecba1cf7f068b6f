"""Enrolment and voiding a preparation entry (the course page and its forms: pages/course.py)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..web import access
from ..accounts.models import PRESCRIBER, THERAPIST
from ..audit import services as audit
from ..web.fields import options
from ..patients.access import load_patient, load_patient_record
from ..patients.care_team import joined_since, team_of
from ..patients.services import clinician_choices
from ..protocols.services import enrolable_entries
from ..db.clinic_time import clinic_today
from ..web.forms import render_form, submit, whole_number
from . import services
from .forms import INDICATIONS, EnrolForm, VoidForm
from .models import TreatmentCourse

bp = Blueprint("courses", __name__)



def _enrol_form(patient) -> EnrolForm:
    form = EnrolForm()
    form.protocol.choices = options(
        (f"{e.protocol.id}@{e.protocol.version}", f"{e.protocol.name} (v{e.protocol.version})")
        for e in enrolable_entries())
    form.therapist.choices = options(clinician_choices(THERAPIST))
    form.prescriber.choices = options(clinician_choices(PRESCRIBER))
    if request.method == "GET":
        team = {m.role: m.user_id for m in patient.care_team}
        form.therapist.data, form.prescriber.data = team.get(THERAPIST), team.get(PRESCRIBER)
        form.start_date.data = clinic_today()
    return form


def _protocol_key(value: str) -> tuple[str, int]:
    protocol_id, _, version = value.rpartition("@")
    number = whole_number(version)
    return protocol_id, number if number is not None else -1


@bp.route("/patients/<id:patient_id>/courses/new", methods=["GET", "POST"])
@access.permission("courses.enrol")
def course_create(patient_id: int):
    patient = load_patient(patient_id)
    form = _enrol_form(patient)
    team_before = team_of(patient)
    done, course = submit(form, lambda: services.enrol_patient(
        patient, protocol_key=_protocol_key(form.protocol.data), start_date=form.start_date.data,
        indication=form.indication.data, therapist_id=form.therapist.data,
        prescriber_id=form.prescriber.data, by=current_user))
    if done:
        audit.record("course.create", obj=course, patient_id=patient.id)
        flash(f"Enrolled {patient.full_name} in {course.protocol_version.label}. {joined_since(team_before, patient)}"
              .strip(), "success")
        return redirect(url_for("courses.course_detail", course_id=course.id))
    if request.method == "GET":  # the form names the patient and their care team: a read
        audit.record("patient.view", obj=patient, patient_id=patient.id, detail="enrolment form")
    else:  # the refusal re-renders the same page: its one row is the failed enrolment (durable)
        audit.record("course.create", obj=patient, patient_id=patient.id, outcome=audit.FAILURE, detail="refused")
    return render_form("courses/enrol.html", form, patient=patient, indications=INDICATIONS)


@bp.route("/courses/<id:course_id>/preparation/<id:record_id>/void", methods=["POST"])
@access.permission("courses.treat")
def preparation_void(course_id: int, record_id: int):
    course = load_patient_record(TreatmentCourse, course_id, clinical=True)
    form = VoidForm()
    done, record = submit(form, lambda: services.void_preparation(
        course, record_id, reason=form.reason.data, by=current_user))
    audit.report_submission(done, form, "preparation.void", obj=record or course, patient_id=course.patient_id,
                      message="Entry voided; it stays visible, struck through, with your reason.",
                      detail=record.item if done else None)
    return redirect(url_for("courses.course_detail", course_id=course.id) + "#preparation")
