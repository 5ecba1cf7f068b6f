"""Note pages: write and sign session notes, process notes, addenda; case formulation;
measures and safety alerts; theme and action-step views; the theme vocabulary."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..web import access
from ..audit import services as audit
from ..courses.models import TreatmentCourse
from ..db.types import utcnow
from ..domain.measures import MEASURES
from ..db.errors import DomainError
from ..experience.models import SIGNED as DOSING_SIGNED
from ..experience.models import DosingSession
from ..extensions import db
from ..web.fields import options
from ..patients.access import can_read_clinical, load_patient, load_patient_record
from ..db.clinic_time import clinic_today
from ..web.forms import form_version, render_form, submit, whole_number
from . import baselines, charts, recovery, safety, services, views_data
from .forms import (FIELDS, FORMS, FORMULATION_SECTIONS, AcknowledgeForm, FormulationForm, NewNoteForm,
                    NoteAddendumForm, ProcessNoteForm, ThemeForm, VoidMeasureForm, measure_form_class)
from .models import CaseFormulation, MeasureResponse, SafetyAlert, SessionNote, Theme

bp = Blueprint("notes", __name__)


def _course(course_id: int) -> TreatmentCourse:
    return load_patient_record(TreatmentCourse, course_id, clinical=True)


def _note(note_id: int) -> SessionNote:
    return load_patient_record(SessionNote, note_id, clinical=True)


# -- notes -------------------------------------------------------------------------------------

@bp.route("/courses/<id:course_id>/notes", methods=["POST"])
@access.permission("notes.write")
def note_create(course_id: int):
    course = _course(course_id)
    form = NewNoteForm(prefix="note")
    done, note = submit(form, lambda: services.create_note(course, kind=form.kind.data,
                                                           session_date=form.session_date.data, by=current_user,
                                                           today=clinic_today()))
    if done:
        audit.record("note.create", obj=note, patient_id=course.patient_id, detail=note.kind)
        return redirect(url_for("notes.note_edit", note_id=note.id))
    audit.report_submission(False, form, "note.create", obj=course, patient_id=course.patient_id, message="")
    return redirect(url_for("courses.course_detail", course_id=course.id) + "#notes")


def _theme_choices(keep=()):
    """Active themes, and any retired one the draft already uses (so saving keeps it)."""
    themes = db.session.scalars(select(Theme).where(Theme.active.is_(True) | Theme.id.in_(list(keep)))
                                .order_by(Theme.name)).all()
    return options([(0, "—")] + [(t.id, t.name if t.active else f"{t.name} (retired)") for t in themes])


def _note_form(note: SessionNote, steps, recovered=None):
    """The draft's form: submitted data on POST, text kept from a timed-out session, else the draft."""
    form_class = FORMS[note.kind]
    if request.method == "POST":
        form = form_class()
    elif recovered is not None:
        form = form_class(formdata=recovery.as_formdata(recovered))
    else:
        form = _draft_form(note, steps, form_class)
    if note.kind == "integration":
        _set_integration_choices(form, note)
    return form


def _draft_form(note: SessionNote, steps, form_class):
    """The form filled from the saved draft, with a check-in row for each open step."""
    form = form_class(data={"session_date": note.session_date, "version": note.version,
                            **{k: v for k, v in (note.content or {}).items() if k != "intentions"}})
    if note.kind == "preparation":
        form.intentions.data = "\n".join(note.content.get("intentions", []))
        return form
    form.dosing_sessions.data = [link.dosing_session_id for link in note.dosing_links]
    for entry, row in zip(form.themes.entries, note.themes):
        entry.form.process(None, data={"theme": row.theme_id or 0, "free_theme": row.free_theme,
                                       "patient_words": row.patient_words})
    for entry, step in zip(form.new_steps.entries, note.new_steps):
        entry.form.process(None, obj=step)
    for entry, technique in zip(form.techniques.entries, note.content.get("techniques", [])):
        entry.form.process(None, data=technique)
    saved = {c.action_step_id: c for c in note.check_ins}
    for step in steps:
        form.check_ins.append_entry()
        entry = form.check_ins.entries[-1].form
        entry.process(None, obj=saved.get(step.id))
        entry.step_id.data = str(step.id)
    return form


def _set_integration_choices(form, note: SessionNote) -> None:
    """The themes and the course's signed dosing sessions an integration note may name."""
    choices = _theme_choices(keep={t.theme_id for t in note.themes if t.theme_id})
    for entry in form.themes.entries:
        entry.form.theme.choices = choices
    form.dosing_sessions.choices = options(
        (s.id, f"Dosing session {s.sequence}") for s in db.session.scalars(
            select(DosingSession).where(DosingSession.course_id == note.course_id,
                                        DosingSession.status == DOSING_SIGNED).order_by(DosingSession.sequence)))


def _clean(value):
    if isinstance(value, str):
        return value.strip() or None
    return value


def _submitted(note: SessionNote, form) -> dict:
    """Service arguments from a submitted note form."""
    content = {k: _clean(getattr(form, k).data) for k in FIELDS[note.kind]}
    args = {"content": content, "themes": [], "new_steps": [], "check_ins": [], "dosing_ids": []}
    if note.kind == "preparation":
        content["intentions"] = [line.strip() for line in (form.intentions.data or "").splitlines() if line.strip()]
        return args
    content["techniques"] = _submitted_techniques(form)
    args["themes"] = _submitted_themes(form)
    args["new_steps"] = _submitted_new_steps(form)
    args["check_ins"] = _submitted_check_ins(form)
    args["dosing_ids"] = list(form.dosing_sessions.data or [])
    return args


def _submitted_techniques(form) -> list[dict]:
    return [{"technique": t["technique"].strip(), "rationale": (t["rationale"] or "").strip()}
            for t in form.techniques.data if (t["technique"] or "").strip()]


def _submitted_themes(form) -> list[dict]:
    """Theme rows with anything in them, each with its form row number for messages."""
    return [{"row": i, "theme_id": r["theme"] or None, "free_theme": _clean(r["free_theme"]),
             "patient_words": _clean(r["patient_words"])}
            for i, r in enumerate(form.themes.data)
            if r["theme"] or _clean(r["free_theme"]) or _clean(r["patient_words"])]


def _submitted_new_steps(form) -> list[dict]:
    """New action-step rows with anything in them, each with its form row number."""
    return [{"row": i, "what": _clean(r["what"]), "how_often": _clean(r["how_often"]),
             "starts_on": r["starts_on"], "review_on": r["review_on"],
             "linked_insight": _clean(r["linked_insight"])}
            for i, r in enumerate(form.new_steps.data)
            if any(_clean(r[k]) for k in ("what", "how_often", "linked_insight"))
            or r["starts_on"] or r["review_on"]]


def _submitted_check_ins(form) -> list[dict]:
    """Check-in rows with anything in them, each with its form row number."""
    return [{"row": i, "step_id": whole_number(r["step_id"]), "progress": r["progress"] or None,
             "obstacles": _clean(r["obstacles"]), "decision": r["decision"] or None,
             "adjustment": _clean(r["adjustment"])}
            for i, r in enumerate(form.check_ins.data)
            if r["progress"] or r["decision"] or _clean(r["obstacles"]) or _clean(r["adjustment"])]


@bp.route("/notes/<id:note_id>", methods=["GET", "POST"])
@access.permission("notes.read")
def note_edit(note_id: int):
    note = _note(note_id)
    mine = note.author_id == current_user.id
    if note.signed or not mine:
        if request.method == "POST":
            audit.record("note.update", obj=note, patient_id=note.patient_id, outcome=audit.DENIED,
                         detail="signed" if note.signed else "not the author")
            flash("This note is signed and locked; add an addendum instead." if note.signed
                  else "Only the note's author can change a draft.", "error")
            return redirect(url_for("notes.note_edit", note_id=note.id)), 303
        return _note_view(note)
    steps = services.open_steps(note.course_id, before=note)
    recovered = recovery.pending(current_user.id, request.path) if request.method == "GET" else None
    form = _note_form(note, steps, recovered)
    if request.method == "GET":
        audit.record("note.view", obj=note, patient_id=note.patient_id)
    else:
        done, alert = submit(form, lambda: services.save_note(
            note, by=current_user, expected_version=form_version(form), today=clinic_today(),
            session_date=form.session_date.data, **_submitted(note, form)))
        if done:
            recovery.mark_recovered(current_user.id, request.path)
            audit.record("note.update", obj=note, patient_id=note.patient_id,
                         detail=f"safety alert {alert.id} raised" if alert else None)
            flash("Draft saved. Sign it when it is complete.", "success")
            if alert:
                flash(f"Safety alert: {alert.finding}. It stays open for the care team until a clinician "
                      "acknowledges it with what was done.", "error")
            return redirect(url_for("notes.note_edit", note_id=note.id))
        audit.record("note.update", obj=note, patient_id=note.patient_id, outcome=audit.FAILURE, detail="not saved")
    return render_form("notes/edit.html", form, note=note, steps={s.id: s for s in steps}, recovered=recovered)


def _note_view(note: SessionNote):
    audit.record("note.view", obj=note, patient_id=note.patient_id)
    steps = {s.id: s for s in note.new_steps}
    mine = note.author_id == current_user.id
    kept = recovery.pending(current_user.id, request.path) if mine and note.signed else None
    return render_template("notes/view.html", note=note, steps=steps, mine=mine, kept=kept,
                           kept_text=recovery.readable(kept) if kept else "",
                           dosing={d.id: d for d in db.session.scalars(select(DosingSession).where(
                               DosingSession.course_id == note.course_id))},
                           addendum_form=NoteAddendumForm(),
                           has_process=mine and services.has_process_note(note, current_user))


@bp.route("/notes/<id:note_id>/sign", methods=["POST"])
@access.permission("notes.write")
def note_sign(note_id: int):
    note = _note(note_id)
    try:
        with db.session.begin_nested():  # a refusal after the flush leaves nothing signed
            services.sign_note(note, by=current_user, expected_version=form_version(request.form),
                               today=clinic_today())
    except DomainError as err:
        audit.record("note.sign", obj=note, patient_id=note.patient_id, outcome=audit.FAILURE, detail="refused")
        flash(str(err), "error")
        return redirect(url_for("notes.note_edit", note_id=note.id))
    audit.record("note.sign", obj=note, patient_id=note.patient_id)
    flash("Signed and locked. Corrections are addenda from now on.", "success")
    return redirect(url_for("notes.note_edit", note_id=note.id))


@bp.route("/notes/<id:note_id>/addenda", methods=["POST"])
@access.permission("notes.amend")
def note_addendum(note_id: int):
    note = _note(note_id)
    form = NoteAddendumForm()
    done, _ = submit(form, lambda: services.add_addendum(note, body=form.body.data, by=current_user))
    if done:
        recovery.mark_recovered(current_user.id, url_for("notes.note_edit", note_id=note.id))
    audit.report_submission(done, form, "note.addendum", obj=note, patient_id=note.patient_id,
                      message="Addendum added; the signed note is unchanged.")
    return redirect(url_for("notes.note_edit", note_id=note.id))


@bp.route("/notes/<id:note_id>/process", methods=["GET", "POST"])
@access.permission("notes.process_own")
def process_note(note_id: int):
    """The author's process notes: anyone else gets 404, as if there were none."""
    note = db.session.get(SessionNote, note_id)
    if note is None:
        abort(404)
    if note.author_id != current_user.id:
        audit.denial("process notes are their author's alone", obj=note, patient_id=note.patient_id)
        abort(404)
    if not can_read_clinical(current_user, note.patient):
        # Only while the author still treats the patient: a therapist who has left the care team
        # keeps no access to its psychotherapy notes (HIPAA minimum necessary, 45 CFR 164.502(b)).
        audit.denial("the author is no longer on the patient's care team", obj=note, patient_id=note.patient_id)
        abort(404)
    form = ProcessNoteForm()
    if request.method == "POST":
        done, _ = submit(form, lambda: services.save_process_note(
            note, body=form.body.data, by=current_user,
            expected_version=whole_number(form.version.data)))
        audit.record("process_note.update", obj=note, patient_id=note.patient_id,
                     outcome=audit.SUCCESS if done else audit.FAILURE)
        if done:
            recovery.mark_recovered(current_user.id, request.path)
            flash("Process notes saved (visible to you only).", "success")
            return redirect(url_for("notes.process_note", note_id=note.id))
    else:
        current = services.process_note_of(note, current_user)
        recovered = recovery.pending(current_user.id, request.path)
        form = ProcessNoteForm(formdata=recovery.as_formdata(recovered)) if recovered else ProcessNoteForm(
            body=current.body if current else "", version=current.version if current else "")
        audit.record("process_note.read", obj=note, patient_id=note.patient_id)
        return render_form("notes/process.html", form, note=note, recovered=recovered)
    return render_form("notes/process.html", form, note=note, recovered=None)


# -- case formulation ----------------------------------------------------------------------

@bp.route("/courses/<id:course_id>/formulation", methods=["GET", "POST"])
@access.permission("notes.read")
def formulation(course_id: int):
    course = _course(course_id)
    history = db.session.scalars(select(CaseFormulation).where(
        CaseFormulation.course_id == course.id).order_by(CaseFormulation.revision.desc())).all()
    current = history[0] if history else None
    if request.method == "POST":
        form = FormulationForm()
        if not current_user.can("notes.write"):
            audit.denial("the case formulation is written by therapists", obj=course, patient_id=course.patient_id)
            abort(403)
        done, saved = submit(form, lambda: services.save_formulation(
            course, content={k: getattr(form, k).data for k in FORMULATION_SECTIONS}, by=current_user,
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
        audit.record("formulation.view", obj=course, patient_id=course.patient_id)
    return render_form("notes/formulation.html", form, course=course, history=history,
                       sections=FORMULATION_SECTIONS, recovered=recovered)


# -- measures ------------------------------------------------------------------------------

@bp.route("/courses/<id:course_id>/measures", methods=["GET"])
@access.permission("notes.read")
def measures(course_id: int):
    course = _course(course_id)
    audit.record("measure.view", obj=course, patient_id=course.patient_id)
    return _measures_page(course)


def _measures_page(course, forms=None, status=200):
    responses, first_dose = baselines.course_measures(course.id), baselines.first_dose_of(course.id)
    trends = {key: baselines.trend(responses, key, first_dose) for key in MEASURES}
    forms = forms or {key: measure_form_class(key)(administered_on=clinic_today(), prefix=key) for key in MEASURES}
    history = safety.safety_history(course.patient_id)
    return render_template("notes/measures.html", course=course, measures=MEASURES, responses=responses,
                           trends=trends, first_dose=first_dose, late_entry=baselines.LATE_ENTRY,
                           baselines={k: baselines.baseline_of(responses, k, first_dose) for k in MEASURES},
                           charts={k: charts.trend_chart(MEASURES[k], [(row.response, row.change) for row in v])
                                   for k, v in trends.items() if MEASURES[k].charted},
                           forms=forms, void_form=VoidMeasureForm(), safety_history=history,
                           alerts=[a for a in reversed(history) if a.open], ack_form=AcknowledgeForm()), status


@bp.route("/courses/<id:course_id>/measures/<measure>", methods=["POST"])
@access.permission("measures.record")
def measure_record(course_id: int, measure: str):
    course = _course(course_id)
    if measure not in MEASURES:
        abort(404)
    form = measure_form_class(measure)(prefix=measure)
    count = len(MEASURES[measure].items)
    done, response = submit(form, lambda: services.record_measure(
        course, measure=measure, answers=[_answer(getattr(form, f"item{n}").data) for n in range(1, count + 1)],
        difficulty=getattr(form, "difficulty", None) and form.difficulty.data, administered_on=form.administered_on.data,
        by=current_user, today=clinic_today()))
    if done:
        audit.record("measure.create", obj=response, patient_id=course.patient_id, detail=measure)
        entry = MEASURES[measure]
        result = f"{response.total} ({response.band})" if entry.charted else response.band  # a screener: its level
        flash(f"{entry.name} recorded: {result}.", "success")
        alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.measure_response_id == response.id))
        if alert is not None:
            flash(f"Safety alert: {alert.finding}. Assess risk now and acknowledge the alert with what was done.",
                  "error")
        return redirect(url_for("notes.measures", course_id=course.id))
    audit.record("measure.create", obj=course, patient_id=course.patient_id, outcome=audit.FAILURE, detail=measure)
    forms = {key: measure_form_class(key)(administered_on=clinic_today(), prefix=key) for key in MEASURES}
    forms[measure] = form
    return _measures_page(course, forms=forms, status=422)


def _answer(value: str | None) -> int | None:
    """An item's answer; None for an item left empty (one asked only after another's answer)."""
    return None if value in (None, "", "None") else int(value)


@bp.route("/measures/<id:response_id>/void", methods=["POST"])
@access.permission("measures.record")
def measure_void(response_id: int):
    response = load_patient_record(MeasureResponse, response_id, clinical=True)
    form = VoidMeasureForm()
    done, _ = submit(form, lambda: services.void_measure(response, reason=form.reason.data, by=current_user))
    audit.report_submission(done, form, "measure.void", obj=response, patient_id=response.patient_id,
                      message="Entry voided; it stays on the record, marked.")
    return redirect(url_for("notes.measures", course_id=response.course_id))


@bp.route("/alerts/<id:alert_id>/acknowledge", methods=["POST"])
@access.permission("measures.record")
def alert_acknowledge(alert_id: int):
    alert = load_patient_record(SafetyAlert, alert_id, clinical=True)
    form = AcknowledgeForm()
    done, _ = submit(form, lambda: services.acknowledge_alert(alert, note=form.note.data, by=current_user,
                                                              now=utcnow()))
    audit.report_submission(done, form, "alert.acknowledge", obj=alert, patient_id=alert.patient_id,
                      message="Safety alert acknowledged.")
    return redirect(request.form.get("next_page") == "home" and url_for("home.home")
                    or url_for("notes.measures", course_id=alert.course_id))


# -- views across sessions --------------------------------------------------------------------

@bp.route("/patients/<id:patient_id>/themes")
@access.permission("notes.read")
def patient_themes(patient_id: int):
    patient = load_patient(patient_id)
    if not can_read_clinical(current_user, patient):
        audit.denial("clinical content is for the care team", obj=patient, patient_id=patient.id)
        abort(403)
    audit.record("note.themes", obj=patient, patient_id=patient.id)
    return render_template("notes/themes.html", patient=patient, rows=views_data.theme_recurrence(patient.id))


@bp.route("/courses/<id:course_id>/action-steps")
@access.permission("notes.read")
def action_steps(course_id: int):
    course = _course(course_id)
    audit.record("note.action_steps", obj=course, patient_id=course.patient_id)
    return render_template("notes/action_steps.html", course=course, steps=views_data.step_tracker(course.id))


# -- the theme vocabulary ---------------------------------------------------------------------

@bp.route("/themes/", methods=["GET", "POST"])
@access.permission("clinic.configure")
def theme_vocabulary():
    form = ThemeForm()
    done, theme = submit(form, lambda: views_data.add_theme(form.name.data))
    if done:
        flash(f"Added the theme “{theme.name}”.", "success")
        return redirect(url_for("notes.theme_vocabulary"))
    themes = db.session.scalars(select(Theme).order_by(Theme.active.desc(), Theme.name)).all()
    return render_template("notes/vocabulary.html", themes=themes, form=form), 422 if form.errors else 200


@bp.route("/themes/<id:theme_id>/toggle", methods=["POST"])
@access.permission("clinic.configure")
def theme_toggle(theme_id: int):
    theme = db.get_or_404(Theme, theme_id)
    theme.active = not theme.active  # never deleted: signed notes name it
    flash(f"“{theme.name}” is now {'offered' if theme.active else 'retired'}.", "success")
    return redirect(url_for("notes.theme_vocabulary"))
