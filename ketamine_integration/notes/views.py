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
from ..experience.models import DosingSession
from ..extensions import db
from ..patients.access import can_read_clinical, load_patient, load_patient_record
from ..practices.vocabulary import practice_words
from ..db.clinic_time import clinic_today
from ..web.forms import form_version, parse_id, render_form, save_then_sign, submit, whole_number
from . import (baselines, charts, dosing_links, dosing_notes, drafts, formulation_views, note_form, note_panels,
               patient_check_ins, plan_in_note, questionnaires, quoting, recovery, safety, services, technique_views,
               views_data)
from .forms import (LOCK_NOT_CONFIRMED, AcknowledgeForm, DiscardNoteForm, NewNoteForm, NoteAddendumForm,
                    ProcessNoteForm, StartDosingNoteForm, ThemeForm, VOCABULARY, VoidMeasureForm,
                    measure_form_class)
from .models import INTEGRATION, PATIENT_COMPLETED, MeasureResponse, SafetyAlert, SessionNote, Theme

bp = Blueprint("notes", __name__)
formulation_views.routes.add_to(bp)
technique_views.routes.add_to(bp)


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


@bp.route("/notes/<id:note_id>", methods=["GET", "POST"])
@access.permission("notes.read")
def note_edit(note_id: int):
    """The note: its author's draft form (with "Save draft" and "Sign and lock"), else the note as it stands."""
    note = _note(note_id)
    if note.signed or note.discarded or note.author_id != current_user.id:
        if request.method == "POST":
            why = "signed" if note.signed else "discarded" if note.discarded else "not the author"
            audit.record("note.update", obj=note, patient_id=note.patient_id, outcome=audit.DENIED, detail=why)
            flash({"signed": "This note is signed and locked; add an addendum instead.",
                   "discarded": services.DISCARDED}.get(why, "Only the note's author can change a draft."), "error")
            return redirect(url_for("notes.note_edit", note_id=note.id)), 303
        return _note_view(note)
    steps = services.open_steps(note.course_id, before=note)
    recovered = recovery.pending(current_user.id, request.path) if request.method == "GET" else None
    formulation = services.current_formulation(note.course_id) if note.kind == INTEGRATION else None
    form = note_form.note_form(note, steps, recovered, formulation)
    if request.method == "GET":
        journal = quoting.journal_panel(note, current_user)
        audit.record("note.view", obj=note, patient_id=note.patient_id,
                     detail=f"{len(journal)} shared journal entries shown" if journal else None)
        return _edit_page(note, form, steps, recovered, formulation=formulation, journal=journal)
    if quoting.quoting():
        return _quote(note, form, steps, formulation)
    return _save_note(note, form, steps, signing=bool(request.form.get("then_sign")), formulation=formulation)


def _quote(note: SessionNote, form, steps, formulation):
    """"Quote into the experience review" without JavaScript: the draft saved as submitted, with the
    shared journal entry quoted into the field chosen; refused (nothing saved), the form as typed."""
    try:
        entry_id = quoting.insert_quote(note, form, current_user)
    except DomainError as refusal:
        refusal.apply_to(form)
        audit.record("note.update", obj=note, patient_id=note.patient_id, outcome=audit.FAILURE,
                     detail="journal quote refused")
        return _edit_page(note, form, steps, status=422, formulation=formulation)
    return _save_note(note, form, steps, signing=False, formulation=formulation, quoted=entry_id)


_READ_HERE = object()


def _edit_page(note: SessionNote, form, steps, recovered=None, status: int | None = None, formulation=None,
               just_saved: bool = False, journal=_READ_HERE):
    """The draft's form; `formulation`: the case formulation a new integration note's approach came from;
    `just_saved`: the submission was saved though not signed (the action bar says so); `journal`: the
    shared journal entries beside the experience review, when the caller read them already."""
    context = dict(note=note, steps={s.id: s for s in steps}, recovered=recovered, formulation=formulation,
                   just_saved=just_saved,
                   journal=quoting.journal_panel(note, current_user) if journal is _READ_HERE else journal,
                   presence=dosing_notes.presence_line(note),
                   carried=bool(note_form.carried_defaults(note, formulation)),
                   discard_form=DiscardNoteForm(prefix="discard", version=note.version))
    if note.kind == INTEGRATION:  # the patient's practices, check-ins and open alerts, read-only
        context.update(note_panels.integration_panels(note))
    if status is None:
        return render_form("notes/edit.html", form, **context)
    return render_template("notes/edit.html", form=form, **context), status


def _save_note(note: SessionNote, form, steps, *, signing: bool, formulation=None, quoted: int | None = None):
    """Save the draft as submitted, and sign it too when "Sign and lock" was pressed: one
    request, so signing never drops what was typed since the last save. A refused save keeps
    nothing and shows, with its own reasons, what signing would refuse; a refused signature
    keeps the valid save (the text is on the record, not only in the browser) and shows why
    it is not signed, each reason next to its field."""
    args = note_form.submitted(note, form)
    outcome = save_then_sign(form, lambda: services.save_note(
        note, by=current_user, expected_version=form_version(form), today=clinic_today(), **args),
        (lambda: _sign(note, form)) if signing else None)
    if not outcome.saved:
        if signing:
            DomainError(_sign_needs(note.kind, args["content"], form)).apply_to(form)
            form.form_errors = list(form.form_errors) + ["Nothing was saved or signed: correct the fields "
                                                         "marked below."]
        audit.record("note.sign" if signing else "note.update", obj=note, patient_id=note.patient_id,
                     outcome=audit.FAILURE, detail="not saved")
        return _edit_page(note, form, steps, formulation=formulation)
    _saved(note, outcome, f"journal entry {quoted} quoted" if quoted else None)
    if quoted:
        flash("Quoted the patient's journal entry into the experience review, and saved the draft.", "success")
    elif outcome.signed:
        flash("Signed and locked. Corrections are addenda from now on.", "success")
    elif signing:
        audit.record("note.sign", obj=note, patient_id=note.patient_id, outcome=audit.FAILURE, detail="refused")
        form.version.data = note.version  # the draft just saved is the one to sign next
        form.form_errors = list(form.form_errors) + ["Draft saved, not signed: complete the fields marked below, "
                                                     "then sign again."]
        return _edit_page(note, form, steps, status=200, formulation=formulation,  # 200: the save is committed
                          just_saved=True)
    else:
        flash("Draft saved. Sign it when it is complete.", "success")
    return redirect(url_for("notes.note_edit", note_id=note.id) + ("#note-experience" if quoted else ""))


def _saved(note: SessionNote, outcome, quoted: str | None = None) -> None:
    """After a valid save (signed or not): text kept from a timed-out session is cleared unless a
    signature from another window would lose it; one audit row (a signature includes the save
    it was made with); the safety alert its risk screen raised, if any."""
    if not (outcome.signed and recovery.holds_more_than(recovery.pending(current_user.id, request.path),
                                                         request.form)):
        recovery.mark_recovered(current_user.id, request.path)
    alert = outcome.result
    detail = "; ".join(filter(None, ["saved and signed" if outcome.signed else None, quoted,
                                     plan_in_note.stage_moved(note) if outcome.signed else None,
                                     dosing_links.exceptions_kept(note.dosing_links),
                                     f"safety alert {alert.id} raised" if alert else None])) or None
    audit.record("note.sign" if outcome.signed else "note.update", obj=note, patient_id=note.patient_id,
                 detail=detail)
    if alert:
        flash(f"Safety alert: {alert.finding}. It stays open for the care team until a clinician "
              "acknowledges it with what was done.", "error")


def _sign_needs(kind: str, content: dict, form) -> dict[str, str]:
    """What signing needs of this content, and the signer's confirmation that it locks the note."""
    needs = services.signature_problems(kind, content)
    if not form.confirm_lock.data:
        needs["confirm_lock"] = LOCK_NOT_CONFIRMED
    return needs


def _sign(note: SessionNote, form) -> None:
    """Sign the draft just saved, if complete and the signer confirmed it will be locked."""
    needs = _sign_needs(note.kind, note.content, form)
    if needs:
        raise DomainError(needs)
    services.sign_note(note, by=current_user, expected_version=note.version, now=utcnow())


def _note_view(note: SessionNote):
    audit.record("note.view", obj=note, patient_id=note.patient_id)
    steps = {s.id: s for s in note.new_steps}
    mine = note.author_id == current_user.id
    kept = recovery.pending(current_user.id, request.path) if mine and note.signed else None
    return render_template("notes/view.html", note=note, steps=steps, mine=mine, kept=kept,
                           kept_text=recovery.readable(kept) if kept else "",
                           dosing={d.id: d for d in db.session.scalars(select(DosingSession).where(
                               DosingSession.course_id == note.course_id))},
                           addendum_form=NoteAddendumForm(), presence=dosing_notes.presence_line(note),
                           words={**VOCABULARY, "practices": practice_words()},
                           has_process=mine and not note.discarded and services.has_process_note(note, current_user),
                           **note_panels.plan_panel(note))


@bp.route("/dosing/<id:dosing_id>/note", methods=["POST"])
@access.permission("notes.write")
def dosing_note_start(dosing_id: int):
    """A therapist present at the dose starts its dosing-session note, from the dosing record."""
    session = load_patient_record(DosingSession, dosing_id, clinical=True)
    form = StartDosingNoteForm()
    done, note = submit(form, lambda: dosing_notes.start_dosing_note(session, by=current_user, now=utcnow()))
    if done:
        audit.record("note.create", obj=note, patient_id=note.patient_id, detail=f"dosing session {session.sequence}")
        return redirect(url_for("notes.note_edit", note_id=note.id))
    audit.report_submission(False, form, "note.create", obj=session, patient_id=session.patient.id, message="",
                            detail="dosing-session note")
    return redirect(url_for("experience.dosing_record", dosing_id=session.id) + "#dosing-note")


@bp.route("/notes/<id:note_id>/discard", methods=["POST"])
@access.permission("notes.write")
def note_discard(note_id: int):
    """The author gives up a draft: its text is cleared for good, the note stays marked discarded."""
    note = _note(note_id)
    form = DiscardNoteForm(prefix="discard")
    done, _ = submit(form, lambda: drafts.discard_note(note, by=current_user, expected_version=form_version(form),
                                                       now=utcnow()))
    audit.report_submission(done, form, "note.discard", obj=note, patient_id=note.patient_id,
                            message="Draft discarded; its text was not kept.")
    if done:
        recovery.mark_recovered(current_user.id, url_for("notes.note_edit", note_id=note.id))
        recovery.mark_recovered(current_user.id, url_for("notes.process_note", note_id=note.id))
        return redirect(url_for("courses.course_detail", course_id=note.course_id) + "#notes")
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
    if note.discarded:
        audit.denial("the draft was discarded with its process notes", obj=note, patient_id=note.patient_id)
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
                           charts={k: charts.trend_charts(MEASURES[k], [(row.response, row.change) for row in v])
                                   for k, v in trends.items() if MEASURES[k].charted},
                           forms=forms, void_form=VoidMeasureForm(), safety_history=history,
                           alerts=[a for a in reversed(history) if a.open], ack_form=AcknowledgeForm(),
                           questionnaires=questionnaires.course_questionnaires(course, utcnow()),
                           patient_completed=PATIENT_COMPLETED), status


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
        flash(f"{entry.name} recorded: {entry.reading(response.total, response.band)}.", "success")
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
    back = parse_id(request.form.get("from_note")) if done else None  # the draft whose risk screen showed it
    return redirect(request.form.get("next_page") == "home" and url_for("home.home")
                    or back and url_for("notes.note_edit", note_id=back) + "#note-risk"
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
    steps = views_data.step_tracker(course.id)
    return render_template("notes/action_steps.html", course=course, steps=steps,
                           patient_words=patient_check_ins.check_ins_by_step(s.id for s, _ in steps))


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
