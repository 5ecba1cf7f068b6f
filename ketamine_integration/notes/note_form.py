"""The session-note form of the note pages: filled from a draft (or kept text; a new integration
note from the case formulation's approach), the choices it offers (themes; the dosing sessions
whose windows include the session date, and the others as exceptions), and the service arguments
a submitted one stands for."""
from __future__ import annotations

from datetime import date

from flask import request
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..plans.models import TreatmentPlan
from ..practices.vocabulary import practice_choices
from ..protocols.techniques import current_vocabulary
from ..web.fields import number_controls, options
from ..web.forms import whole_number
from . import dosing_links, dosing_notes, plan_in_note, recovery, technique_uses
from .forms import CARRIED, FIELDS, FORMS, FROM_THE_PLAN
from .models import DOSING, INTEGRATION, PREPARATION, CaseFormulation, SessionNote, Theme


def theme_choices(keep=()):
    """Active themes, and any retired one the draft already uses (so saving keeps it)."""
    themes = db.session.scalars(select(Theme).where(Theme.active.is_(True) | Theme.id.in_(list(keep)))
                                .order_by(Theme.name)).all()
    return options([(0, "—")] + [(t.id, t.name if t.active else f"{t.name} (retired)") for t in themes])


def note_form(note: SessionNote, steps, recovered=None, formulation: CaseFormulation | None = None):
    """The draft's form: submitted data on POST, text kept from a timed-out session, else the draft
    (a draft never saved starts from `formulation`'s approach)."""
    form_class = FORMS[note.kind]
    # the plan the note follows, read once for the progress rows and the objectives a new step may serve
    plan = plan_in_note.followed_plan(note)
    if request.method == "POST":
        form = form_class()
    elif recovered is not None:
        form = form_class(formdata=recovery.as_formdata(recovered))
        form.confirm_lock.data = False  # confirming the lock is asked again, not carried over
    else:
        form = _draft_form(note, steps, form_class, formulation, plan)
    if note.kind == INTEGRATION:
        _set_integration_choices(form, note, plan)
        number_controls(form.objective_progress, "Objective")  # "Objective 2: progress on this objective"
    return form


def carried_defaults(note: SessionNote, formulation: CaseFormulation | None) -> dict:
    """What a new integration note starts from: the stable choices of the course's case formulation
    (host theory, assimilated techniques, self-guided practices), so they are not typed again on
    every note (issue 20, point 10). Only before the draft's first save: from then on the note
    holds what its author kept or changed, and the formulation stays the place to change them."""
    if note.kind != INTEGRATION or note.content or formulation is None:
        return {}
    return {key: formulation.content[key] for key in CARRIED if formulation.content.get(key)}


def _draft_form(note: SessionNote, steps, form_class, formulation: CaseFormulation | None,
                plan: TreatmentPlan | None):
    """The form filled from the saved draft, with a check-in row for each open step."""
    content = {**carried_defaults(note, formulation), **(note.content or {})}
    form = form_class(data={"session_date": note.session_date, "version": note.version,
                            **{k: v for k, v in content.items() if k not in ("intentions", "techniques")}})
    if note.kind == PREPARATION:
        form.intentions.data = "\n".join(content.get("intentions", []))
        return form
    if note.kind == DOSING:
        return form
    _fill_dosing_links(form, note)
    for entry, row in zip(form.themes.entries, note.themes):
        entry.form.process(None, data={"theme": row.theme_id or 0, "free_theme": row.free_theme,
                                       "patient_words": row.patient_words})
    for entry, step in zip(form.new_steps.entries, note.new_steps):
        entry.form.process(None, obj=step)
        entry.form.objective.data = step.objective_lineage_id or ""
    _fill_techniques(form, note, content)
    _fill_progress(form, note, plan)
    saved = {c.action_step_id: c for c in note.check_ins}
    for step in steps:
        form.check_ins.append_entry()
        entry = form.check_ins.entries[-1].form
        entry.process(None, obj=saved.get(step.id))
        entry.step_id.data = str(step.id)
    return form


def _fill_techniques(form, note: SessionNote, content: dict) -> None:
    """The techniques saved on the draft (a new one: the formulation's, where a free-text row names a
    technique of the vocabulary), and a response row for each technique the previous signed note used."""
    if note.techniques:
        rows = [{"technique": t.technique_key, "rationale": t.rationale} for t in note.techniques]
    else:
        rows = _from_formulation(content.get("techniques") if not note.content else None)
    for entry, row in zip(form.techniques.entries, rows):
        entry.form.process(None, data=row)
    saved = {r.note_technique_id: r for r in note.technique_responses}
    for use in technique_uses.previous_uses(note, note.session_date):
        form.technique_responses.append_entry()
        entry = form.technique_responses.entries[-1].form
        entry.process(None, obj=saved.get(use.id))
        entry.use_id.data = str(use.id)


def _fill_progress(form, note: SessionNote, plan: TreatmentPlan | None) -> None:
    """A progress row for each objective of `plan` (the one the note follows), with what the draft saved."""
    saved = {p.lineage_id: p for p in note.objective_progress}
    for objective in plan.objectives if plan is not None else []:
        form.objective_progress.append_entry()
        entry = form.objective_progress.entries[-1].form
        entry.process(None, obj=saved.get(objective.lineage_id))
        entry.lineage.data = objective.lineage_id


def _set_objective_choices(form, plan: TreatmentPlan | None) -> None:
    """The objectives a new step may serve: `plan`'s (the one the note follows), by goal and target
    (none without a plan)."""
    choices = [("", "—")] + [(o.lineage_id, f"{o.position}. {o.target}"[:120])
                             for o in (plan.objectives if plan is not None else [])]
    for entry in form.new_steps.entries:
        entry.form.objective.choices = options(choices)


def _from_formulation(carried) -> list[dict]:
    """The formulation's free-text techniques (issue 20, point 10) that name a technique of the
    vocabulary, by its name or key; the others are the formulation's own words, not chosen for the note."""
    vocabulary = current_vocabulary()
    by_word = {w.casefold(): t.key for t in vocabulary.techniques for w in (t.name, t.key)}
    rows = []
    for row in carried or []:
        key = by_word.get((row.get("technique") or "").strip().casefold())
        if key:
            rows.append({"technique": key, "rationale": row.get("rationale") or ""})
    return rows


def _fill_dosing_links(form, note: SessionNote) -> None:
    """The saved links: inside their windows, and the exceptions with their (one) reason."""
    excepted = [link for link in note.dosing_links if link.exception_reason]
    form.dosing_sessions.data = [link.dosing_session_id for link in note.dosing_links if not link.exception_reason]
    form.dosing_exceptions.data = [link.dosing_session_id for link in excepted]
    form.dosing_exception_reason.data = excepted[0].exception_reason if excepted else None


def _set_integration_choices(form, note: SessionNote, plan: TreatmentPlan | None) -> None:
    """The themes, and the course's signed dosing sessions: those whose window includes the
    session date (as typed, when a submitted date is valid) to serve, the others as exceptions.
    A session already chosen stays offered in its list, so a changed date shows it with its
    problem instead of silently dropping it."""
    choices = theme_choices(keep={t.theme_id for t in note.themes if t.theme_id})
    _set_practice_choices(form, note)
    _set_technique_choices(form, note)
    _set_objective_choices(form, plan)
    for entry in form.themes.entries:
        entry.form.theme.choices = choices
    day = form.session_date.data if isinstance(form.session_date.data, date) else note.session_date
    dosing = dosing_links.dosing_choices(note.course, day)
    served, excepted = set(form.dosing_sessions.data or []), set(form.dosing_exceptions.data or [])
    form.dosing_sessions.choices = options((c.session_id, c.label) for c in dosing
                                           if c.includes or c.session_id in served)
    form.dosing_exceptions.choices = options((c.session_id, c.label) for c in dosing
                                             if not c.includes or c.session_id in excepted)
    if not form.dosing_sessions.choices:  # an empty box says why, and where to go instead
        form.dosing_sessions.description = _none_to_serve(day, signed=bool(dosing))


def _set_practice_choices(form, note: SessionNote) -> None:
    """The clinic's practices; one archived since the draft (or the formulation) ticked it stays offered."""
    ticked = set((note.content or {}).get("practices") or [])
    if request.method != "POST":
        ticked |= set(form.practices.data or [])
    form.practices.choices = options(practice_choices(keep=ticked))


#: the optgroup of a technique the draft saved that the vocabulary has since dropped (kept, with its name of then)
NO_LONGER_LISTED = "No longer in the vocabulary"


def _set_technique_choices(form, note: SessionNote) -> None:
    """The vocabulary's techniques grouped by cluster (<optgroup>), and any the draft saved that it dropped."""
    vocabulary = current_vocabulary()
    choices = [SelectChoice("", "—")] + [SelectChoice(key, name, optgroup=cluster)
                                         for cluster, pairs in vocabulary.grouped_choices() for key, name in pairs]
    choices += [SelectChoice(t.technique_key, t.technique_name, optgroup=NO_LONGER_LISTED)
                for t in note.techniques if vocabulary.get(t.technique_key) is None]
    for entry in form.techniques.entries:
        entry.form.technique.choices = choices


def _none_to_serve(day: date, *, signed: bool) -> str:
    """Why no window is offered to serve (the field's list shows these words in its place)."""
    if not signed:
        return ("None to choose: none of this course's dosing sessions is signed yet; a dose's window is "
                "offered here once its record is signed.")
    return (f"None to choose: no signed dosing session of this course has a window that includes {day.isoformat()}. "
            "One whose window does not include it can be served as an exception, below.")


def _clean(value):
    if isinstance(value, str):
        return value.strip() or None
    return value


def submitted(note: SessionNote, form) -> dict:
    """Service arguments from a submitted note form (a dosing-session note is dated the day of its
    dose, never typed)."""
    content = {k: _clean(getattr(form, k).data) for k in FIELDS[note.kind]}
    session_date = dosing_notes.dose_day(note.dosing_session) if note.kind == DOSING else form.session_date.data
    args = {"session_date": session_date, "content": content, "themes": [], "new_steps": [], "check_ins": [],
            "dosing_ids": []}
    if note.kind == PREPARATION:
        content["intentions"] = [line.strip() for line in (form.intentions.data or "").splitlines() if line.strip()]
        return args
    if note.kind == DOSING:
        return args
    content.update(_kept_from_before(note))
    args["objective_progress"] = _submitted_progress(form)
    args["techniques"] = _submitted_techniques(form)
    args["technique_responses"] = _submitted_responses(form)
    args["themes"] = _submitted_themes(form)
    args["new_steps"] = _submitted_new_steps(form)
    args["check_ins"] = _submitted_check_ins(form)
    args["dosing_ids"] = list(form.dosing_sessions.data or [])
    args["dosing_exceptions"] = list(form.dosing_exceptions.data or [])
    args["exception_reason"] = _clean(form.dosing_exception_reason.data)
    return args


#: what a draft begun before the vocabulary (its free-text techniques) or before plans (its typed host
#: theory) keeps of its own words: the form no longer asks for them
KEPT_FROM_BEFORE = ("techniques", *FROM_THE_PLAN)


def _kept_from_before(note: SessionNote) -> dict:
    saved = note.content or {}
    return {key: saved[key] for key in KEPT_FROM_BEFORE if saved.get(key)}


def _submitted_techniques(form) -> list[dict]:
    """Technique rows with anything in them, each with its form row number (a rationale without a
    technique, or a technique without one, is refused on its row: notes.technique_uses)."""
    return [{"row": i, "technique": (r["technique"] or "").strip(), "rationale": _clean(r["rationale"])}
            for i, r in enumerate(form.techniques.data) if (r["technique"] or "").strip() or _clean(r["rationale"])]


def _submitted_responses(form) -> list[dict]:
    """Response rows with anything in them, each with its form row number."""
    return [{"row": i, "use_id": whole_number(r["use_id"]), "response": r["response"] or None,
             "comment": _clean(r["comment"])}
            for i, r in enumerate(form.technique_responses.data) if r["response"] or _clean(r["comment"])]


def _submitted_progress(form) -> list[dict]:
    """Progress rows with anything in them, each with its form row number."""
    return [{"row": i, "lineage": (r["lineage"] or "").strip(), "progress": r["progress"] or None,
             "comment": _clean(r["comment"])}
            for i, r in enumerate(form.objective_progress.data) if r["progress"] or _clean(r["comment"])]


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
             "linked_insight": _clean(r["linked_insight"]), "success_criterion": _clean(r["success_criterion"]),
             "objective": r["objective"] or None, "mechanism": _clean(r["mechanism"])}
            for i, r in enumerate(form.new_steps.data)
            if any(_clean(r[k]) for k in ("what", "how_often", "linked_insight", "success_criterion", "mechanism"))
            or r["starts_on"] or r["review_on"] or r["objective"]]


def _submitted_check_ins(form) -> list[dict]:
    """Check-in rows with anything in them, each with its form row number."""
    return [{"row": i, "step_id": whole_number(r["step_id"]), "progress": r["progress"] or None,
             "obstacles": _clean(r["obstacles"]), "decision": r["decision"] or None,
             "adjustment": _clean(r["adjustment"])}
            for i, r in enumerate(form.check_ins.data)
            if r["progress"] or r["decision"] or _clean(r["obstacles"]) or _clean(r["adjustment"])]
