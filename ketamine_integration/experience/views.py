"""Dosing session pages: record and sign, reschedule, cancel, addenda, REMS forms (planning: pages/course.py)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..web import access
from ..audit import services as audit
from ..clinic_settings.file_names import patient_file_name
from ..db.errors import DomainError
from ..web.fields import options
from ..patients.access import load_patient_record
from ..protocols.services import protocol_of
from ..signed_forms.services import dosing_refusal
from ..db.clinic_time import clinic_today
from ..db.types import utcnow
from ..web.forms import form_fields_in_error, form_version, parse_id, render_form, submit
from . import dose_roles, monitoring, overruns, provisional, readings, record_notes, rems, revisions, services, signing
from .alternation import previous_window_left_empty
from .forms import MAX_ADVERSE_EVENTS, AddendumForm, CancelForm, DosingRecordForm, RemsSubmittedForm, RescheduleForm
from ..domain.dosing_plan import AT_HOME
from ..domain.vitals import form_limits
from .models import DRAFT, PLANNED, DosingSession, VITAL_TIMEPOINTS
from .wording import criteria_in_words, criteria_labels, record_words, timepoint_labels

bp = Blueprint("experience", __name__)


def _back_to_course(course_id: int, anchor: str = "dosing"):
    return redirect(url_for("courses.course_detail", course_id=course_id) + f"#{anchor}")


def _session(dosing_id: int, *, clinical: bool | str = True) -> DosingSession:
    return load_patient_record(DosingSession, dosing_id, clinical=clinical)


@bp.route("/dosing/<id:dosing_id>/reschedule", methods=["POST"])
@access.permission("schedule.book")
def dosing_reschedule(dosing_id: int):
    session = _session(dosing_id, clinical=False)
    form = RescheduleForm()
    done, _ = submit(form, lambda: services.reschedule(session, planned_start=form.planned_start.data,
                                                       reason=form.reason.data, by=current_user))
    audit.report_submission(done, form, "dosing.reschedule", obj=session, patient_id=session.course.patient_id,
                      message=f"Dosing session {session.sequence} moved.",
                      detail=services.overrides_kept(session) if done else None)
    if done:
        _report_left_out(session)
    return _back_to_course(session.course_id)


@bp.route("/dosing/<id:dosing_id>/cancel", methods=["POST"])
@access.permission("schedule.book")
def dosing_cancel(dosing_id: int):
    session = _session(dosing_id, clinical=False)
    form = CancelForm()
    done, _ = submit(form, lambda: services.cancel(session, reason=form.reason.data, by=current_user))
    audit.report_submission(done, form, "dosing.cancel", obj=session, patient_id=session.course.patient_id,
                      message=f"Dosing session {session.sequence} cancelled; it stays on the record.")
    if done:
        _report_left_out(session)
    return _back_to_course(session.course_id)


def _report_left_out(session: DosingSession) -> None:
    """Say which integration sessions booked for the dose's provisional window its move, cancellation
    or signature left outside the window it has now (the staff worklist lists them to move)."""
    words = provisional.stranded_words(provisional.stranded_bookings(utcnow(), dose_id=session.id))
    if words:
        flash(words[0].upper() + words[1:], "info")


def _record_form(session: DosingSession) -> DosingRecordForm:
    if request.method == "POST":
        form = DosingRecordForm()
    else:
        protocol = protocol_of(session.course.protocol_version)
        form = DosingRecordForm(obj=session, version=session.version)
        # the model's attributes of these names are users, the selects hold their ids
        form.administered_by.data, form.monitored_by.data = session.administered_by_id, session.monitored_by_id
        form.route.data = session.route or protocol.route
        form.medication.data = session.medication or protocol.medication
        if not session.started_at and session.planned_start:
            form.started_at.data = session.planned_start
        readings = {v.timepoint: v for v in session.vitals}
        for timepoint in VITAL_TIMEPOINTS:
            if timepoint in readings:
                getattr(form, timepoint).form.process(None, obj=readings[timepoint])
        _fill_adverse_events(form, session)
        form.discharge_criteria.form.process(None, data=session.discharge_checks or {})
        for response in session.vital_responses:
            sub = getattr(form, f"response_{response.timepoint}").form
            sub.process(None, obj=response)
            # the model's decided_by is a user, the select holds an id (obj wins over a keyword in
            # process(), so the saved choice was shown as "—" and the next save dropped it)
            sub.decided_by.data = response.decided_by_id
    administering, monitors = dose_roles.dosing_team_choices(session)
    form.administered_by.choices = options([(0, "—")] + administering)
    form.monitored_by.choices = options([(0, "—")] + monitors)
    deciders = options([(0, "—")] + _deciders(session, monitors))
    for timepoint in VITAL_TIMEPOINTS:
        getattr(form, f"response_{timepoint}").form.decided_by.choices = deciders
    if not current_user.can("dosing.record_dose"):
        _show_dose_fields_only(form, session)
    _label_for_setting(form, session.setting)
    return form


def _fill_adverse_events(form: DosingRecordForm, session: DosingSession) -> None:
    """The saved adverse events, each with its id, and an empty row below them for the next one."""
    while len(form.adverse_events.entries) <= min(len(session.adverse_events), MAX_ADVERSE_EVENTS - 1):
        form.adverse_events.append_entry()
    for entry, event in zip(form.adverse_events.entries, session.adverse_events):
        entry.form.process(None, obj=event)
        entry.form.event_id.data = event.id


def _label_for_setting(form: DosingRecordForm, setting: str) -> None:
    """The labels say what happened in this setting: at home, supervision and monitoring by
    telehealth and its end, not a clinic's staff and discharge (experience.wording)."""
    words, labels, criteria = record_words(setting), timepoint_labels(setting), criteria_labels(setting)
    for name in ("administered_by", "monitored_by", "discharged_at"):
        form[name].label.text = words[name]
    form.discharged_at.description = f"Monitoring is counted {words['span']}."
    form.discharge_criteria.label.text = words["criteria"]
    for key, label in criteria.items():
        form.discharge_criteria.form[key].label.text = label
    for timepoint in VITAL_TIMEPOINTS:
        form[timepoint].label.text = labels[timepoint]
        if setting == AT_HOME:  # the patient's own or their device's readings: nothing else is offered...
            source = form[timepoint].form.source
            source.choices = [c for c in source.choices if c.value != "clinician"]
            # ...and anything else sent is refused by the service in words (plan_rules.vital_source_problems)
            source.validate_choice = False
        response = form[f"response_{timepoint}"]
        response.label.text = f"Clinical response to the flagged reading {labels[timepoint].lower()}"


def _show_dose_fields_only(form: DosingRecordForm, session: DosingSession) -> None:
    """For a user who records vitals and monitoring but not the dose (a nurse): the dose fields are
    shown disabled. Disabled inputs send nothing, so a field missing from the submission shows the
    recorded value (a select, the protocol's, to stay a valid choice) and is saved as left blank,
    which keeps what is recorded; a value sent anyway goes to the service, which refuses a change."""
    protocol = protocol_of(session.course.protocol_version)
    for column in dose_roles.DOSE_FIELDS:
        field = getattr(form, column)
        field.render_kw = {"disabled": True}
        field.description = "Recorded by the prescriber."
        if request.method == "POST" and column not in request.form:
            field.data = getattr(session, column) or getattr(protocol, column, None)
            field.flags.kept = True


def _deciders(session: DosingSession, monitors: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Who may be named as deciding a response: the care team's monitors, and whoever a response names."""
    named = [(r.decided_by.id, r.decided_by.display_name) for r in session.vital_responses if r.decided_by]
    return monitors + [row for row in dict(named).items() if row not in monitors]


def _responses(form: DosingRecordForm) -> dict[str, dict]:
    responses = {}
    for timepoint in VITAL_TIMEPOINTS:
        data = dict(getattr(form, f"response_{timepoint}").data)
        data["decided_by_id"] = data.pop("decided_by") or None
        data["action"] = (data.get("action") or "").strip()
        responses[timepoint] = data
    return responses


#: record columns whose form field has another name
FIELD_FOR_COLUMN = {"administered_by_id": "administered_by", "monitored_by_id": "monitored_by"}


def _record_values(form: DosingRecordForm) -> dict:
    """The service's arguments from a submitted record form: column values, vitals by timepoint,
    adverse events, responses to flagged readings and the discharge answers."""
    values = {}
    for column in services.RECORD_FIELDS:
        field = getattr(form, FIELD_FOR_COLUMN.get(column, column))
        value = None if getattr(field.flags, "kept", False) else field.data
        if column in FIELD_FOR_COLUMN:
            value = value or None  # the "—" option (0) means nobody chosen
        elif isinstance(value, str):
            value = value.strip() or None
        values[column] = value  # False (a "No" answer) stays False
    vitals = {tp: dict(getattr(form, tp).data) for tp in VITAL_TIMEPOINTS}
    # a row cleared is left out: the saved event it showed is withdrawn (experience.revisions)
    events = [dict(id=parse_id(e["event_id"]), event_type=e["event_type"].strip(), severity=e["severity"],
                   action_taken=(e["action_taken"] or "").strip() or None)
              for e in form.adverse_events.data if (e["event_type"] or "").strip()]
    return dict(values=values, vitals=vitals, adverse_events=events, responses=_responses(form),
                discharge_checks=dict(form.discharge_criteria.data))


@bp.route("/dosing/<id:dosing_id>", methods=["GET", "POST"])
@access.permission("dosing.read")
def dosing_record(dosing_id: int):
    # the care team's prescribers and nurses record it (nurses read no notes); its therapists read
    # it, and record its monitoring only where the protocol allows a therapist as monitor
    session = _session(dosing_id, clinical="dosing.read")
    records = dose_roles.may_record(current_user, session.course)
    if request.method == "GET":
        audit.record("dosing.view", obj=session, patient_id=session.course.patient_id)
        form = _record_form(session) if records and session.status in RECORDABLE else None
        if form is not None and session.status == DRAFT and request.args.get("check") == SIGNING_CHECK:
            _show_signature_needs(session, form)
        return _record_page(session, form)
    if not records:
        audit.denial("experience.dosing_record needs dosing.record_vitals, or dosing.monitor_if_protocol_allows "
                     "where the protocol allows", obj=session, patient_id=session.course.patient_id)
        abort(403)
    form = _record_form(session)
    # "Sign and lock" saves what was typed first (signing never drops it), then signs
    then_sign = bool(request.form.get("then_sign")) and current_user.can("dosing.sign")
    done, _ = submit(form, lambda: services.save_record(
        session, **_record_values(form), expected_version=form_version(form), by=current_user,
        spacing_reason=form.spacing_reason.data, dose_reason=form.dose_reason.data,
        reasons={"vitals": form.vitals_correction_reason.data, "responses": form.responses_change_reason.data,
                 "adverse_events": form.adverse_events_change_reason.data}, signing_next=then_sign))
    if done:
        audit.record("dosing.update", obj=session, patient_id=session.course.patient_id,
                     detail=services.overrides_kept(session))
        if then_sign:
            return _sign(session)
        flash("Saved as a draft. " + ("Sign it when the record is complete." if current_user.can("dosing.sign")
                                      else "The clinician responsible signs it when it is complete."), "success")
        return redirect(url_for("experience.dosing_record", dosing_id=session.id))
    # one audit row for the refusal, naming every field it was refused on (never what was typed)
    audit.record("dosing.sign" if then_sign else "dosing.update", obj=session, patient_id=session.course.patient_id,
                 outcome=audit.FAILURE, detail=_refusal_detail("not saved", form_fields_in_error(form)))
    return _record_page(session, form)


#: the record page's query asking for what signing still needs, on the fields (after a refused signature)
SIGNING_CHECK = "signing"


def _show_signature_needs(session: DosingSession, form: DosingRecordForm) -> None:
    """Put what signing the saved draft still needs on the form's fields, with the summary on top."""
    needs = signing.needs_of(session)
    if needs:
        signing.SignatureRefused(needs).apply_to(form)


def _refusal_detail(what: str, fields: list[str]) -> str:
    """An audit detail naming the fields a refusal was on (machine words, never what was typed)."""
    return (f"{what}: " + ", ".join(fields) if fields else what)[:200]


#: the statuses whose record is a form to whoever may record it (signed: addenda; cancelled: nothing)
RECORDABLE = (PLANNED, DRAFT)


def _record_page(session: DosingSession, form: DosingRecordForm | None):
    """The record: its form to whoever may record it now (None: what is recorded, read-only)."""
    protocol = protocol_of(session.course.protocol_version)
    page = dict(session=session, course=session.course, protocol=protocol,
                words=record_words(session.setting), timepoints=timepoint_labels(session.setting),
                flags=monitoring.session_flags(session),
                unmet=criteria_in_words(monitoring.unmet_criteria(session), session.setting),
                responses=monitoring.response_lines(session),
                earlier=readings.earlier_reading_lines(session), later_flags=monitoring.later_reading_flags(session),
                earlier_responses=revisions.earlier_response_lines(session),
                earlier_events=revisions.earlier_event_lines(session),
                vital_limits={tp: form_limits(tp, protocol.vital_signs) for tp in VITAL_TIMEPOINTS},
                addendum_form=AddendumForm(), rems_form=RemsSubmittedForm(submitted_on=clinic_today()),
                overlaps=overruns.overlaps(session),
                dosing_note=record_notes.note_link(session, current_user, utcnow()),
                # starting a planned dose is refused while the forms stop it: said before anything is typed
                dosing_refusal=dosing_refusal(session.course) if session.status == PLANNED else None)
    if form is None:
        return render_template("experience/record.html", form=None, **page)
    return render_form("experience/record.html", form, unalternated=previous_window_left_empty(session, utcnow()),
                       **page)


@bp.route("/dosing/<id:dosing_id>/sign", methods=["POST"])
@access.permission("dosing.sign")
def dosing_sign(dosing_id: int):
    session = _session(dosing_id)
    return _sign(session, expected_version=form_version(request.form))


def _sign(session: DosingSession, expected_version: int | None = None):
    """Sign the record as it stands (the version the signer saw, when given), or say what it lacks;
    a refusal keeps whatever was saved with it."""
    try:
        overlapped = services.sign(session, by=current_user,
                                   expected_version=session.version if expected_version is None else expected_version)
    except signing.SignatureRefused as refusal:
        # every need at once, each on its field of the saved draft's form (?check=signing)
        audit.record("dosing.sign", obj=session, patient_id=session.course.patient_id, outcome=audit.FAILURE,
                     detail=_refusal_detail("refused", list(dict.fromkeys(n.field for n in refusal.needs))))
        return redirect(url_for("experience.dosing_record", dosing_id=session.id, check=SIGNING_CHECK))
    except DomainError as err:
        flash(f"Not signed: {err}", "error")
        audit.record("dosing.sign", obj=session, patient_id=session.course.patient_id,
                     outcome=audit.FAILURE, detail="refused")
        return redirect(url_for("experience.dosing_record", dosing_id=session.id))
    _audit_signature(session, overlapped)
    flash(f"Dosing session {session.sequence} signed and locked. Its integration window is on the course page.",
          "success")
    if overlapped:
        flash(f"Its recorded times overlap {len(overlapped)} other booking(s): they are listed on the record and "
              "on the front desk's worklist.", "info")
    _report_left_out(session)
    return _back_to_course(session.course_id, "windows")


def _audit_signature(session: DosingSession, overlapped: list) -> None:
    """The signature's audit row names the bookings its recorded times overlap (experience.overruns),
    by id: an overlap is kept visible, never silent."""
    ids = ", ".join(str(other.id) for other in overlapped)
    audit.record("dosing.sign", obj=session, patient_id=session.course.patient_id,
                 detail=(f"booking took the recorded times, overlapping {len(overlapped)} other booking(s): "
                         f"appointments {ids}")[:200] if overlapped else None)


@bp.route("/dosing/<id:dosing_id>/addenda", methods=["POST"])
@access.permission("dosing.amend")
def dosing_addendum(dosing_id: int):
    session = _session(dosing_id)
    form = AddendumForm()
    done, _ = submit(form, lambda: services.add_addendum(session, body=form.body.data, by=current_user))
    audit.report_submission(done, form, "dosing.addendum", obj=session, patient_id=session.course.patient_id,
                      message="Addendum added.")
    return redirect(url_for("experience.dosing_record", dosing_id=session.id) + "#addenda")


@bp.route("/rems/")
@access.permission("rems.file")
def rems_list():
    rows = rems.forms_outstanding(current_user, today=clinic_today())
    audit.record("rems.list", detail=f"{len(rows)} outstanding")
    return render_template("experience/rems_list.html", rows=rows)


@bp.route("/dosing/<id:dosing_id>/rems.pdf")
@access.permission("rems.file")
def rems_pdf(dosing_id: int):
    session = _session(dosing_id)
    if not session.signed or not protocol_of(session.course.protocol_version).experience.rems_monitoring_form:
        abort(404)  # only a signed session under a REMS protocol has a monitoring form
    pdf = rems.monitoring_form_pdf(session)
    audit.record("rems.print", obj=session, patient_id=session.course.patient_id)
    patient = session.course.patient
    name = patient_file_name("rems-monitoring-form", mrn=patient.mrn, name=patient.full_name,
                             day=clinic_today(session.ended_at))
    return pdf, 200, {"Content-Type": "application/pdf", "Content-Disposition": f'inline; filename="{name}"'}


@bp.route("/dosing/<id:dosing_id>/rems-submitted", methods=["POST"])
@access.permission("rems.file")
def rems_submitted(dosing_id: int):
    session = _session(dosing_id)
    form = RemsSubmittedForm()
    done, _ = submit(form, lambda: services.mark_rems_submitted(
        session, on=form.submitted_on.data, by=current_user, today=clinic_today()))
    audit.report_submission(done, form, "rems.submitted", obj=session, patient_id=session.course.patient_id,
                      message="REMS Patient Monitoring Form marked as submitted.")
    return redirect(url_for("experience.dosing_record", dosing_id=session.id) + "#rems")
