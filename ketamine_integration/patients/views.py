"""Patient list and search, registration, edits and archiving (the patient page: pages/patient.py)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..web import access
from ..accounts.models import NURSE, PRESCRIBER, THERAPIST
from ..audit import services as audit
from ..db.errors import DomainError
from ..web.fields import options
from ..web.forms import paginate, parse_id, render_form, submit
from . import services
from .access import load_patient, visible_patients
from .care_team import describe_team, team_of
from .forms import PatientForm
from .models import Patient

bp = Blueprint("patients", __name__, url_prefix="/patients")

@bp.route("/")
@access.permission("patients.read")
def patient_list():
    query = request.args.get("q", "").strip()[:200]
    include_archived = request.args.get("archived") == "1"
    clinicians = services.clinician_choices(THERAPIST) + services.clinician_choices(PRESCRIBER)
    clinician_id = parse_id(request.args.get("clinician"))
    if clinician_id not in {uid for uid, _ in clinicians}:
        clinician_id = None
    stmt = visible_patients(current_user, services.search_patients_stmt(
        query, include_archived=include_archived, clinician_id=clinician_id)
    ).options(selectinload(Patient.care_team))  # the list names each patient's team
    page = paginate(stmt)
    # Search terms can be names: the audit keeps only that a search happened and its size.
    searched = query or clinician_id
    audit.record("patient.list", detail=f"{'search' if searched else 'list'}; "
                                        f"{'more than ' if page.more else ''}{page.total} found")
    return render_template("patients/list.html", page=page, query=query,
                           include_archived=include_archived, clinicians=clinicians,
                           clinician_id=clinician_id)


def _form_with_choices(patient=None, **kwargs) -> PatientForm:
    form = PatientForm(**kwargs)
    form.therapists.choices = options(services.clinician_choices_for(patient, THERAPIST))
    form.prescribers.choices = options(services.clinician_choices_for(patient, PRESCRIBER))
    form.nurses.choices = options(services.clinician_choices_for(patient, NURSE))
    return form


def _form_fields(form: PatientForm) -> dict:
    fields = {name: getattr(form, name).data for name in services.DEMOGRAPHIC_FIELDS}
    return dict(fields, mrn=form.mrn.data, therapist_ids=form.therapists.data or [],
                prescriber_ids=form.prescribers.data or [], nurse_ids=form.nurses.data or [])


@bp.route("/new", methods=["GET", "POST"])
@access.permission("patients.register")
def patient_create():
    form = _form_with_choices()
    done, patient = submit(form, lambda: services.register_patient(**_form_fields(form)))
    if done:
        # The first care team is the registration's grant of access: its row names the members.
        audit.record("patient.create", obj=patient, patient_id=patient.id,
                     detail=f"care team: {describe_team(team_of(patient))}"[:200])
        flash(f"Registered {patient.full_name} ({patient.mrn}).", "success")
        return redirect(url_for("patients.patient_detail", patient_id=patient.id))
    return render_form("patients/form.html", form, title="Register a patient")


@bp.route("/<id:patient_id>/edit", methods=["GET", "POST"])
@access.permission("patients.register")
def patient_edit(patient_id: int):
    patient = load_patient(patient_id)
    if request.method == "GET":
        form = _form_with_choices(patient, obj=patient, version=patient.version,
                                  therapists=[u.id for u in patient.members(THERAPIST)],
                                  prescribers=[u.id for u in patient.members(PRESCRIBER)],
                                  nurses=[u.id for u in patient.members(NURSE)])
        audit.record("patient.view", obj=patient, patient_id=patient.id, detail="edit form")
    else:
        form = _form_with_choices(patient)
        done, edit = submit(form, lambda: services.update_patient(
            patient, expected_version=_int(form.version.data), team_reason=form.team_reason.data,
            by=current_user, **_form_fields(form)))
        if done:
            # A care-team change wrote its own row (care_team.change, with before, after and why);
            # the edit's row is for the details, or for a save that changed nothing.
            if edit.details_changed or not edit.team_changed:
                audit.record("patient.update", obj=patient, patient_id=patient.id)
            flash("Saved.", "success")
            return redirect(url_for("patients.patient_detail", patient_id=patient.id))
        failed = ", ".join(sorted(k or "form" for k in form.errors))
        audit.record("patient.update", obj=patient, patient_id=patient.id,
                     outcome=audit.FAILURE, detail=f"not saved: {failed}"[:200])
    return render_form("patients/form.html", form, title=f"Edit {patient.full_name}",
                       patient=patient, show_current=True)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # a missing or forged version never matches, so the edit is refused


@bp.route("/<id:patient_id>/archive", methods=["POST"])
@access.permission("patients.register")
def patient_archive(patient_id: int):
    patient = load_patient(patient_id)
    try:
        services.archive_patient(patient, current_user)
    except DomainError as err:
        flash(str(err), "info")  # a repeated click changes nothing and records nothing
    else:
        audit.record("patient.archive", obj=patient, patient_id=patient.id)
        flash(f"Archived {patient.full_name}. The record is kept and can be restored.", "success")
    return redirect(url_for("patients.patient_detail", patient_id=patient.id))


@bp.route("/<id:patient_id>/restore", methods=["POST"])
@access.permission("patients.register")
def patient_restore(patient_id: int):
    patient = load_patient(patient_id)
    try:
        services.restore_patient(patient)
    except DomainError as err:
        flash(str(err), "info")
    else:
        audit.record("patient.restore", obj=patient, patient_id=patient.id)
        flash(f"Restored {patient.full_name}.", "success")
    return redirect(url_for("patients.patient_detail", patient_id=patient.id))
